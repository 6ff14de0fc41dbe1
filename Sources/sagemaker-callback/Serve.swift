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

    func run() async throws {
        let options = CommandLineOptions(store: store, aws: aws, queues: queues)
        let configuration = try await options.withInstanceRegion(.process).serve(.process)
        let logger = bootstrapLogging(level: configuration.logLevel)
        try await CallbackRelay.serve(configuration, logger: logger)
    }
}
