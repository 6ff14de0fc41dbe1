import AWS
import DynamoStore
import Foundation
import JSON
import Logging
import Moto
@testable import Relay
import CallbackStore
import Testing

/// Several replicas of the service on one DynamoDB table: the outbox and the fleet-wide leases.
@Suite("Replicas on one DynamoDB table", .timeLimit(.minutes(4)))
struct ReplicaFleetTests {
    static let wait = "wait-for-processing-job"
    /// A short outbox lease, so a dead replica's entries are taken over within seconds.
    static let lease = ["SAGEMAKER_CALLBACK_DYNAMODB_LEASE": "2"]

    /// A SageMaker job state change as EventBridge delivers it to an SQS target.
    static func completedEvent(_ job: String) -> String {
        let event: JSONObject = [
            "version": "0", "id": .string(UUID().uuidString), "detail-type": "SageMaker Processing Job State Change",
            "source": "aws.sagemaker", "account": "123456789012", "time": "2024-05-19T10:00:00Z", "region": "us-east-1",
            "resources": [.string("arn:aws:sagemaker:us-east-1:123456789012:processing-job/\(job)")],
            "detail": .object(LocalDeployment.processingDetail(job, status: "Completed")),
        ]
        return JSONValue.object(event).serialized()
    }

    @Test(
        "two replicas complete a burst once each; a replica killed while it holds outbox entries has them delivered by the others once its lease lapses"
    )
    func burstAndTakeover() async throws {
        let emulator = try await Emulator.start("fleet", backend: .dynamoDB)
        defer { emulator.stop() }
        let d = emulator.deployment
        let first = try await InProcessRelay.start(emulator, environment: Self.lease)
        let second = try await InProcessRelay.start(emulator, environment: Self.lease)

        // A burst: both replicas consume both queues.
        let total = 20
        var executions: [String] = []
        for index in 0..<total {
            executions.append(
                try await d.startExecution(Self.wait, name: "fleet-\(index)", input: ["ProcessingJobName": .string("fleet-job-\(index)")]))
        }
        try await emulator.eventually("\(total) callbacks pending", timeout: .seconds(60)) { try await emulator.storeCounts().pending == total }
        for index in 0..<total { try await d.publishProcessingJob("fleet-job-\(index)", status: "Completed") }
        for arn in executions {
            #expect(try await d.waitForExecution(arn, timeout: .seconds(90))["status"] == "SUCCEEDED")
        }
        for arn in executions {
            #expect(try await emulator.historyTypes(arn).filter { $0 == "TaskSucceeded" }.count == 1, "\(arn)")
        }
        try await emulator.eventually("the outbox empties") { try await emulator.storeCounts().outbox == 0 }

        // A third replica, the real binary, gets the next jobs' events on a queue of its own and
        // cannot reach Step Functions: the outcomes it commits stay in the outbox, leased to it.
        let sqs = SQS(client: d.client)
        let ownQueue =
            try await d.client.call(.sqs, "CreateQueue", ["QueueName": .string("\(emulator.name)-doomed-events")])["QueueUrl"]?.stringValue ?? ""
        var environment = emulator.serviceEnvironment
        // Its leases are 4 s, not 2: on two busy cores a live replica that stalls past its lease
        // is rightly taken over, and the test checks that nothing is delivered before the kill.
        environment["SAGEMAKER_CALLBACK_DYNAMODB_LEASE"] = "4"
        environment["SAGEMAKER_CALLBACK_EVENTS_QUEUE_URL"] = ownQueue
        environment["AWS_ENDPOINT_URL_SFN"] = "http://127.0.0.1:9"
        let doomed = try ServiceProcess(["serve"], environment: environment, log: emulator.directory.appendingPathComponent("doomed.log"))
        let late = 6
        var held: [String] = []
        for index in 0..<late {
            held.append(try await d.startExecution(Self.wait, name: "held-\(index)", input: ["ProcessingJobName": .string("held-job-\(index)")]))
        }
        try await emulator.eventually("\(late) callbacks pending", timeout: .seconds(60)) { try await emulator.storeCounts().pending == late }
        for index in 0..<late { try await sqs.sendMessage(queueURL: ownQueue, body: Self.completedEvent("held-job-\(index)")) }
        try await emulator.eventually("the doomed replica committed every outcome", timeout: .seconds(60)) {
            let counts = try await emulator.storeCounts()
            return counts.pending == 0 && counts.outbox == late
        }
        try await emulator.eventually("it tried to deliver them") { doomed.output.contains("callback.retry_later") }
        doomed.crash()
        for arn in held {
            #expect(try await d.describeExecution(arn)["status"] == "RUNNING", "nothing was delivered before the kill")
        }

        // The survivors take the entries over once their lease lapsed, and deliver each once.
        for arn in held {
            #expect(try await d.waitForExecution(arn, timeout: .seconds(60))["status"] == "SUCCEEDED")
        }
        for arn in held {
            #expect(try await emulator.historyTypes(arn).filter { $0 == "TaskSucceeded" }.count == 1, "\(arn)")
        }
        try await emulator.eventually("the outbox empties") { try await emulator.storeCounts().outbox == 0 }
        try await first.stop()
        try await second.stop()
        let end = try await emulator.storeCounts()
        #expect(end.pending == 0 && end.closed == total + late)
    }

    @Test("expiry on DynamoDB: callbacks older than a year are listed oldest first and dropped by the one replica that holds the lease")
    func expiry() async throws {
        let moto = try await startMoto()
        defer { moto.stop() }
        let client = try moto.client()
        let table = "expiry-\(UUID().uuidString.prefix(8).lowercased())"
        try await Infra.createStateTable(named: table, on: client)
        var logger = Logger(label: "expiry-test")
        logger.logLevel = .warning
        func replica(_ id: String) async throws -> any CallbackStore {
            try await CallbackRelay.openStore(.dynamoDB(table: table), client: client, dynamo: DynamoStoreSettings(replicaID: id), logger: logger)
        }
        let a = try await replica("replica-a")
        let b = try await replica("replica-b")
        defer { a.close(); b.close() }

        let now = WallClock.millisecondsNow()
        let cutoff = now - Correlator.maxCallbackAge
        // Three callbacks past the cut-off (written straight through the store), one just inside it.
        let ages: [(hash: String, registeredAt: Int64)] = [
            ("old-2", cutoff - 2 * 86_400_000), ("old-1", cutoff - 60_000), ("old-3", cutoff - 3 * 86_400_000), ("young", cutoff + 3_600_000),
        ]
        for (hash, registeredAt) in ages {
            let callback = PendingCallback(
                tokenHash: hash, taskToken: "token-\(hash)", jobKind: "ProcessingJob", jobName: "job-\(hash)", registeredAt: registeredAt,
                heartbeat: hash == "old-1"
            )
            _ = try await a.commit(StoreUnit(reads: [.token(hash: hash)]) { _ in ((), [.insertPending(callback)]) })
        }
        #expect(try await b.pendingCallbacks(registeredBefore: cutoff, limit: 10).map(\.tokenHash) == ["old-3", "old-2", "old-1"])
        #expect(try await b.pendingCallbacks(registeredBefore: cutoff, limit: 2).map(\.tokenHash) == ["old-3", "old-2"])

        // Replica b holds the expiry lease: a's pass drops nothing; b's drops the three.
        #expect(try await b.holdLease("expiry", now: now, duration: StoreService.leaseDuration))
        #expect(try await a.holdLease("expiry", now: now + 1_000, duration: StoreService.leaseDuration) == false)
        try await StoreService(store: a, logger: logger).prune(now: now + 1_000)
        #expect(try await a.listPending(limit: 10).count == 4)
        try await StoreService(store: b, logger: logger).prune(now: now + 1_000)
        #expect(try await a.listPending(limit: 10).map(\.tokenHash) == ["young"])
        for hash in ["old-1", "old-2", "old-3"] {
            #expect(try await a.commit(StoreUnit(reads: [.token(hash: hash)]) { view in (try view.isClosed(tokenHash: hash), []) }))
        }
        #expect(try await a.heartbeatsDue(since: now, limit: 10).isEmpty, "an expired callback gets no heartbeat")
        #expect(try await a.pendingCallbacks(registeredBefore: cutoff, limit: 10).isEmpty)

        // Once b's lease lapses (b died), a takes expiry over.
        #expect(try await a.holdLease("expiry", now: now + StoreService.leaseDuration + 1, duration: StoreService.leaseDuration))
        #expect(try await b.holdLease("expiry", now: now + StoreService.leaseDuration + 2, duration: StoreService.leaseDuration) == false)
    }
}
