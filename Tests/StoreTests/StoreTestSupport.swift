import CSQLite
import Foundation
import CallbackStore
@testable import Store

/// A plain SQLite connection beside the store's, for what the store's API cannot do on purpose:
/// hold a lock, or tamper with the schema version.
final class RawConnection {
    let db: OpaquePointer

    init(path: String) throws {
        var db: OpaquePointer?
        let code = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, nil)
        guard code == SQLITE_OK, let db else {
            sqlite3_close(db)
            throw SQLiteError(code: code, db: nil, sql: nil)
        }
        self.db = db
    }

    deinit { sqlite3_close_v2(db) }

    func execute(_ sql: String) throws {
        let code = sqlite3_exec(db, sql, nil, nil, nil)
        if code != SQLITE_OK { throw SQLiteError(code: code, db: db, sql: sql) }
    }

    /// Column `column` of every row of `sql`, as text (e.g. the details of EXPLAIN QUERY PLAN).
    func texts(_ sql: String, column: Int32 = 0) throws -> [String] {
        var statement: OpaquePointer?
        let code = sqlite3_prepare_v2(db, sql, -1, &statement, nil)
        guard code == SQLITE_OK else { throw SQLiteError(code: code, db: db, sql: sql) }
        defer { sqlite3_finalize(statement) }
        var rows: [String] = []
        while sqlite3_step(statement) == SQLITE_ROW {
            rows.append(sqlite3_column_text(statement, column).map { String(cString: $0) } ?? "")
        }
        return rows
    }

    /// The first column of the first row of `sql`, as an integer.
    func integer(_ sql: String) throws -> Int64 {
        var statement: OpaquePointer?
        let code = sqlite3_prepare_v2(db, sql, -1, &statement, nil)
        guard code == SQLITE_OK else { throw SQLiteError(code: code, db: db, sql: sql) }
        defer { sqlite3_finalize(statement) }
        guard sqlite3_step(statement) == SQLITE_ROW else { throw SQLiteError(code: sqlite3_errcode(db), db: db, sql: sql) }
        return sqlite3_column_int64(statement, 0)
    }
}

/// Sample rows, distinct by `n`.
enum Sample {
    static func pending(_ n: Int, job: String = "job", registeredAt: Int64 = 1_000) -> PendingCallback {
        PendingCallback(
            tokenHash: "hash-\(n)", taskToken: "token-\(n)-" + String(repeating: "t", count: 600),
            jobKind: "ProcessingJob", jobName: job, registeredAt: registeredAt
        )
    }

    static func early(_ n: Int, receivedAt: Int64, status: String = "Completed") -> EarlyEvent {
        EarlyEvent(
            jobKind: "ProcessingJob", jobName: "job-\(n)", status: status,
            event: #"{"detail":{"ProcessingJobName":"job-\#(n)"}}"#, receivedAt: receivedAt
        )
    }

    static func outbox(_ n: Int, action: OutboxAction = .success, notBefore: Int64 = 1_000) -> NewOutboxEntry {
        NewOutboxEntry(
            tokenHash: "hash-\(n)", taskToken: "token-\(n)", jobKind: "ProcessingJob", jobName: "job-\(n)",
            action: action, payload: action == .heartbeat ? "" : #"{"n":\#(n)}"#,
            errorName: action == .failure ? "SageMaker.ProcessingJobFailed" : nil, notBefore: notBefore
        )
    }

    static func rejected(_ n: Int, receivedAt: Int64, body: String = "not json") -> RejectedMessage {
        RejectedMessage(receivedAt: receivedAt, source: "events", messageID: "m-\(n)", reason: "malformed", body: body)
    }
}
