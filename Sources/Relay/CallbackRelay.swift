public import AWS
public import HTTP
public import Logging
public import ServiceLifecycle
public import CallbackStore
public import DynamoStore
import StatusServer
import Store
import UnixSignals

/// Builds the service from a resolved configuration: the store, the AWS client, the outbox
/// dispatcher and one consumer per queue, composed in a service group that shuts down on
/// SIGTERM or SIGINT.
public enum CallbackRelay {
    /// The one transport a command's AWS calls share, over libcurl; shut it down when done.
    ///
    /// `maxInFlight` is the dispatcher's limit: the transport allows that many transfers, plus room
    /// for the consumers' receives and deletes, the sweep and the store, all on one host if need be
    /// (a local emulator serves every service from one address).
    public static func makeTransport(maxInFlight: Int = OutboxDispatcher.defaultMaxInFlight) throws -> CurlHTTPClient {
        let transfers = maxInFlight + 64
        return try CurlHTTPClient(configuration: .init(maxConcurrentTransfers: transfers, maxConnectionsPerHost: transfers))
    }

    /// An AWS client over `transport` with the SDK credential chain, and the chain, which says
    /// which provider answered.
    public static func makeClient(
        _ aws: AWSConfiguration, transport: any HTTPClient, logger: Logger, metrics: AWSCallMetrics? = nil
    ) -> (client: AWSClient, credentials: CredentialChain) {
        let chain = CredentialChain.default(environment: aws.environment, profile: aws.profile, http: transport, logger: logger)
        let client = AWSClient(
            http: transport,
            credentials: { try await chain.credentials() },
            region: aws.region,
            endpoints: aws.endpoints,
            logger: logger,
            metrics: metrics
        )
        return (client, chain)
    }

    /// An AWS client over a transport of its own (``makeTransport(maxInFlight:)``), which must be
    /// shut down when the client is no longer needed.
    public static func makeClient(
        _ aws: AWSConfiguration, maxInFlight: Int = OutboxDispatcher.defaultMaxInFlight, logger: Logger, metrics: AWSCallMetrics? = nil
    ) throws -> (client: AWSClient, transport: CurlHTTPClient) {
        let transport = try makeTransport(maxInFlight: maxInFlight)
        return (makeClient(aws, transport: transport, logger: logger, metrics: metrics).client, transport)
    }

    /// What `serve` and `doctor` start from: their one transport, and the configuration resolved
    /// with it. The EC2 instance metadata service is asked for the region over that transport,
    /// and only when nothing else names one (``CommandLineOptions/needsInstanceRegion(_:)``).
    /// The caller shuts the transport down; on an error it is already shut down.
    public static func start(
        _ options: CommandLineOptions, environment: Environment
    ) async throws -> (configuration: ServeConfiguration, transport: CurlHTTPClient) {
        // A bad limit fails the resolution below; the transport is sized by the default then.
        let maxInFlight = (try? options.number(.table.maxInFlight, environment)).map(Int.init) ?? OutboxDispatcher.defaultMaxInFlight
        let transport = try makeTransport(maxInFlight: maxInFlight)
        do {
            return (try await configuration(options, environment: environment, http: transport), transport)
        } catch {
            transport.shutdown()
            throw error
        }
    }

    /// `options` resolved for `serve`, the region chain ending at the instance metadata service,
    /// asked over `http` only when nothing else names a region.
    public static func configuration(
        _ options: CommandLineOptions, environment: Environment, http: any HTTPClient
    ) async throws(ConfigurationError) -> ServeConfiguration {
        var instanceRegion: String?
        if options.needsInstanceRegion(environment) {
            instanceRegion = try? await InstanceMetadataCredentialProvider(http: http, environment: environment).region()
        }
        return try options.serve(environment, instanceRegion: instanceRegion)
    }

    /// Delivers, once, what a command (`replay`, `register`) queued, over `transport` (the one
    /// the command's store uses, if any; else one made for this); what fails stays in the outbox
    /// for `serve`.
    public static func deliver(
        _ options: CommandLineOptions, environment: Environment, store: any CallbackStore,
        transport: (any HTTPClient)? = nil, logger: Logger
    ) async throws -> OutboxDispatcher.Pass {
        let aws = try options.aws(environment, services: [.stepFunctions, .sageMaker], queueURL: nil)
        var own: CurlHTTPClient?
        defer { own?.shutdown() }
        let http: any HTTPClient
        if let transport {
            http = transport
        } else {
            let made = try makeTransport()
            (own, http) = (made, made)
        }
        let client = makeClient(aws, transport: http, logger: logger).client
        return try await OutboxDispatcher(
            store: store, callbacks: StepFunctions(client: client), jobs: SageMaker(client: client), maxInFlight: OutboxDispatcher.defaultMaxInFlight,
            logger: logger
        ).deliverDue()
    }

    /// Opens the store `--database` names. A problem the operator must fix (a file that cannot be
    /// opened, a missing table, a table of another design, a refused permission) becomes a
    /// ``ConfigurationError`` naming `--database` (exit 64); DynamoDB out of reach becomes
    /// ``UnavailableError`` (exit 69). Nothing is consumed before this succeeds. A DynamoDB table
    /// needs `client`, with a DynamoDB endpoint. The only place Relay meets a concrete backend.
    public static func openStore(
        _ location: StoreLocation, options: StoreOptions = StoreOptions(), client: AWSClient? = nil,
        dynamo: DynamoStoreSettings = DynamoStoreSettings(), meter: DynamoCapacityMeter? = nil, logger: Logger
    ) async throws -> any CallbackStore {
        switch location {
        case .sqlite(let path):
            do {
                return try Store.open(path: path, options: options)
            } catch {
                throw ConfigurationError(.table.database, message: "cannot open '\(path)': \(error)")
            }
        case .dynamoDB(let table):
            guard let client, client.endpoint(for: .dynamoDB) != nil else {
                throw ConfigurationError(.table.database, message: "\(location) needs a DynamoDB endpoint and credentials")
            }
            do {
                let store = try await DynamoStore.open(table: table, client: client, options: options, settings: dynamo, meter: meter, logger: logger)
                logger.info("store.opened", metadata: ["store.location": "\(location)", "store.replica": "\(dynamo.replicaID)"])
                return store
            } catch let error as DynamoStoreError {
                switch error.kind {
                case .configuration: throw ConfigurationError(.table.database, message: error.message)
                case .unavailable: throw UnavailableError(message: error.message)
                }
            }
        }
    }

    /// The service group of `serve`. Order matters: services stop in reverse order, so the
    /// consumers stop receiving first, then the sweep and the heartbeat schedule, the dispatcher
    /// finishes what is in flight, readiness turns off, and the store closes last.
    public static func serviceGroup(
        _ configuration: ServeConfiguration, store: any CallbackStore, client: AWSClient, logger: Logger,
        operations: Operations? = nil, health: HealthChecks? = nil
    ) -> ServiceGroup {
        let liveness = health?.liveness ?? Liveness()
        let metrics = operations?.metrics
        let outage = StoreOutage(location: store.location, logger: logger, health: health)
        let store = WatchedStore(store, outage: outage)
        let jobs = SageMaker(client: client)
        let dispatcher = OutboxDispatcher(
            store: store, callbacks: StepFunctions(client: client), jobs: jobs, maxInFlight: configuration.maxInFlight, logger: logger,
            liveness: liveness, metrics: metrics
        )
        let doorbell = dispatcher.doorbell
        let intake = MessageIntake(store: store, outage: outage)
        let sqs = SQS(client: client)
        var services: [any Service] = [StoreService(store: store, logger: logger, liveness: liveness, outage: outage)]
        if let operations, let health {
            services.append(
                OperationsRefresher(
                    store: store, metrics: operations.metrics, health: health, embeddedMetrics: configuration.logFormat == .json, logger: logger
                ))
        }
        services += [
            dispatcher,
            HeartbeatSchedule(store: store, interval: configuration.heartbeatInterval, doorbell: doorbell, logger: logger, liveness: liveness),
            SafetySweep(
                store: store, jobs: jobs, settings: configuration.sweep, doorbell: doorbell, logger: logger, liveness: liveness, metrics: metrics),
        ]
        for (role, queueURL) in [(MessageRole.requests, configuration.requestsQueueURL), (.events, configuration.eventsQueueURL)] {
            guard let queueURL else { continue }
            services.append(
                QueueConsumer(
                    queueURL: queueURL, role: role, source: sqs, intake: intake, doorbell: doorbell,
                    waitSeconds: configuration.receiveWaitSeconds, logger: logger, liveness: liveness, metrics: metrics, health: health
                ))
        }
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

    /// Runs `serve` over `transport` (sized by ``makeTransport(maxInFlight:)``) until SIGTERM or
    /// SIGINT. `opened` is called once the store is open, before anything is received.
    public static func serve(
        _ configuration: ServeConfiguration, transport: any HTTPClient, logger: Logger, opened: @Sendable () -> Void = {}
    ) async throws {
        let operations = Operations()
        let client = makeClient(configuration.aws, transport: transport, logger: logger, metrics: operations.metrics.aws).client
        let store = try await openStore(
            configuration.database, options: configuration.storeOptions, client: client, dynamo: configuration.dynamo, logger: logger
        )
        opened()
        logger.info(
            "relay.starting",
            metadata: [
                "aws.region": "\(configuration.aws.region)",
                "sqs.events_queue_url": "\(configuration.eventsQueueURL)",
                "sqs.requests_queue_url": "\(configuration.requestsQueueURL ?? "none")",
                "store.location": "\(configuration.database)",
                "heartbeat.interval": "\(configuration.heartbeatInterval)",
                "sweep.after": "\(configuration.sweep.after)", "sweep.grace": "\(configuration.sweep.grace)",
                "sweep.rate": "\(configuration.sweep.rate)", "outbox.max_in_flight": "\(configuration.maxInFlight)",
            ])
        let health = HealthChecks(
            liveness: Liveness(), limits: .init(receiveWindow: HealthChecks.Limits.receiveWindow(waitSeconds: configuration.receiveWaitSeconds))
        )
        let group = serviceGroup(configuration, store: store, client: client, logger: logger, operations: operations, health: health)
        var listener: StatusServer?
        if let address = configuration.httpAddress {
            do {
                listener = try await StatusServer.start(host: address.host, port: address.port, logger: logger, route: operations.route(health))
            } catch {
                store.close()
                throw ConfigurationError(.table.httpAddress, message: "cannot listen on \(address): \(error)")
            }
        }
        do {
            try await group.run()
        } catch {
            await listener?.close()
            throw error
        }
        await listener?.close()
        logger.info("relay.stopped")
    }
}
