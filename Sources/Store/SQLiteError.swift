import CSQLite

/// A failure reported by SQLite.
///
/// Carries the primary and extended result codes, SQLite's message and the SQL text of the
/// statement; never a bound value, so it is safe to log.
public struct SQLiteError: Error, Sendable, CustomStringConvertible {
    /// The primary result code (`SQLITE_BUSY` is 5, `SQLITE_CONSTRAINT` 19, …).
    public var resultCode: Int32
    /// The extended result code (e.g. `SQLITE_BUSY_SNAPSHOT`), equal to `resultCode` when there is none more precise.
    public var extendedResultCode: Int32
    /// SQLite's own message, e.g. `"database is locked"`.
    public var message: String
    /// The SQL text that failed, when there was one; bound values are never included.
    public var sql: String?

    /// True when another connection held a lock for longer than the busy timeout.
    public var isBusy: Bool { resultCode == SQLITE_BUSY }

    /// `SQLITE_READONLY_DBMOVED` (a C macro Swift does not import): the file was deleted or replaced.
    static let readOnlyDatabaseMoved: Int32 = SQLITE_READONLY | (4 << 8)

    /// The database file was deleted or replaced while open (`SQLITE_READONLY_DBMOVED`).
    static let databaseMoved = SQLiteError(
        resultCode: SQLITE_READONLY, extendedResultCode: readOnlyDatabaseMoved,
        message: "the database file was deleted or replaced since it was opened", sql: nil
    )

    /// True when the database can no longer be trusted or reached by this connection — its file
    /// is corrupt, is not a database, or was deleted or replaced — so retrying cannot help.
    public var isFatal: Bool {
        resultCode == SQLITE_CORRUPT || resultCode == SQLITE_NOTADB || isDatabaseMoved
    }

    /// True when the database file was deleted or replaced while this connection had it open.
    public var isDatabaseMoved: Bool { extendedResultCode == Self.readOnlyDatabaseMoved }

    /// An error with the given codes; `extendedResultCode` defaults to `resultCode`.
    public init(resultCode: Int32, extendedResultCode: Int32? = nil, message: String, sql: String?) {
        self.resultCode = resultCode
        self.extendedResultCode = extendedResultCode ?? resultCode
        self.message = message
        self.sql = sql
    }

    /// The error `code` just returned by a call on `db`, with that connection's message.
    init(code: Int32, db: OpaquePointer?, sql: String?) {
        let message =
            db.flatMap { sqlite3_errmsg($0).map { String(cString: $0) } }
            ?? String(cString: sqlite3_errstr(code))
        self.init(resultCode: code & 0xFF, extendedResultCode: code, message: message, sql: sql)
    }

    /// One line for logs: codes, SQLite's name and message for the code, and the SQL text.
    public var description: String {
        let name = String(cString: sqlite3_errstr(resultCode))
        var text = "SQLite error \(resultCode)/\(extendedResultCode) (\(name)): \(message)"
        if let sql { text += " [SQL: \(sql)]" }
        return text
    }
}
