import TestSupport
import Testing
import CallbackStore
@testable import Store

@Suite struct OutboxTests {
    @Test(arguments: OutboxAction.allCases)
    func roundTripKeepsEveryField(action: OutboxAction) throws {
        let database = try TemporaryStore.empty()
        let store = try database.open()
        let new = Sample.outbox(7, action: action, notBefore: 1_234)
        let id = try store.writeSync { try $0.enqueue(new) }
        let entry = try #require(try store.readSync { try $0.outbox(id: id) })
        #expect(
            entry
                == OutboxEntry(
                    id: id, tokenHash: new.tokenHash, taskToken: new.taskToken, jobKind: new.jobKind, jobName: new.jobName,
                    action: action, payload: new.payload, errorName: new.errorName, attempts: 0,
                    nextAttemptAt: 1_234, createdAt: 1_234, lastError: nil
                ))
    }

    @Test func dueIsOrderedLimitedAndSkipsExcluded() throws {
        let database = try TemporaryStore.empty()
        let store = try database.open()
        let ids = try store.writeSync { tx throws in
            try [30, 10, 20, 10, 99].enumerated().map { n, at in try tx.enqueue(Sample.outbox(n, notBefore: Int64(at))) }
        }
        try store.readSync { tx throws in
            // Due at 30: ids[1] and ids[3] (at 10, by id), ids[2] (20), ids[0] (30); ids[4] is not due.
            #expect(try tx.dueOutbox(now: 30, limit: 10, excluding: []).map(\.id) == [ids[1], ids[3], ids[2], ids[0]])
            #expect(try tx.dueOutbox(now: 30, limit: 2, excluding: [ids[1]]).map(\.id) == [ids[3], ids[2]])
            #expect(try tx.dueOutbox(now: 5, limit: 10, excluding: []).isEmpty)
            #expect(try tx.nextOutboxAttempt(excluding: []) == 10)
            #expect(try tx.nextOutboxAttempt(excluding: [ids[1], ids[3]]) == 20)
            #expect(try tx.nextOutboxAttempt(excluding: Set(ids)) == nil)
            #expect(try tx.listOutbox(limit: 3).map(\.id) == [ids[1], ids[3], ids[2]])
        }
    }

    @Test func rescheduleRecordsTheAttempt() throws {
        let database = try TemporaryStore.empty()
        let store = try database.open()
        let id = try store.writeSync { tx throws in
            let id = try tx.enqueue(Sample.outbox(1, notBefore: 10))
            try tx.rescheduleOutbox(id: id, attempts: 3, nextAttemptAt: 500, lastError: "ThrottlingException: slow down")
            return id
        }
        try store.readSync { tx throws in
            let entry = try #require(try tx.outbox(id: id))
            #expect(entry.attempts == 3)
            #expect(entry.nextAttemptAt == 500)
            #expect(entry.createdAt == 10)
            #expect(entry.lastError == "ThrottlingException: slow down")
            #expect(try tx.nextOutboxAttempt(excluding: []) == 500)
        }
    }

    @Test func deleteByIDAndByTokenAndAction() throws {
        let database = try TemporaryStore.empty()
        let store = try database.open()
        let deleted = try store.writeSync { tx throws in
            var heartbeat = Sample.outbox(1, action: .heartbeat)
            _ = try tx.enqueue(heartbeat)
            heartbeat.notBefore = 2_000
            _ = try tx.enqueue(heartbeat)
            let success = try tx.enqueue(Sample.outbox(1, action: .success))
            let other = try tx.enqueue(Sample.outbox(2, action: .heartbeat))
            let deleted = try tx.deleteOutbox(tokenHash: "hash-1", actions: [.heartbeat, .createJob])
            try tx.deleteOutbox(id: other)
            #expect(try tx.listOutbox(limit: 10).map(\.id) == [success])
            return deleted
        }
        #expect(deleted == 2)
    }

    @Test("the engine's lookups by token use the index of heartbeats and creations; outcomes are in no token index")
    func lookupsByTokenUseThePartialIndex() throws {
        let database = try TemporaryStore.empty()
        let store = try database.open()
        defer { store.close() }
        let raw = try RawConnection(path: database.path)
        for query in [Query.deleteOutboxByTokenAction, .outboxHasAction] {
            let plan = try raw.texts("EXPLAIN QUERY PLAN " + query.sql, column: 3).joined(separator: "; ")
            #expect(plan.contains("USING INDEX outbox_waiting_by_token") || plan.contains("USING COVERING INDEX outbox_waiting_by_token"), "\(plan)")
        }
        // Only the token index's rows are written for a heartbeat, none for an outcome: what a
        // callback saves is its outcome's insert into, and delete from, a random page of it.
        try store.writeSync { tx throws in
            _ = try tx.enqueue(Sample.outbox(1, action: .success))
            _ = try tx.enqueue(Sample.outbox(2, action: .heartbeat))
        }
        #expect(try raw.integer("SELECT count(*) FROM outbox INDEXED BY outbox_waiting_by_token WHERE \(Query.indexedByToken)") == 1)
        #expect(
            try raw.texts("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'outbox' ORDER BY name")
                == ["outbox_by_due", "outbox_waiting_by_token"])
        // The other actions are still found by token, by a scan the engine never asks for.
        try store.writeSync { tx throws in
            #expect(try tx.hasOutbox(tokenHash: "hash-1", action: .success))
            #expect(try tx.deleteOutbox(tokenHash: "hash-1", actions: [.success]) == 1)
        }
    }

    @Test func unknownActionIsReportedNotGuessed() throws {
        let database = try TemporaryStore.empty()
        let store = try database.open()
        let id = try store.writeSync { try $0.enqueue(Sample.outbox(1)) }
        let raw = try RawConnection(path: database.path)
        // The CHECK constraint stops bad actions at the door; drop it to play an older, looser writer.
        try raw.execute("PRAGMA ignore_check_constraints = ON; UPDATE outbox SET action = 'teleport'")
        let error = #expect(throws: StoreError.self) { try store.readSync { try $0.outbox(id: id) } }
        #expect(error?.code == .corruptRow)
    }
}
