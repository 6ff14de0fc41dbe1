import TestSupport
import Testing
import CallbackStore
@testable import Store

@Suite struct EarlyEventTests {
    @Test func roundTripAndFirstEventWins() throws {
        let database = try TemporaryStore.empty()
        let store = try database.open()
        let first = Sample.early(1, receivedAt: 100, status: "Failed")
        let later = Sample.early(1, receivedAt: 200, status: "Completed")
        try store.writeSync { tx throws in
            #expect(try tx.insertEarlyEvent(first))
            #expect(try tx.insertEarlyEvent(later) == false)
        }
        try store.readSync { tx throws in
            #expect(try tx.earlyEvent(jobKind: "ProcessingJob", jobName: "job-1") == first)
            #expect(try tx.earlyEvent(jobKind: "TrainingJob", jobName: "job-1") == nil)
            #expect(try tx.counts().earlyEvents == 1)
        }
    }

    @Test func listIsNewestFirst() throws {
        let database = try TemporaryStore.empty()
        let store = try database.open()
        try store.writeSync { tx throws in
            for (n, at) in [(1, 20), (2, 40), (3, 10), (4, 30)] { _ = try tx.insertEarlyEvent(Sample.early(n, receivedAt: Int64(at))) }
        }
        let names = try store.readSync { try $0.listEarlyEvents(limit: 3).map(\.jobName) }
        #expect(names == ["job-2", "job-4", "job-1"])
    }

    @Test func capEvictsOldestReceivedFirst() throws {
        let database = try TemporaryStore.empty()
        var options = StoreOptions()
        options.earlyEventCap = 3
        let store = try database.open(options)
        // Received times out of insertion order: eviction must follow receivedAt, not row order.
        try store.writeSync { tx throws in
            for (n, at) in [(1, 50), (2, 10), (3, 40), (4, 20), (5, 60)] {
                _ = try tx.insertEarlyEvent(Sample.early(n, receivedAt: Int64(at)))
            }
        }
        try store.readSync { tx throws in
            #expect(try tx.listEarlyEvents(limit: 10).map(\.jobName) == ["job-5", "job-1", "job-3"])
            #expect(try tx.counts().earlyEvents == 3)
        }
    }

    @Test func ttlPruneAndDeleteKeepTheCountTrue() throws {
        let database = try TemporaryStore.empty()
        let store = try database.open()
        let day: Int64 = 86_400_000
        let now = 100 * day
        let (pruned, counted, actual) = try store.writeSync { tx throws in
            _ = try tx.insertEarlyEvent(Sample.early(1, receivedAt: now - 15 * day))
            _ = try tx.insertEarlyEvent(Sample.early(2, receivedAt: now - 13 * day))
            _ = try tx.insertEarlyEvent(Sample.early(3, receivedAt: now))
            try tx.markClosed(tokenHash: "old", at: now - 16 * day, result: "success")
            try tx.markClosed(tokenHash: "new", at: now - 14 * day, result: "success")
            let pruned = try tx.pruneExpired(now: now)
            #expect(try tx.deleteEarlyEvent(jobKind: "ProcessingJob", jobName: "job-3"))
            return (pruned, try tx.counts().earlyEvents, try tx.listEarlyEvents(limit: 10).map(\.jobName))
        }
        #expect(pruned.earlyEvents == 1)
        #expect(pruned.closed == 1)
        #expect(actual == ["job-2"])
        #expect(counted == actual.count)
    }
}
