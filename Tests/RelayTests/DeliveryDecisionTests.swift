import Relay
import CallbackStore
import Store
import Testing

@Suite("Delivery results")
struct DeliveryDecisionTests {
    static func entry(_ action: OutboxAction, attempts: Int = 0) -> OutboxEntry {
        OutboxEntry(
            id: 7, tokenHash: "h", taskToken: "t", jobKind: "ProcessingJob", jobName: "j", action: action,
            payload: "{}", errorName: action == .failure ? "SageMaker.ProcessingJobFailed" : nil,
            attempts: attempts, nextAttemptAt: 0, createdAt: 0, lastError: nil
        )
    }

    @Test("a closed task is recorded, not retried", arguments: ["TaskTimedOut", "TaskDoesNotExist", "InvalidToken"])
    func closed(code: String) {
        let decision = Correlator(now: 100).decide(Self.entry(.success), result: .failed(code: code, message: "", transient: false), jitter: 0.5)
        #expect(decision.verdict == .alreadyClosed(code))
        #expect(decision.effects.contains(.deleteOutbox(id: 7)))
        #expect(decision.effects.contains(.markClosed(tokenHash: "h", result: "already closed: \(code)", at: 100)))
    }

    @Test("a heartbeat answered InvalidToken is dropped, but the callback still waits")
    func heartbeatInvalidToken() {
        let decision = Correlator(now: 1).decide(
            Self.entry(.heartbeat), result: .failed(code: "InvalidToken", message: "", transient: false), jitter: 0)
        #expect(decision.verdict == .heartbeatRefused("InvalidToken"))
        #expect(decision.effects == [.deleteOutbox(id: 7)])
    }

    @Test("a heartbeat answered TaskTimedOut drops the callback")
    func heartbeatTimedOut() {
        let decision = Correlator(now: 1).decide(
            Self.entry(.heartbeat), result: .failed(code: "TaskTimedOut", message: "", transient: false), jitter: 0)
        #expect(decision.effects.contains(.removePending(tokenHash: "h")))
    }

    @Test("transient failures back off, growing and capped")
    func transient() {
        var previous: Int64 = 0
        for attempts in 0..<12 {
            let decision = Correlator(now: 0).decide(
                Self.entry(.success, attempts: attempts), result: .failed(code: "ThrottlingException", message: "slow down", transient: true),
                jitter: 0.999)
            guard case .rescheduleOutbox(_, let count, let next, let error)? = decision.effects.first else {
                Issue.record("a transient failure is rescheduled")
                return
            }
            #expect(count == attempts + 1)
            #expect(next >= previous && next <= 300_000)
            #expect(error.hasPrefix("ThrottlingException"))
            previous = next
        }
        #expect(previous > 290_000)
    }

    @Test("a Create that SageMaker refuses fails the task with SageMaker.<code>")
    func createRefused() {
        let decision = Correlator(now: 3).decide(
            Self.entry(.createJob), result: .failed(code: "ValidationException", message: "bad instance", transient: false), jitter: 0)
        #expect(decision.verdict == .createRefused("ValidationException"))
        let failure = decision.effects.compactMap { effect -> NewOutboxEntry? in if case .enqueue(let e) = effect { e } else { nil } }.first
        #expect(failure?.errorName == "SageMaker.ValidationException")
        #expect(decision.effects.contains(.removePending(tokenHash: "h")))
    }

    @Test("a Create that finds the job already there counts as created")
    func createExisting() {
        let decision = Correlator(now: 3).decide(
            Self.entry(.createJob), result: .failed(code: "ResourceInUse", message: "exists", transient: false), jitter: 0)
        #expect(decision.verdict == .delivered(.createJob))
        #expect(decision.effects == [.deleteOutbox(id: 7)])
    }

    @Test("delivered outcomes close the token")
    func delivered() {
        let decision = Correlator(now: 4).decide(Self.entry(.failure), result: .delivered, jitter: 0)
        #expect(decision.effects == [.deleteOutbox(id: 7), .markClosed(tokenHash: "h", result: "failed", at: 4)])
    }
}
