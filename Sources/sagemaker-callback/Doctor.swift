import AWS
import ArgumentParser
import Logging
import Relay

/// `doctor`: check the configuration, credentials, queues and permissions `serve` needs.
struct Doctor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check what serve needs: region, endpoints, credentials, queues, permissions.",
        discussion: "Exit 0 when every check passes; 1 with one line per failed check otherwise."
    )

    @OptionGroup var queues: QueueOptions

    @OptionGroup var store: StoreOption
    @OptionGroup var aws: AWSOptions

    func run() async throws {
        var logger = Logger(label: "sagemaker-callback")
        logger.logLevel = .critical
        let options = CommandLineOptions(store: store, aws: aws, queues: queues)
        guard try await Relay.Doctor.run(options, environment: .process, logger: logger, report: { print($0) }) else {
            throw ExitCode.failure
        }
    }
}
