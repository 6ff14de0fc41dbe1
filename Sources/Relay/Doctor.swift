public import AWS
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import HTTP
import JSON
public import Logging
import SigV4
public import CallbackStore
import DynamoStore

/// `doctor`: checks, one by one, what `serve` needs — configuration, credentials, each queue,
/// the Step Functions and SageMaker permissions — and says in one line what is wrong with each.
public struct Doctor: Sendable {
    /// One check's verdict.
    public struct Check: Sendable, Equatable, CustomStringConvertible {
        public var name: String
        public var passed: Bool
        public var detail: String
        public init(name: String, passed: Bool, detail: String) {
            self.name = name
            self.passed = passed
            self.detail = detail
        }
        public var description: String { "\(passed ? "ok  " : "FAIL") \(name): \(detail)" }
    }

    /// A task token that is well formed but belongs to no task: Step Functions answers
    /// `TaskDoesNotExist` (or `InvalidToken`) when the caller may call it, `AccessDenied…` when not.
    static let probeToken = "AAAAKgAAAAIAAAAAAAAAA" + String(repeating: "Q", count: 120) + "sagemaker-callback-doctor-probe"

    /// A job name no one uses: SageMaker answers "not found" when the caller may describe jobs.
    static let probeJob = "sagemaker-callback-doctor-probe-0000"

    /// Runs every check `doctor` makes of `options` read with `environment`, handing each to
    /// `report` as it is made; true when all passed. The configuration is resolved over the one
    /// transport the checks then use, and the credentials come from the chain the client signs
    /// with, which says which provider answered.
    public static func run(
        _ options: CommandLineOptions, environment: Environment, logger: Logger, report: (Check) -> Void
    ) async throws -> Bool {
        var passed = true
        func note(_ check: Check) {
            report(check)
            passed = passed && check.passed
        }
        let transport = try CallbackRelay.makeTransport()
        defer { transport.shutdown() }
        let configuration: ServeConfiguration
        do {
            configuration = try await CallbackRelay.configuration(options, environment: environment, http: transport)
            note(Check(name: "region", passed: true, detail: configuration.aws.region))
        } catch {
            note(Check(name: "configuration", passed: false, detail: "\(error)"))
            return false
        }
        let (client, chain) = CallbackRelay.makeClient(configuration.aws, transport: transport, logger: logger)
        let credentials: CredentialChain.Resolved
        do {
            credentials = try await chain.resolve()
        } catch {
            note(Check(name: "credentials", passed: false, detail: "\(error)"))
            return false
        }
        if let sts = try? STSClient(http: transport, region: configuration.aws.region, environment: environment, logger: logger) {
            do {
                let identity = try await sts.getCallerIdentity(credentials: credentials.credentials)
                note(Check(name: "account", passed: true, detail: "\(identity.account) (\(identity.arn))"))
            } catch {
                note(Check(name: "account", passed: true, detail: "unknown: STS GetCallerIdentity answered \(reason(error))"))
            }
        }
        var queues = [(role: "events", url: configuration.eventsQueueURL)]
        if let requests = configuration.requestsQueueURL { queues.append((role: "requests", url: requests)) }
        for check in await checks(queues: queues, database: configuration.database, client: client, credentialSource: credentials.provider) {
            note(check)
        }
        return passed
    }

    /// Checks what does not need AWS, then, with a client, each remote permission.
    public static func checks(
        queues: [(role: String, url: String)],
        database location: StoreLocation,
        client: AWSClient,
        credentialSource: String
    ) async -> [Check] {
        var checks: [Check] = [Check(name: "credentials", passed: true, detail: "from \(credentialSource)")]
        for service in [AWSService.sqs, .stepFunctions, .sageMaker, .dynamoDB] {
            if let endpoint = client.endpoint(for: service) {
                checks.append(Check(name: "endpoint \(service.rawValue)", passed: true, detail: "\(endpoint.url) (\(endpoint.source))"))
            }
        }
        checks += await database(location, client: client)
        let sqs = SQS(client: client)
        for queue in queues {
            do {
                let attributes = try await sqs.client.call(
                    .sqs, "GetQueueAttributes",
                    [
                        "QueueUrl": .string(queue.url), "AttributeNames": ["ApproximateNumberOfMessages"],
                    ])
                let depth = attributes["Attributes"]?["ApproximateNumberOfMessages"]?.stringValue ?? "?"
                checks.append(Check(name: "\(queue.role) queue", passed: true, detail: "reachable, \(depth) messages waiting"))
            } catch {
                checks.append(Check(name: "\(queue.role) queue", passed: false, detail: reason(error)))
            }
        }
        checks.append(
            await probe("states:SendTaskHeartbeat", accepted: StepFunctions.taskClosedCodes) {
                try await StepFunctions(client: client).sendTaskHeartbeat(taskToken: probeToken, retryPolicy: RetryPolicy(maxAttempts: 2))
            })
        checks.append(
            await probe("sagemaker:DescribeProcessingJob", accepted: ["ValidationException", "ResourceNotFound"]) {
                _ = try await SageMaker(client: client).describeProcessingJob(name: probeJob)
            })
        // Stop on abort needs it; stopping a job that does not exist changes nothing.
        checks.append(
            await probe("sagemaker:StopProcessingJob", accepted: SageMaker.noSuchRunningJobCodes) {
                try await SageMaker(client: client).stopJob(
                    operation: JobKind.processing.stopOperation, nameField: JobKind.processing.nameField, name: probeJob,
                    retryPolicy: RetryPolicy(maxAttempts: 2)
                )
            })
        return checks
    }

    /// Calls an operation with a harmless argument: an answer that the argument is unknown
    /// proves the permission; `AccessDenied` proves its absence.
    static func probe(_ permission: String, accepted: Set<String>, _ call: () async throws -> Void) async -> Check {
        do {
            try await call()
            return Check(name: permission, passed: true, detail: "allowed")
        } catch let error as AWSError where accepted.contains(error.code) {
            return Check(name: permission, passed: true, detail: "allowed (the probe was answered \(error.code))")
        } catch let error as AWSError where error.code.hasPrefix("AccessDenied") || (error.httpStatus == 403 && !error.code.contains("Signature")) {
            return Check(name: permission, passed: false, detail: "denied: \(error.code): the service role lacks \(permission)")
        } catch {
            return Check(name: permission, passed: false, detail: reason(error))
        }
    }

    /// The store: it opens and answers, or (a SQLite file not yet there) its folder is writable.
    /// A DynamoDB table is also checked for its design, its TTL, and every call the service makes.
    static func database(_ location: StoreLocation, client: AWSClient? = nil) async -> [Check] {
        guard case .sqlite(let path) = location, !FileManager.default.fileExists(atPath: path) else {
            var logger = Logger(label: "sagemaker-callback")
            logger.logLevel = .critical
            do {
                let store = try await CallbackRelay.openStore(location, client: client, logger: logger)
                defer { store.close() }
                var checks: [Check] = []
                if let table = store as? DynamoStore {
                    let problems = await table.accessProblems()
                    checks.append(
                        Check(
                            name: "table access", passed: problems.isEmpty,
                            detail: problems.isEmpty
                                ? "\(location): read, write, transactions, indexes and TTL in order" : problems.joined(separator: "; ")
                        ))
                }
                let counts = try await store.counts()
                checks.insert(
                    Check(name: "database", passed: true, detail: "\(location): \(counts.pending) pending, \(counts.outbox) undelivered"), at: 0)
                return checks
            } catch let error as ConfigurationError {
                return [Check(name: "database", passed: false, detail: error.message)]
            } catch {
                return [Check(name: "database", passed: false, detail: "\(location): \(error)")]
            }
        }
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        return FileManager.default.isWritableFile(atPath: directory)
            ? [Check(name: "database", passed: true, detail: "\(path) will be created")]
            : [Check(name: "database", passed: false, detail: "\(directory) is not writable: \(path) cannot be created")]
    }

    /// One line saying why a call failed, telling a denial and an unreachable endpoint apart.
    public static func reason(_ error: any Error) -> String {
        let failure = CallFailure(error)
        if failure.answered {
            return failure.code.hasPrefix("AccessDenied") ? "denied: \(failure.code): \(failure.message)" : "\(failure.code): \(failure.message)"
        }
        return failure.code == CallFailure.connection ? "unreachable: \(failure.message)" : "\(error)"
    }
}
