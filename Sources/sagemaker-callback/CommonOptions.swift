import ArgumentParser
import AWS
import HTTP
import Logging
import Relay
import Synchronization
import CallbackStore

/// Options every subcommand shares.
struct StoreOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("SQLite database file, or dynamodb://TABLE (env SAGEMAKER_CALLBACK_DATABASE; default \(defaultDatabasePath)).", valueName: "path"))
    var database: String?
}

/// The two queues `serve` consumes (and `doctor` checks).
struct QueueOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("SQS queue of SageMaker job state change events (required; env SAGEMAKER_CALLBACK_EVENTS_QUEUE_URL).", valueName: "url"))
    var eventsQueueURL: String?

    @Option(name: .long, help: ArgumentHelp("SQS queue of registrations from workflows (env SAGEMAKER_CALLBACK_REQUESTS_QUEUE_URL).", valueName: "url"))
    var requestsQueueURL: String?
}

/// Options of commands that call AWS.
struct AWSOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("AWS region (else AWS_REGION, AWS_DEFAULT_REGION, the profile's region).", valueName: "region"))
    var region: String?

    @Option(name: .long, help: ArgumentHelp("One endpoint for every AWS service, e.g. an emulator (else AWS_ENDPOINT_URL_SQS/_SFN/_SAGEMAKER/_DYNAMODB, AWS_ENDPOINT_URL).", valueName: "url"))
    var endpointURL: String?

    @Option(name: .long, help: ArgumentHelp("Log level: trace, debug, info, notice, warning, error, critical (env LOG_LEVEL; default info).", valueName: "level"))
    var logLevel: String?
}

extension CommandLineOptions {
    init(store: StoreOption, aws: AWSOptions?, queues: QueueOptions? = nil) {
        self.init()
        eventsQueueURL = queues?.eventsQueueURL
        requestsQueueURL = queues?.requestsQueueURL
        database = store.database
        region = aws?.region
        endpointURL = aws?.endpointURL
        logLevel = aws?.logLevel
    }
}

/// Logging is set up once, by the command that runs, to standard error. Lines below warning
/// wait in ``StartupLog`` until the command's store is open, so a command that cannot open its
/// store (a missing table: the first AWS call, which resolves and logs the credentials) prints
/// only its one error line.
func bootstrapLogging(level: Logger.Level, format: LogFormat = .text) -> Logger {
    LoggingSystem.bootstrap { label in
        var handler: any LogHandler = switch format {
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

    func close() {
        database.close()
        transport?.shutdown()
    }
}
