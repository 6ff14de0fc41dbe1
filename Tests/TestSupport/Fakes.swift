public import AWS
public import JSON
public import Relay
import Synchronization

// Recording fakes of the clients the services take (`MessageSource`, `TaskCallbacks`,
// `JobControl`) and of their clock: actors that record every call and answer from a script, so a
// service's unit test needs neither curl nor an emulator.

/// A service clock whose time stands still, whose jitter is fixed, and whose sleeps
/// are recorded and return at once.
public final class ManualClock: Sendable {
    private let state: Mutex<(now: Int64, sleeps: [Duration])>
    public let random: Double

    public init(now: Int64 = 1_800_000_000_000, random: Double = 0) {
        state = Mutex((now, []))
        self.random = random
    }

    public var now: Int64 { state.withLock { $0.now } }
    public var sleeps: [Duration] { state.withLock { $0.sleeps } }

    public var clock: ServiceClock {
        ServiceClock(
            now: { [self] in now },
            sleep: { [self] wait in
                state.withLock { $0.sleeps.append(wait) }
                await Task.yield()
            },
            random: { [random] in random }
        )
    }
}

/// An SQS queue: each receive answers the next step of the script (messages or an error), then
/// waits until cancelled, as a long poll on a quiet queue would. A message stays in the queue
/// until a delete of it succeeds; deletes fail while `failingDeletes` lasts.
public actor FakeQueue: MessageSource {
    public enum Step: Sendable {
        case messages([SQSMessage])
        case failure(any Error)
    }

    private var script: [Step]
    private var failingDeletes: Int
    /// What the test wants seen when a delete arrives (the store's state, say).
    private let observe: @Sendable () async -> Int
    /// Each delete asked for: its receipt handles and what `observe` saw then.
    public private(set) var deletes: [(handles: [String], observed: Int)] = []
    /// Receipt handles received and not deleted.
    public private(set) var inQueue: Set<String> = []

    public init(_ script: [Step], failingDeletes: Int = 0, observe: @escaping @Sendable () async -> Int = { 0 }) {
        self.script = script
        self.failingDeletes = failingDeletes
        self.observe = observe
    }

    public func receiveMessages(queueURL: String, waitSeconds: Int) async throws -> [SQSMessage] {
        guard !script.isEmpty else {
            try await Task.sleep(for: .seconds(600))
            return []
        }
        switch script.removeFirst() {
        case .messages(let messages):
            inQueue.formUnion(messages.map(\.receiptHandle))
            return messages
        case .failure(let error):
            throw error
        }
    }

    public func deleteMessageBatch(queueURL: String, receiptHandles: [(id: String, receiptHandle: String)]) async throws -> [SQSBatchFailure] {
        let observed = await observe()
        deletes.append((receiptHandles.map(\.receiptHandle), observed))
        if failingDeletes > 0 {
            failingDeletes -= 1
            throw AWSError(code: "InternalFailure", message: "try again", httpStatus: 500, operation: "DeleteMessageBatch")
        }
        inQueue.subtract(receiptHandles.map(\.receiptHandle))
        return []
    }
}

/// Step Functions: records each SendTask* call and answers with the next scripted error for its
/// token, else success. Each call takes `latency`; the most calls seen in flight at once is kept.
public actor FakeStepFunctions: TaskCallbacks {
    public enum Call: Sendable, Equatable {
        case success(token: String)
        case failure(token: String, error: String)
        case heartbeat(token: String)
    }

    private var answers: [String: [any Error]]
    private let latency: Duration
    public private(set) var calls: [Call] = []
    private var inFlight = 0
    public private(set) var mostInFlight = 0

    public init(answers: [String: [any Error]] = [:], latency: Duration = .zero) {
        self.answers = answers
        self.latency = latency
    }

    public func sendTaskSuccess(taskToken: String, output: String, retryPolicy: RetryPolicy?) async throws {
        try await answer(.success(token: taskToken), taskToken)
    }

    public func sendTaskFailure(taskToken: String, error: String, cause: String, retryPolicy: RetryPolicy?) async throws {
        try await answer(.failure(token: taskToken, error: error), taskToken)
    }

    public func sendTaskHeartbeat(taskToken: String, retryPolicy: RetryPolicy?) async throws {
        try await answer(.heartbeat(token: taskToken), taskToken)
    }

    private func answer(_ call: Call, _ token: String) async throws {
        calls.append(call)
        inFlight += 1
        mostInFlight = max(mostInFlight, inFlight)
        defer { inFlight -= 1 }
        if latency > .zero { try await Task.sleep(for: latency) }
        if var queued = answers[token], !queued.isEmpty {
            let error = queued.removeFirst()
            answers[token] = queued
            throw error
        }
    }
}

/// SageMaker: records each call; a describe answers the job's scripted description (or error),
/// else `ResourceNotFound`.
public actor FakeSageMaker: JobControl {
    public enum Call: Sendable, Hashable {
        case create(operation: String)
        case describe(operation: String, name: String)
        case stop(operation: String, name: String)
    }

    private let descriptions: [String: Result<JSONObject, AWSError>]
    public private(set) var calls: [Call] = []

    public init(descriptions: [String: Result<JSONObject, AWSError>] = [:]) {
        self.descriptions = descriptions
    }

    public var described: [String] {
        calls.compactMap { if case .describe(_, let name) = $0 { name } else { nil } }
    }

    public func createJob(operation: String, request: JSONObject) async throws -> String? {
        calls.append(.create(operation: operation))
        return nil
    }

    public func describeJob(operation: String, nameField: String, name: String, retryPolicy: RetryPolicy?) async throws -> JSONObject {
        calls.append(.describe(operation: operation, name: name))
        guard let answer = descriptions[name] else {
            throw AWSError(code: "ResourceNotFound", message: "Could not find job \(name)", httpStatus: 400, operation: operation)
        }
        return try answer.get()
    }

    public func stopJob(operation: String, nameField: String, name: String, retryPolicy: RetryPolicy?) async throws {
        calls.append(.stop(operation: operation, name: name))
    }
}
