import BenchSupport
import CallbackStore
import DynamoStore
import FakeAWS
import Foundation
import Logging
import Moto
import Relay
import Testing

/// The guarantees under AWS faults and under SIGKILL, proven on the real binary against the fast
/// fake (bounded versions of `make faults`).
@Suite("Faults and kill loops", .timeLimit(.minutes(4)))
struct FaultTests {
    static var eventsDirectory: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("events").path
    }

    static func binary() throws -> String {
        guard FileManager.default.isExecutableFile(atPath: ServiceProcess.binary) else {
            Issue.record("the service binary is missing at \(ServiceProcess.binary): run `swift build` (make test does)")
            throw BenchError("no binary")
        }
        return ServiceProcess.binary
    }

    @Test("every fault mode at once, 5 % each on SQS and Step Functions: every callback delivered once, the queues empty, serve still running")
    func allFaultsAtOnce() async throws {
        let run = FaultRun(
            scenario: .everything(rate: 0.05, jobs: 400), binary: try Self.binary(), eventsDirectory: Self.eventsDirectory, timeout: 90)
        let report = try await run.measure()
        #expect(report.error == nil)
        #expect(report.tally.completed == 400)
        #expect(report.tally.lost == 0)
        #expect(report.tally.secondOutcomes == 0)
        #expect(report.tally.leftInQueues == 0)
        #expect(report.serveRunning)
        #expect(report.exit == 0)
        // The faults really were there, and retries stay bounded (not spinning).
        #expect(report.faultsInjected > 50)
        #expect(report.requestsPerCallback < 10)
    }

    @Test(
        "serve SIGKILLed inside deliveries, inside commits and at random during a burst, restarted on the same SQLite database: nothing lost, no second outcome"
    )
    func killLoop() async throws {
        let loop = KillLoop(name: "sqlite", jobs: 300, kills: 4, binary: try Self.binary(), eventsDirectory: Self.eventsDirectory, timeout: 90)
        let report = try await loop.run()
        #expect(report.error == nil)
        #expect(report.kills == 4)
        #expect(report.killsInDelivery >= 1)
        #expect(report.killsInCommit >= 1)
        #expect(report.tally.completed == 300)
        #expect(report.tally.lost == 0)
        #expect(report.tally.secondOutcomes == 0)
        #expect(report.tally.leftInQueues == 0)
    }

    @Test(
        "3 replicas on one DynamoDB table (moto), SIGKILLed inside deliveries, inside commits and at random, each restarted: nothing lost, no second outcome"
    )
    func dynamoKillLoop() async throws {
        let moto = try await MotoServer.shared()
        let loop = KillLoop(
            name: "dynamodb ×3", jobs: 200, kills: 4, store: .dynamoDB(replicas: 3, moto: moto), binary: try Self.binary(),
            eventsDirectory: Self.eventsDirectory, timeout: 120
        )
        let report = try await loop.run()
        print(KillReport.header)
        print(report.line)
        #expect(report.error == nil)
        #expect(report.kills == 4)
        #expect(report.killsInDelivery >= 1)
        #expect(report.killsInCommit >= 1)
        #expect(report.tally.completed == 200)
        #expect(report.tally.lost == 0)
        #expect(report.tally.secondOutcomes == 0)
        #expect(report.tally.leftInQueues == 0)
    }

    @Test(
        "a survivor takes a dead replica's lapsed outbox entries over 16 per claim, looking again at once while a batch is full, so its own deliveries never wait behind hundreds of writes"
    )
    func takeoverInBatches() async throws {
        let moto = try await MotoServer.shared()
        let client = try moto.client()
        let table = "takeover-\(UUID().uuidString.prefix(8).lowercased())"
        try await Infra.createStateTable(named: table, on: client)
        var logger = Logger(label: "takeover-test")
        logger.logLevel = .warning
        func replica(_ id: String) async throws -> any CallbackStore {
            var settings = DynamoStoreSettings(replicaID: id)
            settings.lease = .seconds(1)
            return try await CallbackRelay.openStore(.dynamoDB(table: table), client: client, dynamo: settings, logger: logger)
        }
        let dead = try await replica("dead")
        let survivor = try await replica("survivor")
        defer { dead.close(); survivor.close() }
        let now = WallClock.millisecondsNow()
        let units = (0..<40).map { i in
            StoreUnit(reads: [.token(hash: "lapsed-\(i)")]) { _ in
                (
                    (),
                    [
                        Effect.enqueue(
                            NewOutboxEntry(
                                tokenHash: "lapsed-\(i)", taskToken: "token-\(i)", jobKind: "ProcessingJob", jobName: "job-\(i)", action: .success,
                                payload: "{}", notBefore: now
                            ))
                    ]
                )
            }
        }
        _ = try await dead.commit(units)
        // The dead replica's leases (1 s from when it decided, which on a busy moto is well after
        // `now`) have lapsed 2 s after its commit returned; the survivor claims with 256 places free.
        let later = WallClock.millisecondsNow() + 2_000
        var claims: [Int] = []
        var taken: Set<Int64> = []
        while taken.count < 40, claims.count < 10 {
            let claimed = try await survivor.claimDueOutbox(now: later, limit: 256, excluding: taken)
            claims.append(claimed.count)
            taken.formUnion(claimed.map(\.id))
        }
        #expect(claims == [16, 16, 8], "entries taken per claim")
        #expect(taken.count == 40)
    }

    @Test(
        "a ReceiveMessage answer (its messages in flight) stalled past the receive's timeout: the consumer gives up on it, receives again, and loses nothing"
    )
    func stalledReceive() async throws {
        let run = FaultRun(
            scenario: .receiveStalls(1, rate: 1, jobs: 100), binary: try Self.binary(), eventsDirectory: Self.eventsDirectory, timeout: 90)
        let report = try await run.measure()
        #expect(report.error == nil)
        #expect(report.faultsInjected == 1)
        #expect(report.tally.completed == 100)
        #expect(report.tally.lost == 0)
        #expect(report.tally.secondOutcomes == 0)
        #expect(report.tally.leftInQueues == 0)
        #expect(report.serveRunning)
        #expect(report.exit == 0)
        // The consumer waited out its timeout (the 20 s long poll plus 15 s) once, no more.
        #expect(report.wallSeconds >= 35)
    }

    @Test("deletes that stall do not stop the queue's intake: a committed batch frees its place before its delete is answered")
    func stalledDeletesDoNotBlockIntake() async throws {
        let rig = try await FakeRig(run: "stalled-deletes", eventsDirectory: Self.eventsDirectory)
        let serve = try await rig.startServeOrShutDown(binary: try Self.binary())
        do {
            try await until("serve to poll both queues", serve: serve, seconds: 30) { (rig.fake.counters.requests["ReceiveMessage"] ?? 0) >= 2 }
            // Every DeleteMessageBatch is applied, then its answer held for a minute: far beyond
            // serve's 10 s timeout and its retries. Receives are served as usual.
            rig.fake.setFaults(FaultPlan(sqs: ServiceFaults([.stall: 1], neverStalled: ["ReceiveMessage"]), stall: .seconds(60)))
            _ = try await rig.loader.send(count: 100, to: rig.requestsURL, body: rig.catalog.registration)
            // Ten batches: more than the four a consumer has in hand. Had the stalled deletes kept
            // their batches' places, intake would stop at 40 messages until their retries gave up
            // (5 attempts of 10 s each).
            try await until("all 100 registrations received, committed and deleted", serve: serve, seconds: 30) {
                rig.fake.counts(queue: rig.requestsQueue)?.deleted == 100
            }
            #expect(rig.fake.counters.deliveries == 100)
            #expect(rig.fake.faultCounts.count(.stall) >= 10)
        } catch {
            serve.kill()
            try await rig.shutdown()
            throw error
        }
        serve.kill()
        serve.removeDirectory()
        try await rig.shutdown()
    }
}
