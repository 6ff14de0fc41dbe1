import Foundation
import TestSupport
import Testing
import CallbackStore
@testable import Store

/// The store's side of stop on abort, periodic heartbeats, the safety sweep and expiry.
@Suite("Heartbeat, sweep and execution queries")
struct LifecycleStoreTests {
    static func callback(_ n: Int, registeredAt: Int64, heartbeat: Bool = false, execution: String? = nil) -> PendingCallback {
        var callback = Sample.pending(n, job: "job-\(n)", registeredAt: registeredAt)
        callback.heartbeat = heartbeat
        callback.executionArn = execution
        return callback
    }

    @Test("a version 1 database is migrated in place: rows kept, stop-on-abort follows created-by-service, stopJob allowed")
    func migratesFromVersionOne() throws {
        let database = try TemporaryStore.empty()
        #expect(FileManager.default.createFile(atPath: database.path, contents: nil))
        let raw = try RawConnection(path: database.path)
        try raw.execute(Schema.migrations[0])
        try raw.execute("PRAGMA user_version = 1")
        try raw.execute(
            """
            INSERT INTO pending (token_hash, task_token, job_kind, job_name, registered_at, execution_arn, heartbeat, created_by_service)
                VALUES ('created', 'token-a', 'ProcessingJob', 'job-a', 10, 'arn:exec', 1, 1),
                       ('waiting', 'token-b', 'TrainingJob', 'job-b', 20, NULL, 0, 0);
            INSERT INTO outbox (token_hash, task_token, job_kind, job_name, action, payload, attempts, next_attempt_at, created_at)
                VALUES ('created', 'token-a', 'ProcessingJob', 'job-a', 'createJob', '{}', 2, 30, 10);
            """)

        let store = try database.open()
        defer { store.close() }
        try store.writeSync { tx throws in
            #expect(try tx.pragma("user_version") == String(Store.schemaVersion))
            let created = try #require(try tx.pending(tokenHash: "created"))
            #expect(created.stopJobOnAbort && created.heartbeat && created.executionArn == "arn:exec")
            #expect(created.sweep == SweepState() && created.lastHeartbeatAt == nil)
            #expect(try tx.pending(tokenHash: "waiting")?.stopJobOnAbort == false)
            let kept = try #require(try tx.listOutbox(limit: 10).first)
            #expect(kept.action == .createJob && kept.attempts == 2 && kept.nextAttemptAt == 30)
            _ = try tx.enqueue(Sample.outbox(9, action: .stopJob))
            #expect(try tx.hasOutbox(tokenHash: "hash-9", action: .stopJob))
            #expect(try !tx.hasOutbox(tokenHash: "hash-9", action: .createJob))
        }
    }

    @Test("every field of a pending callback round-trips, including heartbeat and sweep state")
    func roundTrip() throws {
        let database = try TemporaryStore.empty()
        let store = try database.open()
        defer { store.close() }
        let callback = PendingCallback(
            tokenHash: "h", taskToken: "t", jobKind: "TrainingJob", jobName: "j", registeredAt: 5, executionArn: "arn:e",
            heartbeat: true, createdByService: true, stopJobOnAbort: false, lastStatus: "InProgress", lastEventAt: 6,
            lastHeartbeatAt: 7, sweep: SweepState(checks: 3, status: "missing", nextCheckAt: 8, missingSince: 9)
        )
        try store.writeSync { tx throws in
            #expect(try tx.insertPending(callback))
            #expect(try tx.pending(tokenHash: "h") == callback)
        }
    }

    @Test("callbacks of an execution are found by its ARN, and only those")
    func byExecution() throws {
        let database = try TemporaryStore.empty()
        let store = try database.open()
        defer { store.close() }
        try store.writeSync { tx throws in
            _ = try tx.insertPending(Self.callback(1, registeredAt: 2, execution: "arn:exec:a"))
            _ = try tx.insertPending(Self.callback(2, registeredAt: 1, execution: "arn:exec:a"))
            _ = try tx.insertPending(Self.callback(3, registeredAt: 1, execution: "arn:exec:b"))
            _ = try tx.insertPending(Self.callback(4, registeredAt: 1))
            #expect(try tx.pendingCallbacks(executionArn: "arn:exec:a").map(\.tokenHash) == ["hash-2", "hash-1"])
            #expect(try tx.pendingCallbacks(executionArn: "arn:exec:c").isEmpty)
        }
    }

    @Test("heartbeats are due by the last heartbeat, else the registration; noting one moves the callback back")
    func heartbeatsDue() throws {
        let database = try TemporaryStore.empty()
        let store = try database.open()
        defer { store.close() }
        try store.writeSync { tx throws in
            _ = try tx.insertPending(Self.callback(1, registeredAt: 100, heartbeat: true))
            _ = try tx.insertPending(Self.callback(2, registeredAt: 300, heartbeat: true))
            _ = try tx.insertPending(Self.callback(3, registeredAt: 50, heartbeat: false))
            #expect(try tx.oldestHeartbeat() == 100)
            #expect(try tx.heartbeatsDue(since: 200, limit: 10).map(\.tokenHash) == ["hash-1"])
            #expect(try tx.heartbeatsDue(since: 400, limit: 1).map(\.tokenHash) == ["hash-1"])
            try tx.noteHeartbeat(tokenHash: "hash-1", at: 500)
            #expect(try tx.pending(tokenHash: "hash-1")?.lastHeartbeatAt == 500)
            #expect(try tx.heartbeatsDue(since: 400, limit: 10).map(\.tokenHash) == ["hash-2"])
            #expect(try tx.oldestHeartbeat() == 300)
            try tx.deletePending(tokenHash: "hash-1")
            try tx.deletePending(tokenHash: "hash-2")
            #expect(try tx.oldestHeartbeat() == nil)
        }
    }

    @Test("sweep: first checks by age, then re-checks by their time; the state survives reopening the file")
    func sweepSchedule() throws {
        let database = try TemporaryStore.empty()
        do {
            let store = try database.open()
            defer { store.close() }
            try store.writeSync { tx throws in
                for n in 1...4 { _ = try tx.insertPending(Self.callback(n, registeredAt: Int64(n) * 100)) }
                #expect(try tx.nextSweep().oldestUnswept == 100)
                #expect(try tx.nextSweep().nextCheck == nil)
                // Registered at or before 250: callbacks 1 and 2 are due for a first check.
                #expect(try tx.sweepDue(now: 1_000, firstCheckBefore: 250, limit: 10).map(\.tokenHash) == ["hash-1", "hash-2"])
                try tx.recordSweep(tokenHash: "hash-1", SweepState(checks: 1, status: "InProgress", nextCheckAt: 2_000))
                try tx.recordSweep(tokenHash: "hash-2", SweepState(checks: 1, status: "missing", nextCheckAt: 1_500, missingSince: 900))
                #expect(try tx.sweepDue(now: 1_000, firstCheckBefore: 250, limit: 10).isEmpty)
                #expect(try tx.nextSweep() == (oldestUnswept: 300, nextCheck: 1_500))
                // Unchecked callbacks come first, then re-checks, within the limit.
                #expect(try tx.sweepDue(now: 2_000, firstCheckBefore: 400, limit: 3).map(\.tokenHash) == ["hash-3", "hash-4", "hash-2"])
            }
        }
        let reopened = try database.open()
        defer { reopened.close() }
        try reopened.readSync { tx throws in
            #expect(try tx.pending(tokenHash: "hash-2")?.sweep == SweepState(checks: 1, status: "missing", nextCheckAt: 1_500, missingSince: 900))
            #expect(try tx.sweepDue(now: 1_600, firstCheckBefore: 0, limit: 10).map(\.tokenHash) == ["hash-2"])
        }
    }

    @Test("callbacks registered before a time are listed oldest first, within the limit")
    func olderThan() throws {
        let database = try TemporaryStore.empty()
        let store = try database.open()
        defer { store.close() }
        try store.writeSync { tx throws in
            for n in 1...5 { _ = try tx.insertPending(Self.callback(n, registeredAt: Int64(6 - n) * 10)) }
            #expect(try tx.pendingCallbacks(registeredBefore: 35, limit: 2).map(\.registeredAt) == [10, 20])
            #expect(try tx.pendingCallbacks(registeredBefore: 10, limit: 9).isEmpty)
        }
    }

    @Test("an execution's end is remembered; a later end replaces it, an older one does not; TTL and cap apply")
    func endedExecutions() throws {
        let database = try TemporaryStore.empty()
        var options = StoreOptions()
        options.earlyEventCap = 2
        let store = try database.open(options)
        defer { store.close() }
        let day: Int64 = 86_400_000
        try store.writeSync { tx throws in
            try tx.rememberExecutionEnd(EndedExecution(executionArn: "arn:a", status: "ABORTED", endedAt: 100, receivedAt: 110))
            // A redrive that ends again later replaces the first end; a stale duplicate does not.
            try tx.rememberExecutionEnd(EndedExecution(executionArn: "arn:a", status: "SUCCEEDED", endedAt: 500, receivedAt: 510))
            try tx.rememberExecutionEnd(EndedExecution(executionArn: "arn:a", status: "ABORTED", endedAt: 100, receivedAt: 520))
            #expect(
                try tx.executionEnd(executionArn: "arn:a")
                    == EndedExecution(executionArn: "arn:a", status: "SUCCEEDED", endedAt: 500, receivedAt: 510))
            #expect(try tx.executionEnd(executionArn: "arn:none") == nil)

            try tx.rememberExecutionEnd(EndedExecution(executionArn: "arn:b", status: "FAILED", endedAt: 600, receivedAt: 600))
            try tx.rememberExecutionEnd(EndedExecution(executionArn: "arn:c", status: "TIMED_OUT", endedAt: 700, receivedAt: 15 * day))
            // Capped at two: the oldest received is evicted.
            #expect(try tx.executionEnd(executionArn: "arn:a") == nil)
            let pruned = try tx.pruneExpired(now: 15 * day)
            #expect(pruned.endedExecutions == 1)
            #expect(try tx.executionEnd(executionArn: "arn:b") == nil)
            #expect(try tx.executionEnd(executionArn: "arn:c")?.status == "TIMED_OUT")
        }
    }

    @Test("the outbox refuses an action it does not know")
    func unknownActionRefused() throws {
        let database = try TemporaryStore.empty()
        try database.open().close()
        let raw = try RawConnection(path: database.path)
        #expect(throws: SQLiteError.self) {
            try raw.execute(
                """
                INSERT INTO outbox (token_hash, task_token, job_kind, job_name, action, payload, attempts, next_attempt_at, created_at)
                    VALUES ('h', '', 'ProcessingJob', 'j', 'explode', '', 0, 0, 0)
                """)
        }
    }
}
