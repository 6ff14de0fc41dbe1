import AWS
import CallbackStore
import Logging
@testable import Relay
import Store
import TestSupport
import Testing

/// The consumer against a recording queue and a real store: no curl, no emulator.
@Suite("Queue consumer", .timeLimit(.minutes(2)))
struct QueueConsumerTests {
    static func registration(_ n: Int) -> SQSMessage {
        SQSMessage(messageID: "m\(n)", receiptHandle: "h\(n)", body: #"{"TaskToken":"tok-\#(n)","ProcessingJobName":"job-\#(n)"}"#)
    }

    static func consumer(_ queue: FakeQueue, _ store: any CallbackStore, doorbell: Doorbell = Doorbell(), clock: ManualClock = ManualClock())
        -> QueueConsumer
    {
        QueueConsumer(
            queueURL: "https://sqs.eu-west-1.amazonaws.com/1/requests", role: .requests, source: queue, intake: MessageIntake(store: store),
            doorbell: doorbell, logger: Logger(label: "test"), clock: clock.clock
        )
    }

    /// Runs `consumer` until `done` holds, then cancels it.
    static func run(_ consumer: QueueConsumer, until what: String, _ done: () async throws -> Bool) async throws {
        let running = Task { try await consumer.run() }
        defer { running.cancel() }
        try await eventually(what, timeout: .seconds(60), done)
        running.cancel()
        try await running.value
    }

    @Test("a batch is committed before it is deleted, in one delete, and the dispatcher is rung")
    func commitBeforeDelete() async throws {
        let temporary = try TemporaryStore()
        let store = temporary.store
        let queue = FakeQueue([.messages((1...3).map(Self.registration))], observe: { (try? await store.counts().pending) ?? -1 })
        let doorbell = Doorbell()
        try await Self.run(Self.consumer(queue, store, doorbell: doorbell), until: "the delete") { await queue.deletes.count == 1 }
        let delete = try #require(await queue.deletes.first)
        #expect(delete.handles == ["h1", "h2", "h3"])
        #expect(delete.observed == 3, "all three were committed when the delete was sent")
        #expect(await queue.inQueue.isEmpty)
        #expect(doorbell.isRung)
    }

    @Test("a failed delete leaves the message in the queue; its redelivery is a duplicate and is deleted")
    func failedDeleteLeavesTheMessage() async throws {
        let temporary = try TemporaryStore()
        let queue = FakeQueue([.messages([Self.registration(1)]), .messages([Self.registration(1)])], failingDeletes: 1)
        try await Self.run(Self.consumer(queue, temporary.store), until: "two deletes") { await queue.deletes.count == 2 }
        #expect(await queue.deletes.map(\.handles) == [["h1"], ["h1"]])
        #expect(await queue.inQueue.isEmpty)
        let counts = try await temporary.store.counts()
        #expect(counts.pending == 1, "registered once")
        #expect(counts.outbox == 0)
    }

    @Test("throttled and failed receives back off 1 s doubling (upper half jittered), then consuming resumes")
    func receiveFailuresBackOff() async throws {
        let temporary = try TemporaryStore()
        let throttled = AWSError(code: "ThrottlingException", message: "slow down", httpStatus: 400, operation: "ReceiveMessage")
        let failing = AWSError(code: "InternalFailure", message: "oops", httpStatus: 500, operation: "ReceiveMessage")
        let queue = FakeQueue([.failure(throttled), .failure(throttled), .failure(failing), .messages([Self.registration(1)])])
        let clock = ManualClock(random: 0)
        try await Self.run(Self.consumer(queue, temporary.store, clock: clock), until: "the delete") { await queue.deletes.count == 1 }
        #expect(clock.sleeps == [.milliseconds(500), .milliseconds(1_000), .milliseconds(2_000)])
        #expect(try await temporary.store.counts().pending == 1)
    }
}
