import Foundation
import TestSupport
import Testing
import CallbackStore
@testable import Store

@Suite struct StoreFileTests {
    @Test func databaseAndSidecarsAreOwnerOnly() throws {
        let database = try TemporaryStore.empty()
        let store = try database.open()
        try store.writeSync { _ = try $0.insertPending(Sample.pending(1)) }
        // While the store is open the WAL and shared-memory files exist beside the database.
        #expect(try database.mode() == 0o600)
        #expect(try database.mode(suffix: "-wal") == 0o600)
        #expect(try database.mode(suffix: "-shm") == 0o600)
        store.close()
    }

    @Test(arguments: [(StoreOptions.Synchronous.full, "2"), (.normal, "1")])
    func connectionSettings(synchronous: StoreOptions.Synchronous, expected: String) throws {
        let database = try TemporaryStore.empty()
        var options = StoreOptions()
        options.synchronous = synchronous
        let store = try database.open(options)
        try store.readSync { tx throws in
            #expect(try tx.pragma("journal_mode") == "wal")
            #expect(try tx.pragma("synchronous") == expected)
            #expect(try tx.pragma("foreign_keys") == "1")
            #expect(try tx.pragma("busy_timeout") == "5000")
            #expect(try tx.pragma("user_version") == String(Store.schemaVersion))
        }
    }

    @Test func defaultsAreFullSync() {
        #expect(StoreOptions().synchronous == .full)
        #expect(StoreOptions().busyTimeout == .seconds(5))
    }

    @Test func dataSurvivesCloseAndReopen() throws {
        let database = try TemporaryStore.empty()
        let pending = Sample.pending(1)
        let early = Sample.early(1, receivedAt: 5)
        let first = try database.open()
        let id = try first.writeSync { tx throws in
            _ = try tx.insertPending(pending)
            _ = try tx.insertEarlyEvent(early)
            try tx.markClosed(tokenHash: "closed", at: 1, result: "success")
            try tx.recordRejected(Sample.rejected(1, receivedAt: 1))
            return try tx.enqueue(Sample.outbox(1))
        }
        first.close()

        let second = try database.open()
        try second.readSync { tx throws in
            #expect(try tx.counts() == StoreCounts(pending: 1, earlyEvents: 1, outbox: 1, rejected: 1, closed: 1))
            #expect(try tx.pending(tokenHash: pending.tokenHash) == pending)
            #expect(try tx.earlyEvent(jobKind: early.jobKind, jobName: early.jobName) == early)
            #expect(try tx.outbox(id: id)?.taskToken == "token-1")
            #expect(try tx.isClosed(tokenHash: "closed"))
        }
    }

    @Test func newerSchemaIsRefusedNamingBothVersions() throws {
        let database = try TemporaryStore.empty()
        try database.open().close()
        try RawConnection(path: database.path).execute("PRAGMA user_version = 99")
        let error = #expect(throws: StoreError.self) { try database.open() }
        #expect(error?.code == .schemaTooNew)
        #expect(error?.message.contains("99") == true)
        #expect(error?.message.contains("version \(Store.schemaVersion)") == true)
    }

    @Test(.timeLimit(.minutes(1)))
    func lockedDatabaseFailsBusyWithinTheTimeout() throws {
        let database = try TemporaryStore.empty()
        var options = StoreOptions()
        options.busyTimeout = .milliseconds(300)
        let store = try database.open(options)
        let holder = try RawConnection(path: database.path)
        try holder.execute("BEGIN IMMEDIATE")

        let start = ContinuousClock.now
        let error = #expect(throws: SQLiteError.self) {
            try store.writeSync { _ = try $0.insertPending(Sample.pending(1)) }
        }
        let waited = ContinuousClock.now - start
        #expect(error?.isBusy == true)
        #expect(error?.sql == "BEGIN IMMEDIATE")
        #expect(waited >= .milliseconds(250))
        #expect(waited < .seconds(5))

        // WAL readers are not blocked by the writer, and the store works once the lock is gone.
        #expect(try store.readSync { try $0.counts().pending } == 0)
        try holder.execute("ROLLBACK")
        #expect(try store.writeSync { try $0.insertPending(Sample.pending(1)) })
    }
}

/// Checkpoints run beside the writer, never inside a commit.
@Suite struct CheckpointTests {
    private static func size(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
    }

    @Test(.timeLimit(.minutes(1)))
    func theWALIsCopiedIntoTheDatabaseWhileTheStoreIsOpen() async throws {
        let database = try TemporaryStore.empty()
        let store = try database.open()
        defer { store.close() }
        let before = try Self.size(database.path)
        // Two commits more than the checkpoint interval apart: the second asks for a checkpoint.
        _ = try await store.write { tx in for n in 0..<300 { _ = try tx.insertPending(Sample.pending(n)) } }
        try await Task.sleep(for: Checkpointer.interval * 2)
        _ = try await store.write { tx in _ = try tx.insertPending(Sample.pending(300)) }
        // 300 callbacks of about 700 bytes each now live in the database file itself.
        let deadline = ContinuousClock.now + .seconds(20)
        while try Self.size(database.path) < before + 150_000, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(try Self.size(database.path) >= before + 150_000)
        #expect(store.checkpointer.checkpoints >= 1)
        #expect(try await store.read { try $0.counts().pending } == 301)
    }

    /// The WAL header's checkpoint sequence number: how many times SQLite has started it over.
    private static func walRestarts(_ path: String) throws -> Int {
        let file = try FileHandle(forReadingFrom: URL(fileURLWithPath: path + "-wal"))
        defer { try? file.close() }
        let header = try file.read(upToCount: 16) ?? Data()
        return header.count < 16 ? 0 : header.dropFirst(12).reduce(0) { $0 << 8 | Int($1) }
    }

    /// A checkpoint beside a writer that never pauses copies all it saw, but the writes that
    /// began while it ran still append to the WAL: without the pass that finishes each
    /// checkpoint with the writer held, the WAL is never started over and grows without end.
    @Test(.timeLimit(.minutes(1)))
    func theWALStartsOverWhileTheWriterNeverPauses() async throws {
        let database = try TemporaryStore.empty()
        let store = try database.open()
        defer { store.close() }
        let deadline = ContinuousClock.now + .seconds(30)
        // Eight writers keep the store's queue busy: each registers 20 callbacks, then removes them.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<8 {
                group.addTask {
                    var round = 0
                    while store.checkpointer.checkpoints < 8, ContinuousClock.now < deadline {
                        let numbers = (0..<20).map { writer * 1_000_000 + round * 20 + $0 }
                        _ = try await store.write { tx in for n in numbers { _ = try tx.insertPending(Sample.pending(n)) } }
                        _ = try await store.write { tx in for n in numbers { try tx.deletePending(tokenHash: "hash-\(n)") } }
                        round += 1
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(store.checkpointer.checkpoints >= 8)
        #expect(try Self.walRestarts(database.path) >= 3)
        #expect(try await store.read { try $0.counts().pending } == 0)
    }
}
