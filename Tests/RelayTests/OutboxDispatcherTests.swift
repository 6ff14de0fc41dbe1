import AWS
import CallbackStore
import Logging
@testable import Relay
import Store
import TestSupport
import Testing

/// The dispatcher against recording Step Functions and SageMaker fakes and a real store.
@Suite("Outbox dispatcher", .timeLimit(.minutes(1)))
struct OutboxDispatcherTests {
    static func dispatcher(
        _ store: any CallbackStore, _ stepFunctions: FakeStepFunctions, sageMaker: FakeSageMaker = FakeSageMaker(), maxInFlight: Int = 8,
        clock: ManualClock
    ) -> OutboxDispatcher {
        OutboxDispatcher(
            store: store, callbacks: stepFunctions, jobs: sageMaker, maxInFlight: maxInFlight, logger: Logger(label: "test"), clock: clock.clock
        )
    }

    static func enqueue(_ store: Store, _ action: OutboxAction, token: String, at now: Int64) async throws {
        try await store.write { tx in
            _ = try tx.enqueue(
                NewOutboxEntry(
                    tokenHash: "hash-\(token)", taskToken: token, jobKind: "ProcessingJob", jobName: "job-\(token)", action: action,
                    payload: action == .success ? "{}" : "", errorName: action == .failure ? "SageMaker.ProcessingJobFailed" : nil, notBefore: now - 1
                ))
        }
    }

    static func aws(_ code: String, _ status: Int = 400) -> AWSError {
        AWSError(code: code, message: "said \(code)", httpStatus: status, operation: "SendTask")
    }

    @Test("each failure settles as the engine decides: closed, refused for good, refused heartbeat, not reached")
    func failuresSettle() async throws {
        let temporary = try TemporaryStore()
        let clock = ManualClock(random: 0)
        let now = clock.now
        for token in ["closed", "denied", "unreachable"] { try await Self.enqueue(temporary.store, .success, token: token, at: now) }
        try await Self.enqueue(temporary.store, .heartbeat, token: "beat", at: now)
        let stepFunctions = FakeStepFunctions(answers: [
            "closed": [Self.aws("TaskTimedOut")],
            "denied": [Self.aws("AccessDeniedException")],
            "unreachable": [AWSResponseError(operation: "SendTaskSuccess", reason: "cut short")],
            "beat": [Self.aws("InvalidToken")],
        ])
        let pass = try await Self.dispatcher(temporary.store, stepFunctions, clock: clock).deliverDue()
        #expect(pass == OutboxDispatcher.Pass(delivered: 0, rescheduled: 2, closed: 1, dropped: 1))
        let left = try await temporary.store.read { try $0.listOutbox(limit: 10) }.sorted { $0.taskToken < $1.taskToken }
        #expect(left.map(\.taskToken) == ["denied", "unreachable"])
        // A refusal for good waits half of 2 × 30 s (the jitter is 0); an answer cut short half of 2 × 1 s.
        #expect(left.map(\.nextAttemptAt) == [now + 30_000, now + 1_000])
        #expect(left.map(\.attempts) == [1, 1])
        #expect(
            left.map(\.lastError) == [
                "AccessDeniedException: said AccessDeniedException", "Error: SendTaskSuccess returned an unusable response: cut short",
            ])
        #expect(try await temporary.store.read { try $0.isClosed(tokenHash: "hash-closed") })
        #expect(await stepFunctions.calls.count == 4)
    }

    @Test("a throttled call is sent again after the pacer's turn and delivered")
    func throttledIsRetried() async throws {
        let temporary = try TemporaryStore()
        let clock = ManualClock()
        try await Self.enqueue(temporary.store, .success, token: "slow", at: clock.now)
        let stepFunctions = FakeStepFunctions(answers: ["slow": [Self.aws("ThrottlingException"), Self.aws("ThrottlingException")]])
        let pass = try await Self.dispatcher(temporary.store, stepFunctions, clock: clock).deliverDue()
        #expect(pass.delivered == 1)
        #expect(await stepFunctions.calls == Array(repeating: .success(token: "slow"), count: 3))
        #expect(try await temporary.store.counts().outbox == 0)
    }

    @Test("no more calls are in flight than maxInFlight, and every entry is delivered")
    func maxInFlight() async throws {
        let temporary = try TemporaryStore()
        let clock = ManualClock()
        for n in 0..<12 { try await Self.enqueue(temporary.store, .success, token: "t\(n)", at: clock.now) }
        let stepFunctions = FakeStepFunctions(latency: .milliseconds(20))
        let pass = try await Self.dispatcher(temporary.store, stepFunctions, maxInFlight: 3, clock: clock).deliverDue()
        #expect(pass.delivered == 12)
        #expect(await stepFunctions.mostInFlight == 3)
        #expect(Set(await stepFunctions.calls.map { if case .success(let token) = $0 { token } else { "" } }).count == 12)
    }

    @Test("a Create and a Stop go to SageMaker and are settled")
    func jobCalls() async throws {
        let temporary = try TemporaryStore()
        let clock = ManualClock()
        try await temporary.store.write { tx in
            _ = try tx.enqueue(
                NewOutboxEntry(
                    tokenHash: "hash-c", taskToken: "c", jobKind: "ProcessingJob", jobName: "job-c", action: .createJob,
                    payload: #"{"ProcessingJobName":"job-c"}"#, notBefore: clock.now - 1
                ))
            _ = try tx.enqueue(
                NewOutboxEntry(
                    tokenHash: "hash-s", taskToken: "", jobKind: "TrainingJob", jobName: "job-s", action: .stopJob, payload: "",
                    notBefore: clock.now - 1
                ))
        }
        let sageMaker = FakeSageMaker()
        let pass = try await Self.dispatcher(temporary.store, FakeStepFunctions(), sageMaker: sageMaker, clock: clock).deliverDue()
        #expect(pass.delivered == 2)
        #expect(Set(await sageMaker.calls) == [.create(operation: "CreateProcessingJob"), .stop(operation: "StopTrainingJob", name: "job-s")])
        #expect(try await temporary.store.counts().outbox == 0)
    }
}
