import ArgumentParser
import AWS
import Relay

/// `serve`: run the service until SIGTERM or SIGINT.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the service: consume the queues, complete callbacks, deliver outcomes."
    )

    @OptionGroup var queues: QueueOptions

    @OptionGroup var store: StoreOption
    @OptionGroup var aws: AWSOptions

    @Option(name: .long, help: ArgumentHelp("Seconds between heartbeats for registrations with \"Heartbeat\": true (env SAGEMAKER_CALLBACK_HEARTBEAT_INTERVAL; default 60).", valueName: "seconds"))
    var heartbeatInterval: String?
    @Option(name: .long, help: ArgumentHelp("Seconds a callback waits without a terminal event before the safety sweep describes its job, and between checks (env SAGEMAKER_CALLBACK_SWEEP_AFTER; default 3600).", valueName: "seconds"))
    var sweepAfter: String?
    @Option(name: .long, help: ArgumentHelp("Seconds a job the sweep cannot find may take to appear before its callbacks fail with SageMaker.JobNotFound (env SAGEMAKER_CALLBACK_SWEEP_GRACE; default 600).", valueName: "seconds"))
    var sweepGrace: String?
    @Option(name: .long, help: ArgumentHelp("Most Describe calls per second the sweep makes (env SAGEMAKER_CALLBACK_SWEEP_RATE; default 1).", valueName: "calls"))
    var sweepRate: String?
    @Option(name: .long, help: ArgumentHelp("Most Step Functions and SageMaker calls in flight at once (env SAGEMAKER_CALLBACK_MAX_IN_FLIGHT; default 256).", valueName: "calls"))
    var maxInFlight: String?
    @OptionGroup var http: HTTPAddressOption
    @Option(name: .long, help: ArgumentHelp("Log lines as text or json, one JSON object per line (env LOG_FORMAT; default text).", valueName: "format"))
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
        let configuration = try await options.withInstanceRegion(.process).serve(.process)
        let logger = bootstrapLogging(level: configuration.logLevel, format: configuration.logFormat)
        try await CallbackRelay.serve(configuration, logger: logger, opened: StartupLog.release)
    }
}
