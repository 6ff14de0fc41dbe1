import AWS
import CallbackStore
import JSON
import Logging
@testable import Relay
import Store
import TestSupport
import Testing

/// The sweep against a recording SageMaker fake and a real store.
@Suite("Safety sweep", .timeLimit(.minutes(1)))
struct SafetySweepTests {
    static func register(_ store: Store, job: String, at registeredAt: Int64) async throws {
        try await store.write { tx in
            _ = try tx.insertPending(
                PendingCallback(
                    tokenHash: "hash-\(job)", taskToken: "tok-\(job)", jobKind: "ProcessingJob", jobName: job, registeredAt: registeredAt
                ))
        }
    }

    @Test("only callbacks waiting longer than `after` are asked about; a job found Completed completes its callback and rings the dispatcher")
    func asksOnlyWhatIsDue() async throws {
        let temporary = try TemporaryStore()
        let clock = ManualClock()
        let now = clock.now
        try await Self.register(temporary.store, job: "old-job", at: now - 7_200_000)
        try await Self.register(temporary.store, job: "new-job", at: now - 60_000)
        let sageMaker = FakeSageMaker(descriptions: [
            "old-job": .success([
                "ProcessingJobName": "old-job", "ProcessingJobStatus": "Completed",
                "ProcessingJobArn": "arn:aws:sagemaker:eu-west-1:1:processing-job/old-job",
            ]),
            "new-job": .success(["ProcessingJobName": "new-job", "ProcessingJobStatus": "Completed"]),
        ])
        let doorbell = Doorbell()
        let sweep = SafetySweep(
            store: temporary.store, jobs: sageMaker, settings: .init(after: .seconds(3_600), rate: 1_000), doorbell: doorbell,
            logger: Logger(label: "test"), clock: clock.clock
        )
        var pacer = SweepPacer(rate: 1_000, clock: clock.clock)
        #expect(try await sweep.pass(pacer: &pacer) == .zero)
        #expect(await sageMaker.described == ["old-job"])
        #expect(doorbell.isRung)
        let outbox = try await temporary.store.read { try $0.listOutbox(limit: 10) }
        #expect(outbox.map(\.taskToken) == ["tok-old-job"])
        #expect(outbox.first?.action == .success)
        #expect(try await temporary.store.listPending(limit: 10).map(\.jobName) == ["new-job"])
        // Nothing else is due: the next pass asks nothing and sleeps until new-job's hour is up.
        #expect(try await sweep.pass(pacer: &pacer) == .milliseconds(3_600_000 - 60_000))
        #expect(await sageMaker.described == ["old-job"])
    }

    @Test("a describe refused for good defers the check and tells the pacer it was not throttling")
    func refusedDescribe() async throws {
        let temporary = try TemporaryStore()
        let clock = ManualClock()
        try await Self.register(temporary.store, job: "job", at: clock.now - 7_200_000)
        let denied = AWSError(code: "AccessDeniedException", message: "no", httpStatus: 400, operation: "DescribeProcessingJob")
        let sweep = SafetySweep(
            store: temporary.store, jobs: FakeSageMaker(descriptions: ["job": .failure(denied)]), settings: .init(after: .seconds(3_600)),
            doorbell: Doorbell(), logger: Logger(label: "test"), clock: clock.clock
        )
        #expect(await sweep.describe(.processing, name: "job") == .failed(code: "AccessDeniedException", throttled: false))
        let throttled = AWSError(code: "ThrottlingException", message: "slow", httpStatus: 400, operation: "DescribeProcessingJob")
        let slowed = SafetySweep(
            store: temporary.store, jobs: FakeSageMaker(descriptions: ["job": .failure(throttled)]), settings: .init(after: .seconds(3_600)),
            doorbell: Doorbell(), logger: Logger(label: "test"), clock: clock.clock
        )
        #expect(await slowed.describe(.processing, name: "job") == .failed(code: "ThrottlingException", throttled: true))
        #expect(await slowed.describe(.processing, name: "unknown") == .missing)
    }
}
