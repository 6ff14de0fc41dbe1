public import AWS
public import Logging
public import CallbackStore
public import DynamoStore

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
    /// The option concerned, when it is one of ``OptionSpec``'s; nil for a command's own argument.
    public var spec: OptionSpec?
    /// The option as the line names it: its flag, its variable, or both (``OptionSpec/named(_:)``).
    public var option: String
    public var message: String

    /// A problem with an argument outside the option table, named as given (`FILE`).
    public init(option: String, message: String) {
        self.option = option
        self.message = message
    }

    /// A problem with `spec`'s value from `source`; nil names both the flag and the variable
    /// (a required option given by neither).
    public init(_ spec: OptionSpec, from source: OptionSpec.Source? = .commandLine, message: String) {
        self.spec = spec
        self.option = spec.named(source)
        self.message = message
    }

    public var description: String { "\(option): \(message)" }
}

/// Options as given on the command line, one value per ``OptionSpec`` (`options.sweepAfter =
/// "900"`); nil when not given, so the environment may supply them.
@dynamicMemberLookup
public struct CommandLineOptions: Sendable {
    private var given: [OptionSpec: String] = [:]
    public init() {}

    /// The value given for `option` on the command line.
    subscript(option: OptionSpec) -> String? {
        get { given[option] }
        set { given[option] = newValue }
    }

    /// The value given for the option ``OptionTable`` declares under this name.
    public subscript(dynamicMember option: KeyPath<OptionTable, OptionSpec>) -> String? {
        get { self[OptionSpec.table[keyPath: option]] }
        set { self[OptionSpec.table[keyPath: option]] = newValue }
    }

    /// The value of `option`: from the command line, else from its environment variable; with
    /// where it came from.
    func value(_ option: OptionSpec, _ environment: Environment) -> (text: String, source: OptionSpec.Source)? {
        if let text = given[option] { return (text, .commandLine) }
        if let variable = option.variable, let text = environment[variable] { return (text, .environment) }
        return nil
    }
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
        func bad(_ why: String) -> ConfigurationError { ConfigurationError(.table.httpAddress, message: "'\(text.prefix(100))' \(why)") }
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
        do {
            return try StoreLocation(parsing: value(.table.database, environment)?.text ?? defaultDatabasePath)
        } catch {
            throw ConfigurationError(.table.database, message: error.message)
        }
    }

    /// The AWS services a store needs: DynamoDB for a table, none for a file.
    public static func storeServices(_ location: StoreLocation) -> [AWSService] {
        if case .dynamoDB = location { return [.dynamoDB] }
        return []
    }

    /// How a DynamoDB store shares work: ``OptionSpec/dynamoLease`` (a dead replica's work is
    /// taken over after it), and the test-only ``OptionSpec/dynamoUnguarded`` and
    /// ``OptionSpec/dynamoWriteDelay``.
    public func dynamoSettings(_ environment: Environment) throws(ConfigurationError) -> DynamoStoreSettings {
        var settings = DynamoStoreSettings()
        settings.lease = .seconds(try number(.table.dynamoLease, environment))
        settings.guarded = value(.table.dynamoUnguarded, environment)?.text != "1"
        let delay = try number(.table.dynamoWriteDelay, environment)
        if delay > 0 {
            settings.beforeWrite = { try? await Task.sleep(for: .milliseconds(delay)) }
        }
        return settings
    }

    /// The listener's address: `--http-address`, else `SAGEMAKER_CALLBACK_HTTP_ADDRESS`; nil when
    /// neither is set (or the variable is empty).
    public func listenerAddress(_ environment: Environment) throws(ConfigurationError) -> HTTPAddress? {
        guard let (text, source) = value(.table.httpAddress, environment) else { return nil }
        do {
            return try HTTPAddress(parsing: text)
        } catch {
            throw ConfigurationError(.table.httpAddress, from: source, message: error.message)
        }
    }

    /// The log format: `--log-format`, else `LOG_FORMAT`, else text.
    public func format(_ environment: Environment) throws(ConfigurationError) -> LogFormat {
        guard let (text, source) = value(.table.logFormat, environment) else { return .text }
        guard let format = LogFormat(rawValue: text.lowercased()) else {
            throw ConfigurationError(.table.logFormat, from: source, message: "'\(text.prefix(32))' is not text or json")
        }
        return format
    }

    /// The log level: `--log-level`, else `LOG_LEVEL`, else info.
    public func level(_ environment: Environment) throws(ConfigurationError) -> Logger.Level {
        guard let (text, source) = value(.table.logLevel, environment) else { return .info }
        guard let level = Logger.Level(rawValue: text.lowercased()) else {
            let names = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
            throw ConfigurationError(.table.logLevel, from: source, message: "'\(text)' is not one of \(names)")
        }
        return level
    }

    /// Region and endpoints for `services`, following the SDK conventions; the queue URL is the
    /// last hint for the region but one, `instanceRegion` (what the EC2 instance metadata service
    /// said, asked by whoever holds a transport) the last.
    public func aws(
        _ environment: Environment, services: [AWSService], queueURL: String?, instanceRegion: String? = nil
    ) throws(ConfigurationError) -> AWSConfiguration {
        let profile = environment["AWS_PROFILE"]
        let region: String
        do {
            region = try RegionResolver.resolve(explicit: self.region, environment: environment, profile: profile, queueURL: queueURL)
        } catch {
            guard let instanceRegion, (error as? RegionError)?.code == .notFound else {
                throw ConfigurationError(.table.region, message: "\(error)")
            }
            region = instanceRegion
        }
        var endpoints: [AWSService: Endpoint] = [:]
        for service in services {
            do {
                endpoints[service] = try EndpointResolver.resolve(service, region: region, explicit: self.endpointURL, environment: environment)
            } catch {
                throw self.endpointURL != nil
                    ? ConfigurationError(.table.endpointURL, message: "\(error)")
                    : ConfigurationError(option: service.endpointEnvironmentKey, message: "\(error)")
            }
        }
        return AWSConfiguration(region: region, endpoints: endpoints, profile: profile, environment: environment)
    }

    /// Whether only the EC2 instance metadata service is left to name the region, as the SDKs
    /// take the chain's last step: no `--region`, no variable, no profile region, no region in the
    /// events queue URL (and `AWS_EC2_METADATA_DISABLED` is for the service to honour).
    public func needsInstanceRegion(_ environment: Environment) -> Bool {
        do {
            _ = try RegionResolver.resolve(
                explicit: self.region, environment: environment, profile: environment["AWS_PROFILE"],
                queueURL: value(.table.eventsQueueURL, environment)?.text
            )
            return false
        } catch let error as RegionError {
            return error.code == .notFound
        } catch {
            return false
        }
    }

    /// Resolves and validates everything `serve` needs, without I/O; `instanceRegion` is the
    /// region chain's last step (see ``needsInstanceRegion(_:)``).
    public func serve(_ environment: Environment, instanceRegion: String? = nil) throws(ConfigurationError) -> ServeConfiguration {
        guard let (events, eventsSource) = value(.table.eventsQueueURL, environment) else {
            throw ConfigurationError(
                .table.eventsQueueURL, from: nil, message: "is required: the SQS queue that receives SageMaker job state change events")
        }
        try Self.checkQueueURL(events, .table.eventsQueueURL, from: eventsSource)
        let requests = value(.table.requestsQueueURL, environment)
        if let (requests, source) = requests {
            try Self.checkQueueURL(requests, .table.requestsQueueURL, from: source)
            guard requests != events else {
                throw ConfigurationError(.table.requestsQueueURL, message: "must be a different queue from the events queue")
            }
        }
        let database = try storeLocation(environment)
        var configuration = ServeConfiguration(
            eventsQueueURL: events,
            requestsQueueURL: requests?.text,
            database: database,
            logLevel: try level(environment),
            aws: try aws(
                environment, services: [.sqs, .stepFunctions, .sageMaker] + Self.storeServices(database),
                queueURL: events, instanceRegion: instanceRegion
            )
        )
        configuration.dynamo = try dynamoSettings(environment)
        configuration.httpAddress = try listenerAddress(environment)
        configuration.logFormat = try format(environment)
        configuration.receiveWaitSeconds = Int(try number(.table.receiveWait, environment))
        configuration.maxInFlight = Int(try number(.table.maxInFlight, environment))
        configuration.heartbeatInterval = .seconds(try number(.table.heartbeatInterval, environment))
        configuration.sweep = SafetySweep.Settings(
            after: .seconds(try number(.table.sweepAfter, environment)),
            grace: .seconds(try number(.table.sweepGrace, environment)),
            rate: try number(.table.sweepRate, environment)
        )
        return configuration
    }

    /// The number `option` is given, else its default, within its range.
    func number(_ option: OptionSpec, _ environment: Environment) throws(ConfigurationError) -> Double {
        guard let rule = option.number else { preconditionFailure("\(option) is not a number option") }
        guard let (text, source) = value(option, environment) else { return rule.fallback }
        func refuse(_ message: String) -> ConfigurationError { ConfigurationError(option, from: source, message: message) }
        guard let value = Double(text.trimmingWhitespace()), value.isFinite else {
            throw refuse("'\(text.prefix(64))' is not a number of \(rule.unit)")
        }
        guard !rule.whole || value == value.rounded() else {
            throw refuse("'\(text.prefix(64))' is not a whole number of \(rule.unit)")
        }
        guard rule.range.contains(value) else {
            throw refuse("\(text) is outside \(rule.range.lowerBound.formatted)–\(rule.range.upperBound.formatted) \(rule.unit)")
        }
        return value
    }

    static func checkQueueURL(_ url: String, _ option: OptionSpec, from source: OptionSpec.Source) throws(ConfigurationError) {
        let lower = url.lowercased()
        guard lower.hasPrefix("https://") || lower.hasPrefix("http://") else {
            throw ConfigurationError(option, from: source, message: "'\(url.prefix(200))' is not an http(s) SQS queue URL")
        }
        let rest = url.drop { $0 != "/" }.dropFirst(2)
        guard let host = rest.split(separator: "/", omittingEmptySubsequences: false).first, !host.isEmpty,
            rest.contains("/")
        else {
            throw ConfigurationError(option, from: source, message: "'\(url.prefix(200))' has no host and queue path")
        }
    }
}
