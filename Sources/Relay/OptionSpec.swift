/// One configuration option, declared once: the flag that gives it, the environment variable read
/// when the flag is absent, its default and, for a number, its range and unit. The executable
/// builds its `@Option`s from these, ``CommandLineOptions`` resolves them, a
/// ``ConfigurationError`` names them, and a test holds the README's configuration table to them.
public struct OptionSpec: Sendable, Hashable, CustomStringConvertible {
    /// A number's default, bounds and unit.
    public struct Number: Sendable, Hashable {
        public var fallback: Double
        public var range: ClosedRange<Double>
        /// What the number counts, in messages: `seconds`, `calls`.
        public var unit: String
        /// Whether fractions are refused.
        public var whole: Bool
    }

    /// Where a value came from, which decides how an error names the option.
    public enum Source: Sendable, Hashable {
        /// The command line: the error names the flag.
        case commandLine
        /// The environment: the error names the variable.
        case environment
    }

    /// The long flag's name without its dashes (`sweep-after`); nil when only the environment
    /// gives the option.
    public let name: String?
    /// The environment variable read when the flag is absent; nil when the value follows the AWS
    /// SDK conventions instead (the region, the endpoint).
    public let variable: String?
    /// What the value is, as the help shows it (`seconds`, `url`).
    public let valueName: String
    /// What the option is for: the help's sentence, before its variable and default.
    public let summary: String
    /// The default as the help and the README show it; nil when there is none.
    public let defaultText: String?
    /// Whether `serve` refuses to start without it.
    public let isRequired: Bool
    /// For a number: its default, range and unit.
    public let number: Number?

    init(
        _ name: String?, variable: String?, valueName: String, summary: String,
        default defaultText: String? = nil, required: Bool = false, number: Number? = nil
    ) {
        self.name = name
        self.variable = variable
        self.valueName = valueName
        self.summary = summary
        self.isRequired = required
        self.number = number
        self.defaultText = defaultText ?? number.map { $0.fallback.formatted }
    }

    /// A number option: its default, range and unit, and whether fractions are refused.
    init(
        _ name: String?, variable: String, valueName: String, summary: String,
        number fallback: Double, range: ClosedRange<Double>, unit: String, whole: Bool = false
    ) {
        self.init(
            name, variable: variable, valueName: valueName, summary: summary,
            number: Number(fallback: fallback, range: range, unit: unit, whole: whole))
    }

    /// The flag, `--sweep-after`; nil for an option only the environment gives.
    public var flag: String? { name.map { "--\($0)" } }

    /// The help line: the summary, then whether the option is required, its variable and its default.
    public var help: String {
        var notes: [String] = []
        if isRequired { notes.append("required") }
        if let variable { notes.append("env \(variable)") }
        if let defaultText { notes.append("default \(defaultText)") }
        return notes.isEmpty ? "\(summary)." : "\(summary) (\(notes.joined(separator: "; ")))."
    }

    /// The option as an error names it: the flag when the value came from the command line, the
    /// variable when it came from the environment, both when it came from neither.
    public func named(_ source: Source?) -> String {
        switch (source, flag, variable) {
        case (.environment, _, let variable?), (_, nil, let variable?): variable
        case (nil, let flag?, let variable?): "\(flag) (or \(variable))"
        default: flag ?? ""
        }
    }

    public var description: String { named(.commandLine) }
}

/// Every option of the command line and the environment, each declared once. Reached as
/// `OptionSpec.table.sweepAfter` (`.table.sweepAfter` where an ``OptionSpec`` is expected), and
/// as `options.sweepAfter` on ``CommandLineOptions``.
public struct OptionTable: Sendable {
    private static let day = 86_400.0

    public let eventsQueueURL = OptionSpec(
        "events-queue-url", variable: "SAGEMAKER_CALLBACK_EVENTS_QUEUE_URL", valueName: "url",
        summary: "SQS queue of SageMaker job state change events", required: true
    )
    public let requestsQueueURL = OptionSpec(
        "requests-queue-url", variable: "SAGEMAKER_CALLBACK_REQUESTS_QUEUE_URL", valueName: "url",
        summary: "SQS queue of registrations from workflows"
    )
    public let database = OptionSpec(
        "database", variable: "SAGEMAKER_CALLBACK_DATABASE", valueName: "path",
        summary: "SQLite database file, or dynamodb://TABLE", default: defaultDatabasePath
    )
    public let region = OptionSpec(
        "region", variable: nil, valueName: "region",
        summary: "AWS region (else AWS_REGION, AWS_DEFAULT_REGION, the profile's region)"
    )
    public let endpointURL = OptionSpec(
        "endpoint-url", variable: nil, valueName: "url",
        summary: "One endpoint for every AWS service, e.g. an emulator (else AWS_ENDPOINT_URL_SQS/_SFN/_SAGEMAKER/_DYNAMODB, AWS_ENDPOINT_URL)"
    )
    public let logLevel = OptionSpec(
        "log-level", variable: "LOG_LEVEL", valueName: "level",
        summary: "Log level: trace, debug, info, notice, warning, error, critical", default: "info"
    )
    public let heartbeatInterval = OptionSpec(
        "heartbeat-interval", variable: "SAGEMAKER_CALLBACK_HEARTBEAT_INTERVAL", valueName: "seconds",
        summary: "Seconds between heartbeats for registrations with \"Heartbeat\": true",
        number: 60, range: 1...Self.day, unit: "seconds"
    )
    public let sweepAfter = OptionSpec(
        "sweep-after", variable: "SAGEMAKER_CALLBACK_SWEEP_AFTER", valueName: "seconds",
        summary: "Seconds a callback waits without a terminal event before the safety sweep describes its job, and between checks",
        number: 3_600, range: 1...(30 * Self.day), unit: "seconds"
    )
    public let sweepGrace = OptionSpec(
        "sweep-grace", variable: "SAGEMAKER_CALLBACK_SWEEP_GRACE", valueName: "seconds",
        summary: "Seconds a job the sweep cannot find may take to appear before its callbacks fail with SageMaker.JobNotFound",
        number: 600, range: 0...Self.day, unit: "seconds"
    )
    public let sweepRate = OptionSpec(
        "sweep-rate", variable: "SAGEMAKER_CALLBACK_SWEEP_RATE", valueName: "calls",
        summary: "Most Describe calls per second the sweep makes",
        number: 1, range: 0.01...100, unit: "calls per second"
    )
    public let maxInFlight = OptionSpec(
        "max-in-flight", variable: "SAGEMAKER_CALLBACK_MAX_IN_FLIGHT", valueName: "calls",
        summary: "Most Step Functions and SageMaker calls in flight at once",
        number: Double(OutboxDispatcher.defaultMaxInFlight), range: 1...4_096, unit: "calls", whole: true
    )
    public let httpAddress = OptionSpec(
        "http-address", variable: "SAGEMAKER_CALLBACK_HTTP_ADDRESS", valueName: "host:port",
        summary: "Serve /metrics, /health/live and /health/ready on HOST:PORT; port 0 picks a free one, logged",
        default: "off"
    )
    public let logFormat = OptionSpec(
        "log-format", variable: "LOG_FORMAT", valueName: "format",
        summary: "Log lines as text or json, one JSON object per line", default: "text"
    )
    public let receiveWait = OptionSpec(
        nil, variable: "SAGEMAKER_CALLBACK_RECEIVE_WAIT", valueName: "seconds",
        summary: "Seconds of the SQS long poll",
        number: 20, range: 1...20, unit: "seconds", whole: true
    )
    public let dynamoLease = OptionSpec(
        nil, variable: "SAGEMAKER_CALLBACK_DYNAMODB_LEASE", valueName: "seconds",
        summary: "Seconds an outbox entry or a schedule stays with its DynamoDB replica without renewal",
        number: 60, range: 1...3_600, unit: "seconds"
    )

    /// Every documented option, in the README's order.
    public var all: [OptionSpec] {
        [
            eventsQueueURL, requestsQueueURL, database, region, endpointURL, logLevel, heartbeatInterval,
            sweepAfter, sweepGrace, sweepRate, maxInFlight, httpAddress, logFormat, receiveWait, dynamoLease,
        ]
    }

    /// Test-only: `1` drops the DynamoDB version conditions, so the multi-replica tests can show
    /// the races they prevent.
    let dynamoUnguarded = OptionSpec(
        nil, variable: "SAGEMAKER_CALLBACK_DYNAMODB_UNGUARDED", valueName: "1", summary: "Test-only: no version conditions"
    )
    /// Test-only: a pause between deciding and writing, so that the multi-replica tests meet the
    /// races the version conditions exist for.
    let dynamoWriteDelay = OptionSpec(
        nil, variable: "SAGEMAKER_CALLBACK_DYNAMODB_WRITE_DELAY_MS", valueName: "milliseconds",
        summary: "Test-only: a pause before each DynamoDB write", number: 0, range: 0...10_000, unit: "milliseconds", whole: true
    )
}

extension OptionSpec {
    /// The options, declared once.
    public static let table = OptionTable()
}

extension Double {
    /// Without a trailing `.0` for whole numbers: `60`, `0.5`.
    var formatted: String { self == rounded() && abs(self) < 1e15 ? String(Int64(self)) : String(self) }
}
