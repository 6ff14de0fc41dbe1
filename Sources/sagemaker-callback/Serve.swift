import AWS
import ArgumentParser
import HTTP
import Relay

/// `serve`: run the service until SIGTERM or SIGINT.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the service: consume the queues, complete callbacks, deliver outcomes."
    )

    @OptionGroup var queues: QueueOptions

    @OptionGroup var store: StoreOption
    @OptionGroup var aws: AWSOptions

    @Option(name: .flag(.table.heartbeatInterval), help: ArgumentHelp(.table.heartbeatInterval))
    var heartbeatInterval: String?
    @Option(name: .flag(.table.sweepAfter), help: ArgumentHelp(.table.sweepAfter))
    var sweepAfter: String?
    @Option(name: .flag(.table.sweepGrace), help: ArgumentHelp(.table.sweepGrace))
    var sweepGrace: String?
    @Option(name: .flag(.table.sweepRate), help: ArgumentHelp(.table.sweepRate))
    var sweepRate: String?
    @Option(name: .flag(.table.maxInFlight), help: ArgumentHelp(.table.maxInFlight))
    var maxInFlight: String?
    @OptionGroup var http: HTTPAddressOption
    @Option(name: .flag(.table.logFormat), help: ArgumentHelp(.table.logFormat))
    var logFormat: String?

    func run() async throws {
        var options = CommandLineOptions(store: store, aws: aws, queues: queues)
        options.heartbeatInterval = heartbeatInterval
        options.sweepAfter = sweepAfter
        options.sweepGrace = sweepGrace
        options.sweepRate = sweepRate
        options.httpAddress = http.httpAddress
        options.logFormat = logFormat
        options.maxInFlight = maxInFlight
        let (configuration, transport) = try await CallbackRelay.start(options, environment: .process)
        defer { transport.shutdown() }
        let logger = bootstrapLogging(level: configuration.logLevel, format: configuration.logFormat)
        try await CallbackRelay.serve(configuration, transport: transport, logger: logger, opened: StartupLog.release)
    }
}
