import ArgumentParser
import AWS
import Relay

/// `serve`: run the service until SIGTERM or SIGINT.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the service: consume the queues, complete callbacks, deliver outcomes."
    )

    @Option(name: .long, help: ArgumentHelp("SQS queue of SageMaker job state change events (required; env SAGEMAKER_CALLBACK_EVENTS_QUEUE_URL).", valueName: "url"))
    var eventsQueueURL: String?

    @Option(name: .long, help: ArgumentHelp("SQS queue of registrations from workflows (env SAGEMAKER_CALLBACK_REQUESTS_QUEUE_URL).", valueName: "url"))
    var requestsQueueURL: String?

    @OptionGroup var store: StoreOption
    @OptionGroup var aws: AWSOptions

    func run() async throws {
        var options = CommandLineOptions(store: store, aws: aws)
        options.eventsQueueURL = eventsQueueURL
        options.requestsQueueURL = requestsQueueURL
        let configuration = try await options.withInstanceRegion(.process).serve(.process)
        let logger = bootstrapLogging(level: configuration.logLevel)
        try await CallbackRelay.serve(configuration, logger: logger)
    }
}
