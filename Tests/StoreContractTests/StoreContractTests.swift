import CallbackStore
import DynamoStore
import Foundation
import Testing

/// What every backend of `CallbackStore` promises, run on SQLite and on DynamoDB (moto).
@Suite(.timeLimit(.minutes(2)))
struct StoreContractTests {
    static let job = StoreKey.job(kind: "ProcessingJob", name: "job")

    @Test(arguments: Backend.allCases)
    func pendingCallbacksAreFoundByTokenJobAndExecution(_ backend: Backend) async throws {
        let t = try await TestStore(backend)
        let arn = "arn:aws:states:us-east-1:123456789012:execution:m:e1"
        try await t.store.apply([
            .insertPending(Sample.pending(1, registeredAt: 2_000, executionArn: arn)),
            .insertPending(Sample.pending(2, registeredAt: 1_000)),
            .insertPending(Sample.pending(3, job: "other")),
        ])
        let seen = try await t.store.look([.token(hash: "hash-1"), Self.job, .execution(arn: arn)]) { view in
            (
                try view.pending(tokenHash: "hash-1"), try view.pendingCallbacks(jobKind: "ProcessingJob", jobName: "job").map(\.tokenHash),
                try view.pendingCallbacks(executionArn: arn).map(\.tokenHash), try view.isClosed(tokenHash: "hash-1")
            )
        }
        #expect(seen.0 == Sample.pending(1, registeredAt: 2_000, executionArn: arn))
        #expect(seen.1 == ["hash-2", "hash-1"], "oldest registration first")
        #expect(seen.2 == ["hash-1"])
        #expect(seen.3 == false)
        #expect(try await t.store.counts().pending == 3)
        #expect(try await t.store.listPending(limit: 10).map(\.tokenHash) == ["hash-2", "hash-3", "hash-1"])
    }

    @Test(arguments: Backend.allCases)
    func aSecondInsertOfAPendingTokenChangesNothing(_ backend: Backend) async throws {
        let t = try await TestStore(backend)
        try await t.store.apply([.insertPending(Sample.pending(1, registeredAt: 1_000))])
        try await t.store.apply([.insertPending(Sample.pending(1, registeredAt: 9_000))])
        let pending = try await t.store.look([.token(hash: "hash-1")]) { try $0.pending(tokenHash: "hash-1") }
        #expect(pending?.registeredAt == 1_000)
        #expect(try await t.store.counts().pending == 1)
    }

    @Test(arguments: Backend.allCases)
    func completingMovesATokenFromPendingToClosedAndQueuesItsOutcome(_ backend: Backend) async throws {
        let t = try await TestStore(backend)
        try await t.store.apply([.insertPending(Sample.pending(1))])
        try await t.store.apply(
            [
                .dropQueued(tokenHash: "hash-1", actions: [.heartbeat, .createJob]),
                .enqueue(Sample.entry(1, notBefore: 5_000)),
                .removePending(tokenHash: "hash-1"),
                .markClosed(tokenHash: "hash-1", result: "queued", at: WallClock.millisecondsNow()),
            ], reads: [.token(hash: "hash-1"), Self.job])
        let state = try await t.store.look([.token(hash: "hash-1"), Self.job]) { view in
            (
                try view.pending(tokenHash: "hash-1"), try view.isClosed(tokenHash: "hash-1"),
                try view.pendingCallbacks(jobKind: "ProcessingJob", jobName: "job").count,
                try view.hasOutbox(tokenHash: "hash-1", action: .success)
            )
        }
        #expect(state.0 == nil)
        #expect(state.1, "closed tokens are remembered (within their TTL)")
        #expect(state.2 == 0)
        #expect(state.3)
        #expect(try await t.store.claimDueOutbox(now: 4_999, limit: 10).isEmpty, "not due before notBefore")
        let due = try await t.store.claimDueOutbox(now: WallClock.millisecondsNow(), limit: 10)
        #expect(due.map(\.action) == [.success])
        #expect(due.first?.payload == "{\"n\":1}")
        #expect(due.first?.taskToken == "token-1")
        let counts = try await t.store.counts()
        #expect(counts.pending == 0)
        #expect(counts.outbox == 1)
        #expect(counts.closed == 1)
    }

    @Test(arguments: Backend.allCases)
    func theFirstTerminalEventOfAJobIsKept(_ backend: Backend) async throws {
        let t = try await TestStore(backend)
        let now = WallClock.millisecondsNow()
        try await t.store.apply([.rememberTerminal(Sample.early(status: "Completed", receivedAt: now))])
        try await t.store.apply([.rememberTerminal(Sample.early(status: "Failed", receivedAt: now + 1))])
        let early = try await t.store.look([Self.job]) { try $0.earlyEvent(jobKind: "ProcessingJob", jobName: "job") }
        #expect(early?.status == "Completed")
        #expect(try await t.store.listEarlyEvents(limit: 10).map(\.status) == ["Completed"])
        #expect(try await t.store.counts().earlyEvents == 1)
    }

    @Test(arguments: Backend.allCases)
    func anExecutionEndIsRememberedAndALaterOneReplacesIt(_ backend: Backend) async throws {
        let t = try await TestStore(backend)
        let arn = "arn:aws:states:us-east-1:123456789012:execution:m:e2"
        let now = WallClock.millisecondsNow()
        try await t.store.apply([.rememberExecutionEnd(EndedExecution(executionArn: arn, status: "ABORTED", endedAt: now - 10, receivedAt: now))])
        try await t.store.apply([.rememberExecutionEnd(EndedExecution(executionArn: arn, status: "SUCCEEDED", endedAt: now, receivedAt: now))])
        let ended = try await t.store.look([.execution(arn: arn)]) { try $0.executionEnd(executionArn: arn) }
        #expect(ended?.status == "SUCCEEDED")
    }

    @Test(arguments: Backend.allCases)
    func theOutboxReschedulesDeletesAndDropsByAction(_ backend: Backend) async throws {
        let t = try await TestStore(backend)
        let now = WallClock.millisecondsNow()
        try await t.store.apply([.insertPending(Sample.pending(1, heartbeat: true))])
        try await t.store.apply([
            .enqueue(Sample.entry(1, action: .heartbeat, notBefore: now)), .enqueue(Sample.entry(1, action: .createJob, notBefore: now)),
        ])
        var due = try await t.store.claimDueOutbox(now: now, limit: 10)
        #expect(Set(due.map(\.action)) == [.heartbeat, .createJob])
        let create = try #require(due.first { $0.action == .createJob })
        try await t.store.apply(
            [.rescheduleOutbox(id: create.id, attempts: 1, nextAttemptAt: now + 60_000, lastError: "Throttling")], reads: [.token(hash: "hash-1")])
        due = try await t.store.claimDueOutbox(now: now, limit: 10)
        #expect(due.map(\.action) == [.heartbeat])
        #expect(try await t.store.nextOutboxAttempt(now: now).map { $0 <= now } == true)
        try await t.store.apply([.dropQueued(tokenHash: "hash-1", actions: [.heartbeat])], reads: [.token(hash: "hash-1")])
        #expect(try await t.store.claimDueOutbox(now: now, limit: 10).isEmpty)
        let listed = try await t.store.listOutbox(limit: 10)
        #expect(listed.map(\.action) == [.createJob])
        #expect(listed.first?.attempts == 1)
        #expect(listed.first?.lastError == "Throttling")
        #expect(try await t.store.look([.token(hash: "hash-1")]) { try $0.hasOutbox(tokenHash: "hash-1", action: .createJob) })
        try await t.store.apply([.deleteOutbox(id: create.id)], reads: [.token(hash: "hash-1")])
        #expect(try await t.store.look([.token(hash: "hash-1")]) { try $0.hasOutbox(tokenHash: "hash-1", action: .createJob) } == false)
        #expect(try await t.store.counts().outbox == 0)
        #expect(try await t.store.claimDueOutbox(now: now + 120_000, limit: 10).isEmpty)
    }

    @Test(arguments: Backend.allCases)
    func heartbeatsAreDueByTheirLastOne(_ backend: Backend) async throws {
        let t = try await TestStore(backend)
        try await t.store.apply([
            .insertPending(Sample.pending(1, registeredAt: 1_000, heartbeat: true)),
            .insertPending(Sample.pending(2, registeredAt: 2_000, heartbeat: true)),
            .insertPending(Sample.pending(3, registeredAt: 500)),
        ])
        #expect(try await t.store.heartbeatsDue(since: 1_500, limit: 10).map(\.tokenHash) == ["hash-1"])
        #expect(try await t.store.oldestHeartbeat() == 1_000)
        try await t.store.apply([.noteHeartbeat(tokenHash: "hash-1", at: 3_000)], reads: [.token(hash: "hash-1")])
        #expect(try await t.store.heartbeatsDue(since: 2_500, limit: 10).map(\.tokenHash) == ["hash-2"])
        #expect(try await t.store.oldestHeartbeat() == 2_000)
    }

    @Test(arguments: Backend.allCases)
    func theSweepFindsNewCallbacksThenScheduledRechecks(_ backend: Backend) async throws {
        let t = try await TestStore(backend)
        try await t.store.apply([
            .insertPending(Sample.pending(1, registeredAt: 1_000)),
            .insertPending(Sample.pending(2, job: "b", registeredAt: 5_000)),
        ])
        #expect(try await t.store.sweepDue(now: 10_000, firstCheckBefore: 2_000, limit: 10).map(\.tokenHash) == ["hash-1"])
        let next = try await t.store.nextSweep()
        #expect(next.oldestUnswept == 1_000)
        #expect(next.nextCheck == nil)
        try await t.store.apply(
            [.recordSweep(tokenHash: "hash-1", SweepState(checks: 1, status: "InProgress", nextCheckAt: 20_000))], reads: [.token(hash: "hash-1")])
        #expect(try await t.store.sweepDue(now: 10_000, firstCheckBefore: 6_000, limit: 10).map(\.tokenHash) == ["hash-2"])
        #expect(try await t.store.sweepDue(now: 20_000, firstCheckBefore: 0, limit: 10).map(\.tokenHash) == ["hash-1"])
        let after = try await t.store.nextSweep()
        #expect(after.oldestUnswept == 5_000)
        #expect(after.nextCheck == 20_000)
        let swept = try await t.store.look([.token(hash: "hash-1")]) { try $0.pending(tokenHash: "hash-1")?.sweep }
        #expect(swept == SweepState(checks: 1, status: "InProgress", nextCheckAt: 20_000))
    }

    @Test(arguments: Backend.allCases)
    func expiryFindsCallbacksByAge(_ backend: Backend) async throws {
        let t = try await TestStore(backend)
        try await t.store.apply([.insertPending(Sample.pending(1, registeredAt: 1_000)), .insertPending(Sample.pending(2, registeredAt: 3_000))])
        #expect(try await t.store.pendingCallbacks(registeredBefore: 2_000, limit: 10).map(\.tokenHash) == ["hash-1"])
        #expect(try await t.store.pendingCallbacks(registeredBefore: 1_000, limit: 10).isEmpty)
    }

    @Test(arguments: Backend.allCases)
    func rejectedMessagesAreKeptWithTheirBodyCut(_ backend: Backend) async throws {
        var options = StoreOptions()
        options.rejectedBodyLimit = 16
        let t = try await TestStore(backend, options: options)
        let now = WallClock.millisecondsNow()
        try await t.store.apply([
            .recordRejected(
                RejectedMessage(
                    receivedAt: now, source: "events", messageID: "m-1", reason: "not JSON", body: "é" + String(repeating: "x", count: 40)))
        ])
        let rejected = try await t.store.listRejected(limit: 10)
        #expect(rejected.map(\.reason) == ["not JSON"])
        #expect(rejected.first?.body.utf8.count ?? 99 <= 16)
        #expect(rejected.first?.messageID == "m-1")
        #expect(try await t.store.counts().rejected == 1)
    }

    @Test(arguments: Backend.allCases)
    func aPreviewSeesItsOwnEffectsAndLeavesNothing(_ backend: Backend) async throws {
        let t = try await TestStore(backend)
        let insert = StoreUnit<Bool>(reads: [.token(hash: "hash-1")]) { view in
            (try view.pending(tokenHash: "hash-1") != nil, [.insertPending(Sample.pending(1))])
        }
        let seen = try await t.store.preview([insert, insert])
        #expect(seen == [false, true], "the second unit sees the first one's callback")
        #expect(try await t.store.counts().pending == 0)
    }

    @Test(arguments: Backend.allCases)
    func anEventCompletesEveryCallbackOfItsJobHoweverMany(_ backend: Backend) async throws {
        let t = try await TestStore(backend)
        try await t.store.apply((1...25).map { .insertPending(Sample.pending($0, registeredAt: Int64($0))) })
        // The engine's terminal-event decision: every callback it is shown is completed.
        let unit = StoreUnit<Int>(reads: [Self.job]) { view in
            let pending = try view.pendingCallbacks(jobKind: "ProcessingJob", jobName: "job")
            let effects: [Effect] =
                pending.flatMap { callback -> [Effect] in
                    [
                        .enqueue(Sample.entry(Int(callback.registeredAt))), .removePending(tokenHash: callback.tokenHash),
                        .markClosed(tokenHash: callback.tokenHash, result: "queued", at: 9_000),
                    ]
                } + [.rememberTerminal(Sample.early(receivedAt: WallClock.millisecondsNow()))]
            return (pending.count, effects)
        }
        _ = try await t.store.commit(unit)
        #expect(try await t.store.counts().pending == 0)
        #expect(try await t.store.listOutbox(limit: 100).count == 25)
    }

    @Test(arguments: Backend.allCases)
    func leasesAreHeldByOneProcessAtATime(_ backend: Backend) async throws {
        let t = try await TestStore(backend)
        let other = try await t.replica()
        let now = WallClock.millisecondsNow()
        #expect(try await t.store.holdLease("sweep", now: now, duration: 10_000))
        #expect(try await t.store.holdLease("sweep", now: now + 1_000, duration: 10_000), "renewed by its holder")
        #expect(try await other.holdLease("sweep", now: now + 2_000, duration: 10_000) == (backend == .sqlite), "one process alone always holds it")
        #expect(try await other.holdLease("sweep", now: now + 20_000, duration: 10_000), "taken once it lapsed")
    }
}
