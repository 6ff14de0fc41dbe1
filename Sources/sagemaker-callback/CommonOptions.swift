import ArgumentParser
import AWS
import HTTP
import Logging
import Relay
import Synchronization
import CallbackStore

extension NameSpecification {
    /// The long flag `option` declares.
    static func flag(_ option: OptionSpec) -> NameSpecification { .customLong(option.name ?? "") }
}

extension ArgumentHelp {
    /// The help `option` declares.
    init(_ option: OptionSpec) { self.init(option.help, valueName: option.valueName) }
}

/// Options every subcommand shares.
struct StoreOption: ParsableArguments {
    @Option(name: .flag(.table.database), help: ArgumentHelp(.table.database))
    var database: String?
}

/// The two queues `serve` consumes (and `doctor` checks).
struct QueueOptions: ParsableArguments {
    @Option(name: .flag(.table.eventsQueueURL), help: ArgumentHelp(.table.eventsQueueURL))
    var eventsQueueURL: String?

    @Option(name: .flag(.table.requestsQueueURL), help: ArgumentHelp(.table.requestsQueueURL))
    var requestsQueueURL: String?
}

/// Options of commands that call AWS.
struct AWSOptions: ParsableArguments {
    @Option(name: .flag(.table.region), help: ArgumentHelp(.table.region))
    var region: String?

    @Option(name: .flag(.table.endpointURL), help: ArgumentHelp(.table.endpointURL))
    var endpointURL: String?

    @Option(name: .flag(.table.logLevel), help: ArgumentHelp(.table.logLevel))
    var logLevel: String?
}

extension CommandLineOptions {
    init(store: StoreOption, aws: AWSOptions?, queues: QueueOptions? = nil) {
        self.init()
        self.eventsQueueURL = queues?.eventsQueueURL
        self.requestsQueueURL = queues?.requestsQueueURL
        self.database = store.database
        self.region = aws?.region
        self.endpointURL = aws?.endpointURL
        self.logLevel = aws?.logLevel
    }
}

/// Logging is set up once, by the command that runs, to standard error. Lines below warning
/// wait in ``StartupLog`` until the command's store is open, so a command that cannot open its
/// store (a missing table: the first AWS call, which resolves and logs the credentials) prints
/// only its one error line.
func bootstrapLogging(level: Logger.Level, format: LogFormat = .text) -> Logger {
    LoggingSystem.bootstrap { label in
        var handler: any LogHandler =
            switch format {
            case .text: StreamLogHandler.standardError(label: label)
            case .json: JSONLogHandler(label: label)
            }
        handler.logLevel = level
        return StartupLog.Handler(inner: handler)
    }
    return Logger(label: "sagemaker-callback")
}

/// Holds the lines below warning logged before ``release()`` and writes them then (at most
/// `limit`; the rest are dropped); a process that exits before it never shows them.
enum StartupLog {
    static let limit = 200
    private static let state = Mutex<(released: Bool, held: [@Sendable () -> Void])>((false, []))

    /// Writes what was held; later lines go straight out.
    static func release() {
        let held = state.withLock { state in
            defer { state = (true, []) }
            return state.held
        }
        for line in held { line() }
    }

    struct Handler: LogHandler {
        var inner: any LogHandler

        func log(event: LogEvent) {
            let write: @Sendable () -> Void = { [inner] in inner.log(event: event) }
            guard event.level < .warning else { return write() }
            let now = StartupLog.state.withLock { state -> Bool in
                if state.released { return true }
                if state.held.count < StartupLog.limit { state.held.append(write) }
                return false
            }
            if now { write() }
        }

        var metadataProvider: Logger.MetadataProvider? {
            get { inner.metadataProvider }
            set { inner.metadataProvider = newValue }
        }
        var metadata: Logger.Metadata {
            get { inner.metadata }
            set { inner.metadata = newValue }
        }
        var logLevel: Logger.Level {
            get { inner.logLevel }
            set { inner.logLevel = newValue }
        }
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { inner[metadataKey: key] }
            set { inner[metadataKey: key] = newValue }
        }
    }
}

/// What a command that reads and writes the store starts with: its options resolved against the
/// environment, logging set up, the store open (with an AWS client when it is a DynamoDB table).
/// The caller calls ``close()``.
struct CommandSession {
    let options: CommandLineOptions
    let environment: Environment
    let logger: Logger
    let database: any CallbackStore
    private let transport: CurlHTTPClient?

    init(store: StoreOption, aws: AWSOptions) async throws {
        options = CommandLineOptions(store: store, aws: aws)
        environment = .process
        logger = bootstrapLogging(level: try options.level(environment))
        let location = try options.storeLocation(environment)
        var client: AWSClient?
        if case .dynamoDB = location {
            let configuration = try options.aws(environment, services: CommandLineOptions.storeServices(location), queueURL: nil)
            let made = try CallbackRelay.makeClient(configuration, logger: logger)
            (client, transport) = (made.client, made.transport)
        } else {
            transport = nil
        }
        do {
            database = try await CallbackRelay.openStore(
                location, client: client, dynamo: try options.dynamoSettings(environment), logger: logger
            )
        } catch {
            transport?.shutdown()
            throw error
        }
        StartupLog.release()
    }

    /// Delivers, once, what the command queued; what fails stays in the outbox for `serve`.
    func deliver() async throws -> OutboxDispatcher.Pass {
        try await CallbackRelay.deliver(options, environment: environment, store: database, transport: transport, logger: logger)
    }

    func close() {
        database.close()
        transport?.shutdown()
    }
}
