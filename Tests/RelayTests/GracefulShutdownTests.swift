import AWS
import CallbackStore
import Logging
@testable import Relay
import ServiceLifecycle
import ServiceLifecycleTestKit
import Store
import Synchronization
import TestSupport
import Testing

/// What each long-running service does when the group asks it to shut down gracefully, driven by
/// service-lifecycle's test kit (no signal, no service group): it stops taking new work, finishes
/// what it holds, and returns from `run()` on its own, without being cancelled.
@Suite("Graceful shutdown", .timeLimit(.minutes(1)))
struct GracefulShutdownTests {
    /// A value several tasks share, behind a lock.
    final class Shared<Value: Sendable>: Sendable {
        private let value: Mutex<Value>
        init(_ value: Value) { self.value = Mutex(value) }
        func get() -> Value { value.withLock { $0 } }
        func set(_ new: Value) { value.withLock { $0 = new } }
    }

    /// Runs `service` in a task that inherits the test kit's shutdown trigger, and says when it returned.
    struct Running: Sendable {
        private let returned = Shared<Result<Void, any Error>?>(nil)
        let task: Task<Void, Never>

        init(_ run: @escaping @Sendable () async throws -> Void) {
            let returned = self.returned
            task = Task {
                do { returned.set(.success(try await run())) } catch { returned.set(.failure(error)) }
            }
        }

        var hasReturned: Bool { returned.get() != nil }
        var result: Result<Void, any Error>? { returned.get() }
    }

    @Test("the consumer stops its long poll at once and returns, the batch it held committed and deleted")
    func consumerEndsItsLongPoll() async throws {
        try await testGracefulShutdown { trigger in
            let temporary = try TemporaryStore()
            // One batch, then a receive that waits as a long poll on a quiet queue does (600 s).
            let queue = FakeQueue([.messages([QueueConsumerTests.registration(1)])])
            let consumer = QueueConsumerTests.consumer(queue, temporary.store)
            let running = Running { try await consumer.run() }
            defer { running.task.cancel() }
            try await eventually("the batch deleted") { await queue.deletes.count == 1 }
            #expect(!running.hasReturned, "still polling: nothing asked it to stop")
            trigger.triggerGracefulShutdown()
            try await eventually("run() returned without being cancelled") { running.hasReturned }
            #expect(!running.task.isCancelled)
            if case .failure(let error) = running.result { Issue.record("run() threw \(error)") }
            #expect(try await temporary.store.counts().pending == 1)
            #expect(await queue.inQueue.isEmpty)
        }
    }

    @Test("the dispatcher finishes the call in flight and records its outcome before it returns")
    func dispatcherFinishesWhatIsInFlight() async throws {
        try await testGracefulShutdown { trigger in
            let temporary = try TemporaryStore()
            let clock = ManualClock()
            try await OutboxDispatcherTests.enqueue(temporary.store, .success, token: "slow", at: clock.now)
            let stepFunctions = FakeStepFunctions(latency: .milliseconds(500))
            let dispatcher = OutboxDispatcherTests.dispatcher(temporary.store, stepFunctions, clock: clock)
            let running = Running { try await dispatcher.run() }
            defer { running.task.cancel() }
            try await eventually("the call sent") { await stepFunctions.calls.count == 1 }
            trigger.triggerGracefulShutdown()
            try await eventually("run() returned") { running.hasReturned }
            #expect(!running.task.isCancelled)
            // Returned only once the call was answered and its result committed: the entry is gone
            // and the token is closed as delivered.
            #expect(try await temporary.store.read { try $0.listOutbox(limit: 10) }.isEmpty)
            #expect(try await temporary.store.read { try $0.closedToken(tokenHash: "hash-slow")?.result } == "succeeded")
        }
    }

    @Test("a timer loop waiting for its next pass returns at once")
    func timerLoopReturnsFromItsPause() async throws {
        try await testGracefulShutdown { trigger in
            let passes = Shared(0)
            let running = Running {
                // The real sleep: the wait for the next pass (an hour) is what shutdown must cut.
                await TimerLoop.run(failureEvent: "test.failed", logger: Logger(label: "test")) {
                    passes.set(passes.get() + 1)
                    return .seconds(3600)
                }
            }
            defer { running.task.cancel() }
            try await eventually("the first pass") { passes.get() >= 1 }
            trigger.triggerGracefulShutdown()
            try await eventually("run() returned") { running.hasReturned }
            #expect(!running.task.isCancelled)
            #expect(passes.get() == 1)
        }
    }
}
