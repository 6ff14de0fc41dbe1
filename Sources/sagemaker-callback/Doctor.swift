import ArgumentParser
import AWS
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
import Relay
import SigV4

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
        let options = CommandLineOptions(store: store, aws: aws, queues: queues)
        let environment = Environment.process
        var failed = false
        func report(_ check: Relay.Doctor.Check) {
            print(check)
            if !check.passed { failed = true }
        }
        var logger = Logger(label: "sagemaker-callback")
        logger.logLevel = .critical

        let configuration: ServeConfiguration
        do {
            configuration = try await options.withInstanceRegion(environment).serve(environment)
            report(.init(name: "region", passed: true, detail: configuration.aws.region))
        } catch {
            report(.init(name: "configuration", passed: false, detail: "\(error)"))
            throw ExitCode.failure
        }
        let (client, transport) = try CallbackRelay.makeClient(configuration.aws, logger: logger)
        defer { transport.shutdown() }
        // The providers asked one by one, as the chain would, to tell which one answers.
        var source: String?
        var found: Credentials?
        for provider in CredentialChain.defaultProviders(environment: environment, profile: configuration.aws.profile, http: transport) {
            if let credentials = try? await provider.credentials() {
                (source, found) = (provider.name, credentials)
                break
            }
        }
        guard let source, let found else {
            do {
                _ = try await CredentialChain.default(
                    environment: environment, profile: configuration.aws.profile, http: transport, logger: logger
                ).credentials()
            } catch {
                report(.init(name: "credentials", passed: false, detail: "\(error)"))
            }
            throw ExitCode.failure
        }
        if let sts = try? STSClient(http: transport, region: configuration.aws.region, environment: environment, logger: logger) {
            do {
                let identity = try await sts.getCallerIdentity(credentials: found)
                report(.init(name: "account", passed: true, detail: "\(identity.account) (\(identity.arn))"))
            } catch {
                report(.init(name: "account", passed: true, detail: "unknown: STS GetCallerIdentity answered \(Relay.Doctor.reason(error))"))
            }
        }
        var reachable = [(role: "events", url: configuration.eventsQueueURL)]
        if let requests = configuration.requestsQueueURL { reachable.append((role: "requests", url: requests)) }
        for check in await Relay.Doctor.checks(queues: reachable, database: configuration.database, client: client, credentialSource: source) {
            report(check)
        }
        if failed { throw ExitCode.failure }
    }
}
