import CSQLite

/// A prepared statement owned by one ``Connection`` and reused for its life.
///
/// Callers bind every parameter, step, and reset; values are copied in on bind
/// (`SQLITE_TRANSIENT`), so nothing a caller passes needs to outlive the call.
final class Statement {
    let handle: OpaquePointer
    let sql: String
    /// Whether stepping it can never change the database (`sqlite3_stmt_readonly`).
    let isReadOnly: Bool
    private let db: OpaquePointer

    init(db: OpaquePointer, sql: String, persistent: Bool) throws {
        var handle: OpaquePointer?
        let flags = persistent ? UInt32(SQLITE_PREPARE_PERSISTENT) : 0
        let code = sqlite3_prepare_v3(db, sql, -1, flags, &handle, nil)
        guard code == SQLITE_OK, let handle else {
            sqlite3_finalize(handle)
            throw SQLiteError(code: code, db: db, sql: sql)
        }
        self.handle = handle
        self.sql = sql
        self.db = db
        self.isReadOnly = sqlite3_stmt_readonly(handle) != 0
    }

    deinit { sqlite3_finalize(handle) }

    // MARK: binding (1-based parameter indexes, as in the SQL's ?1, ?2 …)

    func bind(_ value: String, at index: Int32) throws {
        var value = value
        let code = value.withUTF8 { bytes -> Int32 in
            // An empty buffer may have no address, and a nil pointer would bind NULL, not "".
            guard let base = bytes.baseAddress, !bytes.isEmpty else {
                return sqlite3_bind_text(handle, index, "", 0, csqlite_transient())
            }
            return base.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
                sqlite3_bind_text64(handle, index, $0, UInt64(bytes.count), csqlite_transient(), UInt8(SQLITE_UTF8))
            }
        }
        try check(code)
    }

    func bind(_ value: String?, at index: Int32) throws {
        if let value { try bind(value, at: index) } else { try check(sqlite3_bind_null(handle, index)) }
    }

    func bind(_ value: Int64, at index: Int32) throws {
        try check(sqlite3_bind_int64(handle, index, value))
    }

    func bind(_ value: Int64?, at index: Int32) throws {
        if let value { try bind(value, at: index) } else { try check(sqlite3_bind_null(handle, index)) }
    }

    func bind(_ value: Int, at index: Int32) throws { try bind(Int64(value), at: index) }

    func bind(_ value: Bool, at index: Int32) throws { try bind(Int64(value ? 1 : 0), at: index) }

    // MARK: stepping

    /// Advances one row: true when a row is available, false when the statement is done.
    func step() throws -> Bool {
        let code = sqlite3_step(handle)
        switch code {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw SQLiteError(code: code, db: db, sql: sql)
        }
    }

    /// Makes the statement ready for its next use; an error it reports was already thrown by `step`.
    func reset() { sqlite3_reset(handle) }

    // MARK: columns (0-based)

    func string(at index: Int32) -> String {
        guard let text = sqlite3_column_text(handle, index) else { return "" }
        let count = Int(sqlite3_column_bytes(handle, index))
        return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
    }

    func optionalString(at index: Int32) -> String? {
        sqlite3_column_type(handle, index) == SQLITE_NULL ? nil : string(at: index)
    }

    func int64(at index: Int32) -> Int64 { sqlite3_column_int64(handle, index) }

    func optionalInt64(at index: Int32) -> Int64? {
        sqlite3_column_type(handle, index) == SQLITE_NULL ? nil : int64(at: index)
    }

    func int(at index: Int32) -> Int { Int(int64(at: index)) }

    func bool(at index: Int32) -> Bool { int64(at: index) != 0 }

    private func check(_ code: Int32) throws {
        if code != SQLITE_OK { throw SQLiteError(code: code, db: db, sql: sql) }
    }
}
