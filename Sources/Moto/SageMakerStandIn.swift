import Foundation
import HTTP
public import JSON
import Synchronization

/// A small SageMaker on 127.0.0.1 that a test owns: it speaks the AWS JSON 1.1 protocol for the
/// Create, Describe and Stop operations of processing, training, transform and tuning jobs, lets
/// the test set each job's state, records every call, and can throttle.
///
/// It exists because moto answers 500 to `Stop*Job` and never throttles. Point the service at it
/// with `AWS_ENDPOINT_URL_SAGEMAKER` = ``endpoint`` while SQS and Step Functions stay on moto.
/// Signatures are not checked. Call ``stop()`` when done.
public final class SageMakerStandIn: Sendable {
    /// A token bucket: `burst` requests at once, refilled at `ratePerSecond`. A request that
    /// finds it empty is answered 400 `ThrottlingException` "Rate exceeded", as SageMaker does.
    public struct Throttle: Sendable {
        /// Tokens added per second.
        public var ratePerSecond: Double
        /// The bucket's size, and its content at the start.
        public var burst: Int

        /// A bucket of `burst` tokens refilled at `ratePerSecond`.
        public init(ratePerSecond: Double, burst: Int) {
            self.ratePerSecond = ratePerSecond
            self.burst = burst
        }
    }

    /// The state of a job, as the test sets it or the operations move it.
    public enum JobState: Sendable, Equatable {
        /// `InProgress`: where `Create*` puts a job.
        case running
        /// `Completed`.
        case completed
        /// `Failed`, with the `FailureReason` its description carries.
        case failed(reason: String)
        /// `Stopped`: where `Stop*` puts a running job.
        case stopped
        /// `Stopping`.
        case stopping

        /// The status SageMaker reports for this state.
        public var status: String {
            switch self {
            case .running: "InProgress"
            case .completed: "Completed"
            case .failed: "Failed"
            case .stopped: "Stopped"
            case .stopping: "Stopping"
            }
        }
    }

    /// One request as received and how it was answered.
    public struct Call: Sendable {
        /// The operation from `X-Amz-Target` without its `SageMaker.` prefix; empty when absent.
        public var operation: String
        /// The request body; empty when it was not a JSON object.
        public var body: JSONObject
        /// When it arrived.
        public var at: ContinuousClock.Instant
        /// The HTTP status of the answer (400 for a throttled call).
        public var answeredStatus: Int
    }

    private let account: Account
    private let server: LoopbackHTTPServer

    /// Starts the stand-in on a free loopback port, with no jobs, throttling with `throttle` if given.
    /// - Throws: `POSIXError` when the port cannot be opened.
    public init(throttle: Throttle? = nil) throws {
        let account = Account(throttle: throttle)
        self.account = account
        server = try LoopbackHTTPServer { account.answer($0) }
    }

    /// `http://127.0.0.1:<port>`: the value for `AWS_ENDPOINT_URL_SAGEMAKER`.
    public var endpoint: String { server.endpoint }

    /// Stops serving and cuts open connections. Calling it again does nothing.
    public func stop() { server.stop() }

    /// How many connections clients opened: with keep-alive, fewer than the calls.
    public var acceptedConnections: Int { server.acceptedConnections }

    /// Every request received so far, throttled and refused ones included, in order of arrival.
    public var calls: [Call] { account.state.withLock { $0.calls } }

    /// The calls of one operation (e.g. `StopProcessingJob`), in order of arrival.
    public func calls(_ operation: String) -> [Call] {
        account.state.withLock { $0.calls.filter { $0.operation == operation } }
    }

    /// Creates the job named `name` under `nameField` (e.g. `ProcessingJobName`) in `state`, or
    /// moves it there, as SageMaker would as the job runs.
    public func setJob(nameField: String, name: String, _ state: JobState) {
        let now = Date().timeIntervalSince1970
        account.state.withLock { account in
            let key = JobKey(nameField: nameField, name: name)
            var job = account.jobs[key] ?? Job(state: state, request: [:], created: now, modified: now)
            job.state = state
            job.modified = now
            account.jobs[key] = job
        }
    }

    /// The state of a job, nil when it was never created or set.
    public func job(nameField: String, name: String) -> JobState? {
        account.state.withLock { $0.jobs[JobKey(nameField: nameField, name: name)]?.state }
    }
}

private struct JobKey: Hashable {
    var nameField: String
    var name: String
}

private struct Job {
    var state: SageMakerStandIn.JobState
    /// The Create request, echoed by Describe as SageMaker does.
    var request: JSONObject
    /// Epoch seconds.
    var created: Double
    var modified: Double
}

/// A kind of job and the names that differ between kinds.
private struct JobKind {
    /// `ProcessingJob`, `TrainingJob`, `TransformJob`, `HyperParameterTuningJob`.
    let name: String
    /// The kind as SageMaker's messages spell it: `processing`, `hyper parameter tuning`.
    let words: String
    /// The resource type in the ARN: `processing-job`, `hyper-parameter-tuning-job`.
    let arnResource: String
    /// What a missing job is answered with: `ResourceNotFound` for tuning, as SageMaker and moto do.
    let missingCode: String

    var nameField: String { name + "Name" }
    var arnField: String { name + "Arn" }
    var statusField: String { name + "Status" }
    /// `ProcessingEndTime`, set once the job is over.
    var endTimeField: String { String(name.dropLast(3)) + "EndTime" }

    func arn(_ jobName: String) -> String {
        "arn:aws:sagemaker:us-east-1:123456789012:\(arnResource)/\(jobName)"
    }

    static let all = [
        JobKind(name: "ProcessingJob", words: "processing", arnResource: "processing-job", missingCode: "ValidationException"),
        JobKind(name: "TrainingJob", words: "training", arnResource: "training-job", missingCode: "ValidationException"),
        JobKind(name: "TransformJob", words: "transform", arnResource: "transform-job", missingCode: "ValidationException"),
        JobKind(
            name: "HyperParameterTuningJob", words: "hyper parameter tuning", arnResource: "hyper-parameter-tuning-job",
            missingCode: "ResourceNotFound"
        ),
    ]
}

/// An AWS error answer: HTTP 400 with `__type` and `message`.
private struct ErrorAnswer: Error {
    var code: String
    var message: String
}

/// The stand-in's state and its answers; a reference so the server's handler can reach it.
private final class Account: Sendable {
    struct State {
        var jobs: [JobKey: Job] = [:]
        var calls: [SageMakerStandIn.Call] = []
        var tokens: Double
        var refilled: ContinuousClock.Instant
        var requestCount = 0
    }

    let throttle: SageMakerStandIn.Throttle?
    let state: Mutex<State>

    init(throttle: SageMakerStandIn.Throttle?) {
        self.throttle = throttle
        state = Mutex(State(tokens: Double(throttle?.burst ?? 0), refilled: .now))
    }

    func answer(_ request: LoopbackHTTPServer.Request) -> LoopbackHTTPServer.Response {
        let target = request.header("x-amz-target") ?? ""
        let operation = target.hasPrefix("SageMaker.") ? String(target.dropFirst("SageMaker.".count)) : target
        let body = (try? JSONValue.parse(request.body))?.objectValue
        let now = Date().timeIntervalSince1970
        // One lock for the bucket, the jobs and the record, and the clock read inside it, so
        // calls are recorded in the order they were decided, with times that never go back.
        let (status, answer, requestID) = state.withLock { state in
            let at = ContinuousClock.now
            state.requestCount += 1
            let result: Result<JSONObject, ErrorAnswer>
            if !take(&state, at: at) {
                result = .failure(ErrorAnswer(code: "ThrottlingException", message: "Rate exceeded"))
            } else if let body {
                do throws(ErrorAnswer) {
                    result = .success(try perform(operation, body, on: &state.jobs, now: now))
                } catch {
                    result = .failure(error)
                }
            } else {
                result = .failure(ErrorAnswer(code: "SerializationException", message: "The request body is not a JSON object."))
            }
            let (status, answer): (Int, JSONObject) =
                switch result {
                case .success(let object): (200, object)
                case .failure(let error): (400, ["__type": .string(error.code), "message": .string(error.message)])
                }
            state.calls.append(SageMakerStandIn.Call(operation: operation, body: body ?? [:], at: at, answeredStatus: status))
            return (status, answer, "standin-\(state.requestCount)")
        }
        return LoopbackHTTPServer.Response(
            status: status,
            headers: [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-RequestId", requestID)],
            body: JSONValue.object(answer).serializedBytes()
        )
    }

    /// Takes a token from the bucket; false when it is empty. Always true without a throttle.
    private func take(_ state: inout State, at now: ContinuousClock.Instant) -> Bool {
        guard let throttle else { return true }
        let elapsed = now - state.refilled
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        state.tokens = min(Double(throttle.burst), state.tokens + seconds * throttle.ratePerSecond)
        state.refilled = now
        guard state.tokens >= 1 else { return false }
        state.tokens -= 1
        return true
    }

    private func perform(_ operation: String, _ body: JSONObject, on jobs: inout [JobKey: Job], now: Double) throws(ErrorAnswer) -> JSONObject {
        for verb in ["Create", "Describe", "Stop"] where operation.hasPrefix(verb) {
            guard let kind = JobKind.all.first(where: { $0.name == operation.dropFirst(verb.count) }) else { break }
            guard let name = body[kind.nameField]?.stringValue, !name.isEmpty else {
                throw ErrorAnswer(code: "ValidationException", message: "\(kind.nameField) is required.")
            }
            let key = JobKey(nameField: kind.nameField, name: name)
            switch verb {
            case "Create":
                guard jobs[key] == nil else {
                    throw ErrorAnswer(
                        code: "ResourceInUse",
                        message:
                            "Job name must be unique within an AWS account and region, and a job with this name already exists (\(kind.arn(name)))"
                    )
                }
                jobs[key] = Job(state: .running, request: body, created: now, modified: now)
                return [kind.arnField: .string(kind.arn(name))]
            case "Describe":
                return try description(of: jobs[key], kind: kind, name: name)
            default:
                guard var job = jobs[key] else { throw missing(kind, name) }
                switch job.state {
                case .running:
                    job.state = .stopped
                    job.modified = now
                    jobs[key] = job
                case .stopping:
                    break
                case .completed, .failed, .stopped:
                    throw ErrorAnswer(
                        code: "ValidationException",
                        message: "The request was rejected because the \(kind.words) job is in status \(job.state.status)."
                    )
                }
                return [:]
            }
        }
        throw ErrorAnswer(code: "UnknownOperationException", message: "The operation \(operation) is not supported by this stand-in.")
    }

    private func description(of job: Job?, kind: JobKind, name: String) throws(ErrorAnswer) -> JSONObject {
        guard let job else { throw missing(kind, name) }
        var description = job.request
        description.updateValue(.string(name), forKey: kind.nameField)
        description.updateValue(.string(kind.arn(name)), forKey: kind.arnField)
        description.updateValue(.string(job.state.status), forKey: kind.statusField)
        if case .failed(let reason) = job.state {
            description.updateValue(.string(reason), forKey: "FailureReason")
        }
        description.updateValue(JSONValue(job.created), forKey: "CreationTime")
        description.updateValue(JSONValue(job.modified), forKey: "LastModifiedTime")
        if job.state != .running, job.state != .stopping {
            description.updateValue(JSONValue(job.modified), forKey: kind.endTimeField)
        }
        return description
    }

    private func missing(_ kind: JobKind, _ name: String) -> ErrorAnswer {
        ErrorAnswer(code: kind.missingCode, message: "Could not find \(kind.words) job '\(kind.arn(name))'.")
    }
}
