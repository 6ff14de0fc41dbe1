import AWS
import HTTP
import Logging
import ServiceLifecycle
import Store

/// Builds the service from a resolved configuration: the store, the AWS client, the outbox
/// dispatcher and one consumer per queue, composed in a service group that shuts down on
/// SIGTERM or SIGINT.
public enum CallbackRelay {
    /// An AWS client over libcurl with the SDK credential chain. The transport must be shut down
    /// when the client is no longer needed.
    public static func makeClient(_ aws: AWSConfiguration, logger: Logger) throws -> (client: AWSClient, transport: CurlHTTPClient) {
        let transport = try CurlHTTPClient()
        let chain = CredentialChain.default(environment: aws.environment, profile: aws.profile, http: transport, logger: logger)
        let client = AWSClient(
            http: transport,
            credentials: { try await chain.credentials() },
            region: aws.region,
            endpoints: aws.endpoints,
            logger: logger
        )
        return (client, transport)
    }

    /// Opens the store named by a command, turning a failure into a configuration error that
    /// names `--database`.
    public static func openStore(_ path: String, options: StoreOptions = StoreOptions()) throws -> Store {
        do {
            return try Store.open(path: path, options: options)
        } catch {
            throw ConfigurationError(option: "--database", message: "cannot open '\(path)': \(error)")
        }
    }

    /// The service group of `serve`. Order matters: services stop in reverse order, so the
    /// consumers stop receiving first, then the sweep and the heartbeat schedule, the dispatcher
    /// finishes what is in flight, the health report is removed, and the store closes last.
    public static func serviceGroup(_ configuration: ServeConfiguration, store: Store, client: AWSClient, logger: Logger) -> ServiceGroup {
        let liveness = Liveness()
        let dispatcher = OutboxDispatcher(store: store, client: client, concurrency: configuration.dispatchConcurrency, logger: logger, liveness: liveness)
        let intake = MessageIntake(store: store)
        let sqs = SQS(client: client)
        var services: [any Service] = [
            StoreService(store: store, logger: logger, liveness: liveness),
            HealthReporter(path: configuration.healthFilePath, liveness: liveness, logger: logger),
            dispatcher,
            HeartbeatSchedule(store: store, interval: configuration.heartbeatInterval, dispatcher: dispatcher, logger: logger, liveness: liveness),
            SafetySweep(store: store, client: client, settings: configuration.sweep, dispatcher: dispatcher, logger: logger, liveness: liveness),
        ]
        if let requests = configuration.requestsQueueURL {
            services.append(QueueConsumer(
                queueURL: requests, role: .requests, sqs: sqs, intake: intake, dispatcher: dispatcher,
                waitSeconds: configuration.receiveWaitSeconds, logger: logger, liveness: liveness
            ))
        }
        services.append(QueueConsumer(
            queueURL: configuration.eventsQueueURL, role: .events, sqs: sqs, intake: intake, dispatcher: dispatcher,
            waitSeconds: configuration.receiveWaitSeconds, logger: logger, liveness: liveness
        ))
        var groupConfiguration = ServiceGroupConfiguration(
            services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0, serviceName: "\(type(of: $0))") },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        // In-flight work gets this long after a signal; then what remains is cancelled. Nothing
        // is lost either way: the outbox and the queues keep what was not finished.
        groupConfiguration.maximumGracefulShutdownDuration = .seconds(8)
        return ServiceGroup(configuration: groupConfiguration)
    }

    /// Runs `serve` until SIGTERM or SIGINT.
    public static func serve(_ configuration: ServeConfiguration, logger: Logger) async throws {
        let store = try openStore(configuration.databasePath, options: configuration.storeOptions)
        let (client, transport) = try makeClient(configuration.aws, logger: logger)
        defer { transport.shutdown() }
        logger.info("relay.starting", metadata: [
            "aws.region": "\(configuration.aws.region)",
            "sqs.events_queue_url": "\(configuration.eventsQueueURL)",
            "sqs.requests_queue_url": "\(configuration.requestsQueueURL ?? "none")",
            "store.path": "\(configuration.databasePath)",
            "heartbeat.interval": "\(configuration.heartbeatInterval)",
            "sweep.after": "\(configuration.sweep.after)", "sweep.grace": "\(configuration.sweep.grace)",
            "sweep.rate": "\(configuration.sweep.rate)",
        ])
        try await serviceGroup(configuration, store: store, client: client, logger: logger).run()
        logger.info("relay.stopped")
    }
}
