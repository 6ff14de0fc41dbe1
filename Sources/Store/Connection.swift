import CallbackStore
import CSQLite

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One SQLite connection and its statement cache, configured and migrated on open.
///
/// Not thread-safe: exactly one owner uses it at a time (the ``Store``'s serial queue).
final class Connection {
    private(set) var db: OpaquePointer?
    private var statements: [Statement?] = Array(repeating: nil, count: Query.allCases.count)

    /// Opens `path`, creating it with mode 0600 first when missing, then sets WAL, the
    /// synchronous level, the busy timeout and foreign keys, and migrates the schema.
    init(path: String, options: StoreOptions) throws {
        try createPrivately(path)
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        let code = sqlite3_open_v2(path, &db, flags, nil)
        // SQLite hands back a handle even when the open fails; it must still be closed.
        self.db = db
        guard code == SQLITE_OK, db != nil else {
            let error = SQLiteError(code: code, db: db, sql: nil)
            close()
            throw error
        }
        do {
            // SQLite opens a file it may not write (its mode, an immutable flag, a read-only
            // mount) read-only without a word; every commit would then fail while the queues fill.
            if sqlite3_db_readonly(db, "main") == 1 {
                throw StoreError(
                    .cannotOpen, "the database file \(path) cannot be written (its permissions, an immutable flag or a read-only file system)")
            }
            try configure(options)
            try Schema.migrate(self)
            restrictSidecars(of: path)
        } catch {
            close()
            throw error
        }
    }

    deinit { close() }

    /// Finalizes every cached statement and closes the handle; safe to call twice.
    func close() {
        statements = Array(repeating: nil, count: statements.count)
        if let db { sqlite3_close_v2(db) }
        db = nil
    }

    private func configure(_ options: StoreOptions) throws {
        guard let db else { return }
        // A bounded wait, never an unbounded busy handler: a stuck peer must surface as SQLITE_BUSY.
        let timeout = Int32(clamping: max(0, options.busyTimeout.milliseconds))
        let code = sqlite3_busy_timeout(db, timeout)
        if code != SQLITE_OK { throw SQLiteError(code: code, db: db, sql: nil) }

        let mode = try scalarText("PRAGMA journal_mode = WAL")
        guard mode?.lowercased() == "wal" else {
            throw StoreError(.cannotOpen, "the database refused WAL journal mode (it reports \(mode ?? "nothing"))")
        }
        try execute("PRAGMA synchronous = \(options.synchronous.rawValue)")
        try execute("PRAGMA foreign_keys = ON")
        // Keeps the WAL file from staying huge after a burst: it is truncated back at checkpoints.
        try execute("PRAGMA journal_size_limit = 67108864")
        // Group commit puts each write in a savepoint; its statement journal stays in memory
        // instead of a temporary file opened, written and unlinked for every group.
        try execute("PRAGMA temp_store = MEMORY")
        // 8 MiB of page cache (SQLite's default is 2): the indexes a burst touches stay in memory
        // instead of being read back from the file. It fills with use; idle, it costs nothing.
        try execute("PRAGMA cache_size = -8192")
    }

    // MARK: statements

    /// The cached statement for `query`, prepared on first use.
    func statement(_ query: Query) throws -> Statement {
        if let cached = statements[query.rawValue] { return cached }
        let prepared = try Statement(db: try handle(), sql: query.sql, persistent: true)
        statements[query.rawValue] = prepared
        return prepared
    }

    /// Runs `sql` (one or more statements, no parameters) once; for pragmas and migrations.
    func execute(_ sql: String) throws {
        let db = try handle()
        let code = sqlite3_exec(db, sql, nil, nil, nil)
        if code != SQLITE_OK { throw SQLiteError(code: code, db: db, sql: sql) }
    }

    /// The first column of the first row of `sql` as text, run once without caching.
    func scalarText(_ sql: String) throws -> String? {
        let statement = try Statement(db: try handle(), sql: sql, persistent: false)
        return try statement.step() ? statement.optionalString(at: 0) : nil
    }

    /// Runs a PASSIVE checkpoint: it copies what it can of the WAL into the database file and
    /// never waits for the writer or a reader.
    func checkpointPassive() throws {
        let db = try handle()
        let code = sqlite3_wal_checkpoint_v2(db, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
        if code != SQLITE_OK { throw SQLiteError(code: code, db: db, sql: nil) }
    }

    func userVersion() throws -> Int {
        Int(try scalarText("PRAGMA user_version") ?? "0") ?? 0
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE, not counting trigger actions.
    var changes: Int { db.map { Int(sqlite3_changes64($0)) } ?? 0 }

    var lastInsertRowID: Int64 { db.map { sqlite3_last_insert_rowid($0) } ?? 0 }

    /// Whether a transaction is open (SQLite ends one by itself after some errors: a full disk, I/O).
    var isInTransaction: Bool { db.map { sqlite3_get_autocommit($0) == 0 } ?? false }

    /// Runs a cached statement that returns no rows, once.
    func run(_ query: Query) throws {
        let statement = try self.statement(query)
        defer { statement.reset() }
        _ = try statement.step()
    }

    /// Throws when the file this connection writes is no longer the one at its path (deleted,
    /// or replaced by a rename). SQLite goes on writing to an unlinked file, so the state
    /// committed after a delete would vanish at the next start: a write must not begin there.
    func ensureNotMoved() throws {
        guard let db else { return }
        var moved: Int32 = 0
        let code = sqlite3_file_control(db, "main", SQLITE_FCNTL_HAS_MOVED, &moved)
        if code == SQLITE_OK, moved != 0 { throw SQLiteError.databaseMoved }
    }

    /// Rolls back when a transaction is open; used on error paths, where a second error would hide the first.
    func rollbackIfActive() {
        guard let db, sqlite3_get_autocommit(db) == 0 else { return }
        sqlite3_exec(db, "ROLLBACK", nil, nil, nil)
    }

    private func handle() throws -> OpaquePointer {
        guard let db else { throw StoreError(.closed, "the store is closed") }
        return db
    }
}

/// Creates the file with mode 0600 when it does not exist, so SQLite never creates it with
/// the umask's wider default; an existing file keeps its mode.
private func createPrivately(_ path: String) throws {
    // O_EXCL: an existing file is never opened here. Closing a descriptor drops every POSIX lock
    // this process holds on the file, so an open and close beside a live connection (the store's
    // checkpointer opens a second one) would leave it unlocked, and another process closing its
    // connection would then take the file for its own and delete the WAL under it.
    let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode_t(0o600))
    guard fd >= 0 else {
        if errno == EEXIST { return }
        let reason = String(cString: strerror(errno))
        throw StoreError(.cannotOpen, "cannot create database file \(path): \(reason)")
    }
    _ = close(fd)
}

/// SQLite gives -wal and -shm the main file's mode; this makes sure of it whatever the umask
/// or the history of the files. A missing file is fine: SQLite will create it the same way.
private func restrictSidecars(of path: String) {
    for suffix in ["-wal", "-shm"] {
        _ = chmod(path + suffix, mode_t(0o600))
    }
}
