import TestSupport
import Testing
import CallbackStore
@testable import Store

@Suite struct PendingCallbackTests {
    @Test func roundTripKeepsEveryField() throws {
        let database = try TemporaryStore.empty()
        let store = try database.open()
        let full = PendingCallback(
            tokenHash: "h1", taskToken: "token-é-" + String(repeating: "x", count: 2_000), jobKind: "TrainingJob",
            jobName: "train-1", registeredAt: 1_700_000_000_123, executionArn: "arn:aws:states:us-east-1:1:execution:sm:e",
            heartbeat: true, createdByService: true, lastStatus: "InProgress", lastEventAt: 1_700_000_000_456
        )
        let bare = Sample.pending(2)
        try store.writeSync { tx throws in
            #expect(try tx.insertPending(full))
            #expect(try tx.insertPending(bare))
        }
        try store.readSync { tx throws in
            #expect(try tx.pending(tokenHash: "h1") == full)
            #expect(try tx.pending(tokenHash: bare.tokenHash) == bare)
            #expect(try tx.pending(tokenHash: "absent") == nil)
        }
    }

    @Test func duplicateTokenHashReturnsFalseAndChangesNothing() throws {
        let database = try TemporaryStore.empty()
        let store = try database.open()
        let first = Sample.pending(1)
        var second = first
        second.jobName = "another"
        try store.writeSync { tx throws in
            #expect(try tx.insertPending(first))
            #expect(try tx.insertPending(second) == false)
            #expect(try tx.pending(tokenHash: first.tokenHash) == first)
            #expect(try tx.counts().pending == 1)
        }
    }

    @Test func byJobListsOnlyThatJobOldestFirst() throws {
        let database = try TemporaryStore.empty()
        let store = try database.open()
        try store.writeSync { tx throws in
            _ = try tx.insertPending(Sample.pending(1, job: "a", registeredAt: 30))
            _ = try tx.insertPending(Sample.pending(2, job: "b", registeredAt: 10))
            _ = try tx.insertPending(Sample.pending(3, job: "a", registeredAt: 20))
        }
        let hashes = try store.readSync { tx throws in
            try tx.pendingCallbacks(jobKind: "ProcessingJob", jobName: "a").map(\.tokenHash)
        }
        #expect(hashes == ["hash-3", "hash-1"])
        let other = try store.readSync { try $0.pendingCallbacks(jobKind: "TrainingJob", jobName: "a") }
        #expect(other.isEmpty)
    }

    @Test func listPendingIsOldestFirstAndLimited() throws {
        let database = try TemporaryStore.empty()
        let store = try database.open()
        try store.writeSync { tx throws in
            for (n, at) in [(1, 50), (2, 10), (3, 40), (4, 20)] {
                _ = try tx.insertPending(Sample.pending(n, registeredAt: Int64(at)))
            }
        }
        let listed = try store.readSync { try $0.listPending(limit: 3).map(\.tokenHash) }
        #expect(listed == ["hash-2", "hash-4", "hash-3"])
    }

    @Test func statusUpdateAndDelete() throws {
        let database = try TemporaryStore.empty()
        let store = try database.open()
        try store.writeSync { tx throws in
            _ = try tx.insertPending(Sample.pending(1))
            try tx.updatePendingStatus(tokenHash: "hash-1", status: "InProgress", at: 5_000)
        }
        let updated = try store.readSync { try $0.pending(tokenHash: "hash-1") }
        #expect(updated?.lastStatus == "InProgress")
        #expect(updated?.lastEventAt == 5_000)
        try store.writeSync { try $0.deletePending(tokenHash: "hash-1") }
        #expect(try store.readSync { try $0.pending(tokenHash: "hash-1") } == nil)
    }
}

@Suite struct ClosedTokenTests {
    @Test func markClosedIsAnUpsert() throws {
        let database = try TemporaryStore.empty()
        let store = try database.open()
        try store.writeSync { tx throws in
            #expect(try tx.isClosed(tokenHash: "h") == false)
            try tx.markClosed(tokenHash: "h", at: 10, result: "success")
            try tx.markClosed(tokenHash: "h", at: 20, result: "TaskTimedOut")
        }
        try store.readSync { tx throws in
            #expect(try tx.isClosed(tokenHash: "h"))
            #expect(try tx.closedToken(tokenHash: "h") == ClosedToken(tokenHash: "h", closedAt: 20, result: "TaskTimedOut"))
            #expect(try tx.counts().closed == 1)
        }
    }

    @Test func pruneForgetsOnlyOlderTokens() throws {
        let database = try TemporaryStore.empty()
        let store = try database.open()
        let pruned = try store.writeSync { tx throws in
            for at in [10, 20, 30, 40] { try tx.markClosed(tokenHash: "h\(at)", at: Int64(at), result: "success") }
            return try tx.pruneClosed(olderThan: 30)
        }
        #expect(pruned == 2)
        try store.readSync { tx throws in
            #expect(try tx.isClosed(tokenHash: "h20") == false)
            #expect(try tx.isClosed(tokenHash: "h30"))
            #expect(try tx.isClosed(tokenHash: "h40"))
        }
    }
}
