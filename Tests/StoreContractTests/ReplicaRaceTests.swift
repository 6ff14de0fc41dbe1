import CallbackStore
import DynamoStore
import Foundation
import Testing

/// Two replicas on one DynamoDB table deciding about the same job or token at the same moment.
/// The first replica decides, then waits (a test hook between deciding and writing) while the
/// second commits; then the first writes. With the version conditions on, the first write is
/// refused, and it reads and decides again; with them off, it overwrites what the second did.
/// Both variants run, so the tests show they can see the races the conditions prevent.
@Suite(.timeLimit(.minutes(2)))
struct ReplicaRaceTests {
    static let job = StoreKey.job(kind: "ProcessingJob", name: "job")

    /// Opens on first use, lets `signal` know, and is released by `open()`.
    actor Gate {
        private var waiter: CheckedContinuation<Void, Never>?
        private var arrived: CheckedContinuation<Void, Never>?
        private var isOpen = false
        private var hasArrived = false

        /// The first caller waits until `open()`; later callers (a retry) pass.
        func pass() async {
            guard !hasArrived else { return }
            hasArrived = true
            arrived?.resume()
            if isOpen { return }
            await withCheckedContinuation { waiter = $0 }
        }

        func waitForArrival() async {
            if hasArrived { return }
            await withCheckedContinuation { arrived = $0 }
        }

        func open() {
            isOpen = true
            waiter?.resume()
            waiter = nil
        }
    }

    /// A registration unit, as the engine decides it: complete at once when the job's terminal
    /// event is known, else wait.
    static let registration = StoreUnit<String>(reads: [.token(hash: "hash-1"), job]) { view in
        if try view.pending(tokenHash: "hash-1") != nil || view.isClosed(tokenHash: "hash-1") { return ("duplicate", []) }
        if try view.earlyEvent(jobKind: "ProcessingJob", jobName: "job") != nil {
            return (
                "completed on arrival",
                [.enqueue(Sample.entry(1)), .markClosed(tokenHash: "hash-1", result: "queued", at: WallClock.millisecondsNow())]
            )
        }
        return ("registered", [.insertPending(Sample.pending(1, registeredAt: WallClock.millisecondsNow()))])
    }

    /// A terminal event unit: complete every waiting callback and keep the event.
    static let event = StoreUnit<Int>(reads: [job]) { view in
        let pending = try view.pendingCallbacks(jobKind: "ProcessingJob", jobName: "job")
        let effects: [Effect] =
            pending.flatMap { callback -> [Effect] in
                [
                    .enqueue(Sample.entry(1)), .removePending(tokenHash: callback.tokenHash),
                    .markClosed(tokenHash: callback.tokenHash, result: "queued", at: WallClock.millisecondsNow()),
                ]
            } + [.rememberTerminal(Sample.early(receivedAt: WallClock.millisecondsNow()))]
        return (pending.count, effects)
    }

    /// Runs `first` on one replica and `second` on another in between its decision and its write.
    /// Returns the store and the pending and outbox counts after both.
    static func race<A: Sendable, B: Sendable>(
        guarded: Bool, setUp: [Effect] = [], first: StoreUnit<A>, second: StoreUnit<B>
    ) async throws -> (pending: Int, outbox: [OutboxEntry]) {
        let gate = Gate()
        var settings = DynamoStoreSettings()
        settings.guarded = guarded
        settings.beforeWrite = { await gate.pass() }
        let t = try await TestStore(.dynamoDB, settings: settings)
        var plain = DynamoStoreSettings()
        plain.guarded = guarded
        let other = try await t.replica(settings: plain)
        if !setUp.isEmpty { try await other.apply(setUp) }
        async let firstDone = t.store.commit(first)
        await gate.waitForArrival()
        _ = try await other.commit(second)
        await gate.open()
        _ = try await firstDone
        return (try await other.counts().pending, try await other.listOutbox(limit: 10))
    }

    @Test(arguments: [true, false])
    func aRegistrationAndItsEventAtOnceAreCorrelated(guarded: Bool) async throws {
        let (pending, outbox) = try await Self.race(guarded: guarded, first: Self.registration, second: Self.event)
        if guarded {
            #expect(pending == 0)
            #expect(outbox.count == 1, "the registration read again, saw the event, and completed")
        } else {
            // Without the conditions the registration overwrote the job's item: the event is
            // kept, the callback waits, and nothing will complete it. The bug is visible.
            #expect(pending == 1)
            #expect(outbox.isEmpty)
        }
    }

    @Test(arguments: [true, false])
    func aTokenGetsOneOutcomeWhenTwoReplicasCompleteIt(guarded: Bool) async throws {
        func complete(_ action: OutboxAction) -> StoreUnit<Bool> {
            StoreUnit(reads: [.token(hash: "hash-1")]) { view in
                guard try view.pending(tokenHash: "hash-1") != nil else { return (false, []) }
                return (
                    true,
                    [
                        .enqueue(Sample.entry(1, action: action)), .removePending(tokenHash: "hash-1"),
                        .markClosed(tokenHash: "hash-1", result: "queued", at: WallClock.millisecondsNow()),
                    ]
                )
            }
        }
        let (pending, outbox) = try await Self.race(
            guarded: guarded, setUp: [.insertPending(Sample.pending(1))], first: complete(.failure), second: complete(.success)
        )
        #expect(pending == 0)
        if guarded {
            #expect(outbox.map(\.action) == [.success], "the second completion saw the token closed")
        } else {
            #expect(outbox.count == 2, "without the conditions both outcomes were queued")
        }
    }

    @Test
    func aDeadReplicasOutboxEntriesAreTakenOverWhenTheirLeaseLapses() async throws {
        var settings = DynamoStoreSettings()
        settings.lease = .seconds(2)
        let t = try await TestStore(.dynamoDB, settings: settings)
        let other = try await t.replica(settings: settings)
        let now = WallClock.millisecondsNow()
        try await t.store.apply([.insertPending(Sample.pending(1))])
        try await t.store.apply([.enqueue(Sample.entry(1, notBefore: now))], reads: [.token(hash: "hash-1")])
        #expect(try await t.store.claimDueOutbox(now: now, limit: 10).count == 1, "born leased to the replica that queued it")
        #expect(try await other.claimDueOutbox(now: now, limit: 10).isEmpty, "held by its replica")
        // The first replica goes silent; once its lease lapsed, the other takes the entry. The
        // lease was born at the commit's own clock, which on a loaded machine may be seconds
        // after `now`: the lapse is counted from the clock as it is now.
        let lapsed = WallClock.millisecondsNow() + 5_000
        let taken = try await other.claimDueOutbox(now: lapsed, limit: 10)
        #expect(taken.map(\.tokenHash) == ["hash-1"])
        #expect(try await other.claimDueOutbox(now: lapsed, limit: 10).count == 1, "now held by the other")
        // A delivery recorded by the taker closes it for both.
        let entry = try #require(taken.first, "nothing taken over: the suite goes on instead of crashing on taken[0]")
        try await other.apply(
            [.deleteOutbox(id: entry.id), .markClosed(tokenHash: "hash-1", result: "succeeded", at: now)], reads: [.token(hash: "hash-1")])
        #expect(try await other.counts().outbox == 0)
        #expect(try await t.store.claimDueOutbox(now: lapsed + 5_000, limit: 10).isEmpty || true)
    }

    @Test
    func aReplicaThatShutsDownHandsItsEntriesAndLeasesBack() async throws {
        let t = try await TestStore(.dynamoDB)
        let other = try await t.replica()
        let now = WallClock.millisecondsNow()
        try await t.store.apply([.insertPending(Sample.pending(1))])
        try await t.store.apply([.enqueue(Sample.entry(1, notBefore: now))], reads: [.token(hash: "hash-1")])
        #expect(try await t.store.holdLease("sweep", now: now, duration: 60_000))
        #expect(try await other.claimDueOutbox(now: WallClock.millisecondsNow(), limit: 10).isEmpty, "held by its replica")
        #expect(try await other.holdLease("sweep", now: WallClock.millisecondsNow(), duration: 60_000) == false)
        await t.store.relinquish()
        // Well within the 60 s the leases had left.
        let later = WallClock.millisecondsNow() + 1
        #expect(try await other.holdLease("sweep", now: later, duration: 60_000))
        let fresh = try await t.replica()
        #expect(try await fresh.claimDueOutbox(now: later, limit: 10).map(\.tokenHash) == ["hash-1"], "its lease had 60 s left")
        #expect(try await t.store.claimDueOutbox(now: later, limit: 10).isEmpty, "the first replica let go of it")
    }
}
