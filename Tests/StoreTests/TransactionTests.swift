import Dispatch
import Synchronization
import TestSupport
import Testing
import CallbackStore
@testable import Store

private struct Abort: Error {}

@Suite struct TransactionTests {
    private static func writeEverything(_ tx: StoreTransaction) throws {
        _ = try tx.insertPending(Sample.pending(1))
        _ = try tx.insertEarlyEvent(Sample.early(1, receivedAt: 1))
        _ = try tx.enqueue(Sample.outbox(1))
        try tx.markClosed(tokenHash: "h", at: 1, result: "success")
        try tx.recordRejected(Sample.rejected(1, receivedAt: 1))
    }

    private static let empty = StoreCounts(pending: 0, earlyEvents: 0, outbox: 0, rejected: 0, closed: 0)

    @Test func syncRollbackOnThrowLeavesNothing() throws {
        let database = try TemporaryStore.empty()
        let store = try database.open()
        #expect(throws: Abort.self) {
            try store.writeSync { tx throws in
                try Self.writeEverything(tx)
                throw Abort()
            }
        }
        #expect(try store.readSync { try $0.counts() } == Self.empty)
    }

    @Test(.timeLimit(.minutes(1)))
    func asyncRollbackOnThrowLeavesNothing() async throws {
        let database = try TemporaryStore.empty()
        let store = try database.open()
        await #expect(throws: Abort.self) {
            try await store.write { tx throws in
                try Self.writeEverything(tx)
                throw Abort()
            }
        }
        #expect(try await store.read { try $0.counts() } == Self.empty)
        // The connection is usable after a rollback.
        try await store.write { try Self.writeEverything($0) }
        #expect(try await store.read { try $0.counts() } == StoreCounts(pending: 1, earlyEvents: 1, outbox: 1, rejected: 1, closed: 1))
    }

    @Test(.timeLimit(.minutes(1)))
    func fiftyConcurrentWritesAllCommit() async throws {
        let database = try TemporaryStore.empty()
        let store = try database.open()
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for n in 0..<50 {
                group.addTask { try await store.write { try $0.insertPending(Sample.pending(n)) } }
            }
            for try await inserted in group { #expect(inserted) }
        }
        #expect(try await store.read { try $0.counts().pending } == 50)
    }

    @Test func readTransactionRefusesWrites() throws {
        let database = try TemporaryStore.empty()
        let store = try database.open()
        let error = #expect(throws: StoreError.self) { try store.readSync { try $0.insertPending(Sample.pending(1)) } }
        #expect(error?.code == .writeInReadTransaction)
        #expect(try store.readSync { try $0.counts().pending } == 0)
    }

    @Test func transactionIsDeadOutsideItsClosure() throws {
        let database = try TemporaryStore.empty()
        let store = try database.open()
        var escaped: StoreTransaction?
        try store.writeSync { escaped = $0 }
        let transaction = try #require(escaped)
        let error = #expect(throws: StoreError.self) { try transaction.counts() }
        #expect(error?.code == .transactionEnded)
    }

    @Test(.timeLimit(.minutes(1)))
    func closedStoreRefusesWork() async throws {
        let database = try TemporaryStore.empty()
        let store = try database.open()
        store.close()
        store.close()
        let syncError = #expect(throws: StoreError.self) { try store.readSync { try $0.counts() } }
        #expect(syncError?.code == .closed)
        let asyncError = await #expect(throws: StoreError.self) { try await store.write { try $0.counts() } }
        #expect(asyncError?.code == .closed)
    }

    /// Writes that arrive while a transaction runs share the next one, each in its own savepoint:
    /// later ones see earlier ones, one that throws leaves nothing, and the others commit.
    @Test(.timeLimit(.minutes(1)))
    func writesWaitingTogetherShareOneTransaction() async throws {
        let database = try TemporaryStore.empty()
        let store = try database.open()
        let gate = DispatchSemaphore(value: 0)
        let started = Atomic<Bool>(false)
        let first = Task {
            try await store.write { tx in
                started.store(true, ordering: .sequentiallyConsistent)
                gate.wait()
                return try tx.insertPending(Sample.pending(0))
            }
        }
        while !started.load(ordering: .sequentiallyConsistent) { await Task.yield() }
        // The first write holds the queue; these wait behind it, in this order.
        var waiting: [Task<Int, any Error>] = []
        for n in 1...5 {
            waiting.append(
                Task {
                    try await store.write { tx in
                        if n == 3 {
                            try Self.writeEverything(tx)
                            throw Abort()
                        }
                        _ = try tx.insertPending(Sample.pending(n))
                        // Every write before it in the group is visible, the one that threw excepted.
                        return try tx.counts().pending
                    }
                })
            while store.waitingWriteCount < n { await Task.yield() }
        }
        gate.signal()
        _ = try await first.value
        var seen: [Int] = []
        for (index, task) in waiting.enumerated() {
            if index == 2 {
                await #expect(throws: Abort.self) { try await task.value }
            } else {
                seen.append(try await task.value)
            }
        }
        #expect(seen == [2, 3, 4, 5])
        #expect(store.writeTransactions == 2, "the first write, then the five waiting ones together")
        let counts = try await store.read { try $0.counts() }
        #expect(counts.pending == 5 && counts.earlyEvents == 0 && counts.outbox == 0 && counts.rejected == 0 && counts.closed == 0)
    }

    /// What concurrent writers were told is committed is there for every other connection.
    @Test(.timeLimit(.minutes(1)))
    func concurrentWritesAreCommittedForEveryone() async throws {
        let database = try TemporaryStore.empty()
        let store = try database.open()
        defer { store.close() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 0..<200 {
                group.addTask { _ = try await store.write { tx in try tx.insertPending(Sample.pending(n)) } }
            }
            try await group.waitForAll()
        }
        let other = try RawConnection(path: database.path)
        #expect(try other.integer("SELECT count(*) FROM pending") == 200)
        #expect(store.writeTransactions < 200, "some writes shared a transaction")
    }
}
