import AWS
import HTTP
import Logging
import CallbackStore
import DynamoStore

/// Something the service needs is out of reach for now (DynamoDB cannot be reached). The
/// executable prints it as one line and exits 69 (EX_UNAVAILABLE).
public struct UnavailableError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

/// A configuration problem, named after the option (and environment variable) it concerns.
/// The executable prints it as one line and exits 64 (EX_USAGE).
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    public var option: String
    public var message: String
    public init(option: String, message: String) {
        self.option = option
        self.message = message
    }
    public var description: String { "\(option): \(message)" }
}

/// Options as given on the command line; nil when not given (the environment may then supply them).
public struct CommandLineOptions: Sendable {
    public var eventsQueueURL: String?
    public var requestsQueueURL: String?
    public var database: String?
    public var region: String?
    public var endpointURL: String?
    public var logLevel: String?
    public var profile: String?
    /// Seconds between periodic heartbeats (`--heartbeat-interval`).
    public var heartbeatInterval: String?
    /// Seconds a callback waits without a terminal event before the sweep checks (`--sweep-after`).
    public var sweepAfter: String?
    /// Seconds a job found missing may take to appear (`--sweep-grace`).
    public var sweepGrace: String?
    /// Most sweep calls per second (`--sweep-rate`).
    public var sweepRate: String?
    /// Where the metrics and health listener binds, `HOST:PORT` (`--http-address`).
    public var httpAddress: String?
    /// `text` or `json` (`--log-format`).
    public var logFormat: String?
    /// Step Functions and SageMaker calls in flight at once (`--max-in-flight`).
    public var maxInFlight: String?
    public init() {}
}

/// Where the service's AWS calls go and how they are signed.
public struct AWSConfiguration: Sendable {
    public var region: String
    public var endpoints: [AWSService: Endpoint]
    public var profile: String?
    public var environment: Environment
}

/// Everything `serve` needs, resolved and validated.
public struct ServeConfiguration: Sendable {
    public var eventsQueueURL: String
    public var requestsQueueURL: String?
    /// Where the state lives (`--database`).
    public var database: StoreLocation
    public var logLevel: Logger.Level
    public var aws: AWSConfiguration
    /// Step Functions and SageMaker calls in flight at once (`--max-in-flight`).
    public var maxInFlight = OutboxDispatcher.defaultMaxInFlight
    /// Long-poll wait, seconds (SQS allows 0–20).
    public var receiveWaitSeconds = SQS.maxWait
    public var storeOptions = StoreOptions()
    /// How a DynamoDB store shares work with the other replicas.
    public var dynamo = DynamoStoreSettings()
    /// Time between periodic heartbeats for registrations that ask for them.
    public var heartbeatInterval: Duration = .seconds(60)
    /// How the safety sweep is tuned.
    public var sweep = SafetySweep.Settings()
    /// Where the metrics and health listener binds; nil: no listener.
    public var httpAddress: HTTPAddress?
    /// How log lines are written.
    public var logFormat = LogFormat.text
}

/// How log lines are written to standard error.
public enum LogFormat: String, Sendable, CaseIterable {
    /// swift-log's stream format: `TIMESTAMP LEVEL LABEL: [METADATA] MESSAGE`.
    case text
    /// One JSON object per line (CloudWatch Logs Insights reads its fields).
    case json
}

/// A listener's `HOST:PORT`; an IPv6 host in brackets (`[::1]:9090`). Port 0 picks a free port.
public struct HTTPAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT`; the reason names what is wrong.
    public init(parsing text: String) throws(ConfigurationError) {
        func bad(_ why: String) -> ConfigurationError { ConfigurationError(option: "", message: "'\(text.prefix(100))' \(why)") }
        let host: Substring
        let port: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { throw bad("is not [IPV6]:PORT") }
            host = text[text.index(after: text.startIndex)..<close]
            port = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else { throw bad("is not HOST:PORT") }
            host = text[..<colon]
            port = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, !host.contains(where: { $0 == " " || $0 == "/" }) else { throw bad("has no host") }
        guard let number = Int(port), (0...65_535).contains(number) else { throw bad("has no port 0–65535") }
        self.init(host: String(host), port: number)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// The default database file, relative to the working directory.
public let defaultDatabasePath = "./sagemaker-callback.sqlite"

extension CommandLineOptions {
    /// Where the state lives: `--database`, else `SAGEMAKER_CALLBACK_DATABASE`, else the default
    /// file; a path, or `dynamodb://TABLE`.
    public func storeLocation(_ environment: Environment) throws(ConfigurationError) -> StoreLocation {
        let text = database ?? environment["SAGEMAKER_CALLBACK_DATABASE"] ?? defaultDatabasePath
        do {
            return try StoreLocation(parsing: text)
        } catch {
            throw ConfigurationError(option: "--database", message: error.message)
        }
    }

    /// The AWS services a store needs: DynamoDB for a table, none for a file.
    public static func storeServices(_ location: StoreLocation) -> [AWSService] {
        if case .dynamoDB = location { return [.dynamoDB] }
        return []
    }

    /// How a DynamoDB store shares work: `SAGEMAKER_CALLBACK_DYNAMODB_LEASE` seconds an outbox
    /// entry or a schedule stays with its replica (default 60; a dead replica's work is taken
    /// over after it), and the test-only `SAGEMAKER_CALLBACK_DYNAMODB_UNGUARDED=1`, which drops the
    /// version conditions so the multi-replica tests can show the races they prevent, and the
    /// test-only `SAGEMAKER_CALLBACK_DYNAMODB_WRITE_DELAY_MS`, a pause between deciding and writing.
    public func dynamoSettings(_ environment: Environment) throws(ConfigurationError) -> DynamoStoreSettings {
        var settings = DynamoStoreSettings()
        settings.lease = .seconds(try Self.number(
            nil, option: "SAGEMAKER_CALLBACK_DYNAMODB_LEASE", variable: "SAGEMAKER_CALLBACK_DYNAMODB_LEASE",
            environment, default: 60, range: 1...3_600, unit: "seconds"
        ))
        settings.guarded = environment["SAGEMAKER_CALLBACK_DYNAMODB_UNGUARDED"] != "1"
        // Test-only: widens the window between a decision and its write, so that the
        // multi-replica tests meet the races the version conditions exist for.
        if let text = environment["SAGEMAKER_CALLBACK_DYNAMODB_WRITE_DELAY_MS"] {
            guard let millis = Int(text), (0...10_000).contains(millis) else {
                throw ConfigurationError(option: "SAGEMAKER_CALLBACK_DYNAMODB_WRITE_DELAY_MS", message: "'\(text.prefix(32))' is not 0–10000 milliseconds")
            }
            settings.beforeWrite = { try? await Task.sleep(for: .milliseconds(millis)) }
        }
        return settings
    }

    /// The listener's address: `--http-address`, else `SAGEMAKER_CALLBACK_HTTP_ADDRESS`; nil when
    /// neither is set (or the variable is empty).
    public func httpAddress(_ environment: Environment) throws(ConfigurationError) -> HTTPAddress? {
        let option = httpAddress != nil ? "--http-address" : "SAGEMAKER_CALLBACK_HTTP_ADDRESS"
        guard let text = httpAddress ?? environment["SAGEMAKER_CALLBACK_HTTP_ADDRESS"], httpAddress != nil || !text.isEmpty else { return nil }
        do {
            return try HTTPAddress(parsing: text)
        } catch {
            throw ConfigurationError(option: option, message: error.message)
        }
    }

    /// The log format: `--log-format`, else `LOG_FORMAT`, else text.
    public func format(_ environment: Environment) throws(ConfigurationError) -> LogFormat {
        guard let text = logFormat ?? environment["LOG_FORMAT"] else { return .text }
        guard let format = LogFormat(rawValue: text.lowercased()) else {
            throw ConfigurationError(option: logFormat != nil ? "--log-format" : "LOG_FORMAT", message: "'\(text.prefix(32))' is not text or json")
        }
        return format
    }

    /// The log level: `--log-level`, else `LOG_LEVEL`, else info.
    public func level(_ environment: Environment) throws(ConfigurationError) -> Logger.Level {
        guard let text = logLevel ?? environment["LOG_LEVEL"] else { return .info }
        guard let level = Logger.Level(rawValue: text.lowercased()) else {
            let names = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
            throw ConfigurationError(option: logLevel != nil ? "--log-level" : "LOG_LEVEL", message: "'\(text)' is not one of \(names)")
        }
        return level
    }

    /// Region and endpoints for `services`, following the SDK conventions; the queue URL is the
    /// last hint for the region.
    public func aws(_ environment: Environment, services: [AWSService], queueURL: String?) throws(ConfigurationError) -> AWSConfiguration {
        let profile = self.profile ?? environment["AWS_PROFILE"]
        let region: String
        do {
            region = try RegionResolver.resolve(explicit: self.region, environment: environment, profile: profile, queueURL: queueURL)
        } catch {
            throw ConfigurationError(option: "--region", message: "\(error)")
        }
        var endpoints: [AWSService: Endpoint] = [:]
        for service in services {
            do {
                endpoints[service] = try EndpointResolver.resolve(service, region: region, explicit: endpointURL, environment: environment)
            } catch {
                throw ConfigurationError(option: endpointURL != nil ? "--endpoint-url" : service.endpointEnvironmentKey, message: "\(error)")
            }
        }
        return AWSConfiguration(region: region, endpoints: endpoints, profile: profile, environment: environment)
    }

    /// The last step of the region chain, as the SDKs take it: when nothing else names a region,
    /// the EC2 instance metadata service is asked (unless `AWS_EC2_METADATA_DISABLED`), and a
    /// region it gives becomes the explicit one.
    public func withInstanceRegion(_ environment: Environment) async -> CommandLineOptions {
        guard region == nil,
              (try? RegionResolver.resolve(explicit: nil, environment: environment, profile: profile ?? environment["AWS_PROFILE"], queueURL: eventsQueueURL ?? environment["SAGEMAKER_CALLBACK_EVENTS_QUEUE_URL"])) == nil,
              let transport = try? CurlHTTPClient()
        else { return self }
        defer { transport.shutdown() }
        var options = self
        options.region = try? await InstanceMetadataCredentialProvider(http: transport, environment: environment).region()
        return options
    }

    /// Resolves and validates everything `serve` needs.
    public func serve(_ environment: Environment) throws(ConfigurationError) -> ServeConfiguration {
        let eventsOption = "--events-queue-url (or SAGEMAKER_CALLBACK_EVENTS_QUEUE_URL)"
        guard let events = eventsQueueURL ?? environment["SAGEMAKER_CALLBACK_EVENTS_QUEUE_URL"] else {
            throw ConfigurationError(option: eventsOption, message: "is required: the SQS queue that receives SageMaker job state change events")
        }
        try Self.checkQueueURL(events, option: eventsQueueURL != nil ? "--events-queue-url" : "SAGEMAKER_CALLBACK_EVENTS_QUEUE_URL")
        let requests = requestsQueueURL ?? environment["SAGEMAKER_CALLBACK_REQUESTS_QUEUE_URL"]
        if let requests {
            try Self.checkQueueURL(requests, option: requestsQueueURL != nil ? "--requests-queue-url" : "SAGEMAKER_CALLBACK_REQUESTS_QUEUE_URL")
            guard requests != events else {
                throw ConfigurationError(option: "--requests-queue-url", message: "must be a different queue from the events queue")
            }
        }
        let database = try storeLocation(environment)
        var configuration = ServeConfiguration(
            eventsQueueURL: events,
            requestsQueueURL: requests,
            database: database,
            logLevel: try level(environment),
            aws: try aws(environment, services: [.sqs, .stepFunctions, .sageMaker] + Self.storeServices(database), queueURL: events)
        )
        configuration.dynamo = try dynamoSettings(environment)
        configuration.httpAddress = try httpAddress(environment)
        configuration.logFormat = try format(environment)
        configuration.receiveWaitSeconds = Int(try Self.number(
            nil, option: "SAGEMAKER_CALLBACK_RECEIVE_WAIT", variable: "SAGEMAKER_CALLBACK_RECEIVE_WAIT",
            environment, default: Double(SQS.maxWait), range: 1...Double(SQS.maxWait), unit: "seconds", whole: true
        ))
        configuration.maxInFlight = Int(try Self.number(
            maxInFlight, option: "--max-in-flight", variable: "SAGEMAKER_CALLBACK_MAX_IN_FLIGHT",
            environment, default: Double(OutboxDispatcher.defaultMaxInFlight), range: 1...4_096, unit: "calls", whole: true
        ))
        let day = 86_400.0
        configuration.heartbeatInterval = .seconds(try Self.number(
            heartbeatInterval, option: "--heartbeat-interval", variable: "SAGEMAKER_CALLBACK_HEARTBEAT_INTERVAL",
            environment, default: 60, range: 1...day, unit: "seconds"
        ))
        configuration.sweep = SafetySweep.Settings(
            after: .seconds(try Self.number(
                sweepAfter, option: "--sweep-after", variable: "SAGEMAKER_CALLBACK_SWEEP_AFTER",
                environment, default: 3_600, range: 1...(30 * day), unit: "seconds"
            )),
            grace: .seconds(try Self.number(
                sweepGrace, option: "--sweep-grace", variable: "SAGEMAKER_CALLBACK_SWEEP_GRACE",
                environment, default: 600, range: 0...day, unit: "seconds"
            )),
            rate: try Self.number(
                sweepRate, option: "--sweep-rate", variable: "SAGEMAKER_CALLBACK_SWEEP_RATE",
                environment, default: 1, range: 0.01...100, unit: "calls per second"
            )
        )
        return configuration
    }

    /// A number from its option, else its environment variable, else `fallback`, within `range`.
    static func number(
        _ given: String?, option: String, variable: String, _ environment: Environment,
        default fallback: Double, range: ClosedRange<Double>, unit: String, whole: Bool = false
    ) throws(ConfigurationError) -> Double {
        guard let text = given ?? environment[variable] else { return fallback }
        let name = given != nil ? option : variable
        guard let value = Double(text.trimmingWhitespace()), value.isFinite else {
            throw ConfigurationError(option: name, message: "'\(text.prefix(64))' is not a number of \(unit)")
        }
        guard !whole || value == value.rounded() else {
            throw ConfigurationError(option: name, message: "'\(text.prefix(64))' is not a whole number of \(unit)")
        }
        guard range.contains(value) else {
            throw ConfigurationError(option: name, message: "\(text) is outside \(range.lowerBound.formatted)–\(range.upperBound.formatted) \(unit)")
        }
        return value
    }

    static func checkQueueURL(_ url: String, option: String) throws(ConfigurationError) {
        let lower = url.lowercased()
        guard lower.hasPrefix("https://") || lower.hasPrefix("http://") else {
            throw ConfigurationError(option: option, message: "'\(url.prefix(200))' is not an http(s) SQS queue URL")
        }
        let rest = url.drop { $0 != "/" }.dropFirst(2)
        guard let host = rest.split(separator: "/", omittingEmptySubsequences: false).first, !host.isEmpty,
              rest.contains("/")
        else {
            throw ConfigurationError(option: option, message: "'\(url.prefix(200))' has no host and queue path")
        }
    }
}

extension Double {
    /// Without a trailing `.0` for whole numbers: `60`, `0.5`.
    fileprivate var formatted: String { self == rounded() && abs(self) < 1e15 ? String(Int64(self)) : String(self) }
}
