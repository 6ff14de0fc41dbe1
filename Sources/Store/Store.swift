public import CallbackStore
import Dispatch
import Synchronization

/// The service's durable state — pending callbacks, closed tokens, early events, the outbox and
/// the rejected-message log — in one SQLite database (WAL, `synchronous=FULL` by default).
///
/// One connection, one owner: every statement runs on the store's private serial queue, so
/// blocking SQLite calls never park a Swift concurrency thread. Work is grouped in transactions;
/// a transaction commits when its closure returns and rolls back when it throws, which is what
/// lets callers write an outcome to the outbox in the same commit as the state change.
public final class Store: Sendable {
    /// The database file.
    public let path: String
    /// The options the store was opened with.
    public let options: StoreOptions
    private let queue: DispatchQueue
    private let owner: ConnectionOwner
    let checkpointer: Checkpointer
    /// Writes waiting for the queue, and whether a drain of them is already scheduled.
    private let waitingWrites = Mutex<(writes: [GroupedWrite], draining: Bool)>(([], false))

    /// Most writes committed together in one transaction.
    static let maxGroup = 64
    /// Write transactions committed since the store was opened (tests read it).
    private let transactionsCommitted = Atomic<Int>(0)
    var writeTransactions: Int { transactionsCommitted.load(ordering: .relaxed) }
    /// Writes waiting for their transaction (tests read it).
    var waitingWriteCount: Int { waitingWrites.withLock { $0.writes.count } }

    /// The schema version this build writes and understands (`PRAGMA user_version`).
    public static var schemaVersion: Int { Schema.version }

    private init(path: String, options: StoreOptions, queue: DispatchQueue, connection: Connection, checkpointer: Checkpointer) {
        self.path = path
        self.options = options
        self.queue = queue
        self.owner = ConnectionOwner(connection: connection, options: options)
        self.checkpointer = checkpointer
    }

    /// Opens the database at `path` (creating it with mode 0600 if needed) and migrates it.
    ///
    /// Throws ``SQLiteError``, or ``StoreError`` with code `schemaTooNew` for a database written
    /// by a newer build. Blocks while it opens: call it at startup, not on a hot path.
    public static func open(path: String, options: StoreOptions = .init()) throws -> Store {
        let connection = try Connection(path: path, options: options)
        // Checkpoints are the checkpointer's: none runs inside a commit.
        try connection.execute("PRAGMA wal_autocheckpoint = 0")
        let queue = DispatchQueue(label: "sagemaker-callback.store")
        let checkpointer = try Checkpointer(path: path, options: options, writerQueue: queue)
        return Store(path: path, options: options, queue: queue, connection: connection, checkpointer: checkpointer)
    }

    /// Closes the connection after the transactions already submitted; idempotent. Later calls
    /// to `read`/`write` throw ``StoreError/Code/closed``. Must not be called from inside a
    /// transaction of this store (it would wait for itself; it traps instead).
    public func close() {
        dispatchPrecondition(condition: .notOnQueue(queue))
        checkpointer.close()
        queue.sync {
            while commitNextGroup() {}
            owner.close()
        }
    }

    /// Runs `body` in an IMMEDIATE transaction on the store's queue: its changes are committed if
    /// it returns, and rolled back if it throws. Once started, it finishes even if the task is
    /// cancelled.
    ///
    /// Group commit: writes that arrive while another transaction runs wait for it, then share one
    /// transaction (and one sync of the WAL), each inside its own savepoint, so one that throws
    /// rolls back alone and the others still commit. No write waits for anything but the
    /// transaction before it. Each write's body sees what the writes before it changed, as it would
    /// one after another.
    public func write<T: Sendable>(_ body: @escaping @Sendable (StoreTransaction) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let write = GroupedWrite(body, continuation)
            let schedule = waitingWrites.withLock { waiting -> Bool in
                waiting.writes.append(write)
                defer { waiting.draining = true }
                return !waiting.draining
            }
            if schedule { queue.async { [self] in drainWrites() } }
        }
    }

    /// Commits the waiting writes a group at a time until none is left (on the store's queue).
    /// Each group is a block of its own, so what else waits for the queue (a read, a checkpoint's
    /// finishing pass) runs between two groups instead of after the whole backlog.
    private func drainWrites() {
        guard commitNextGroup() else { return }
        queue.async { [self] in drainWrites() }
    }

    /// Commits the next group of waiting writes (on the store's queue); false when none waited.
    private func commitNextGroup() -> Bool {
        let group = waitingWrites.withLock { waiting -> [GroupedWrite] in
            let group = Array(waiting.writes.prefix(Self.maxGroup))
            waiting.writes.removeFirst(group.count)
            if group.isEmpty { waiting.draining = false }
            return group
        }
        if group.isEmpty { return false }
        if owner.commit(group) {
            transactionsCommitted.add(1, ordering: .relaxed)
            checkpointer.request()
        }
        return true
    }

    /// Runs `body` in one DEFERRED transaction on the store's queue; it sees one consistent
    /// snapshot and may not change the database.
    public func read<T: Sendable>(_ body: @escaping @Sendable (StoreTransaction) throws -> T) async throws -> T {
        try await perform(.read, body)
    }

    /// Runs `body` in one IMMEDIATE transaction that is always rolled back: what it changes is
    /// seen by its own later statements and by nothing else (a dry run).
    public func writeRolledBack<T: Sendable>(_ body: @escaping @Sendable (StoreTransaction) throws -> T) async throws -> T {
        try await perform(.write, rollBack: true, body)
    }

    /// ``write(_:)`` for synchronous callers (tests): blocks the calling thread. Calling it from
    /// inside another transaction of this store is a programming error and traps.
    public func writeSync<T>(_ body: (StoreTransaction) throws -> T) throws -> T {
        dispatchPrecondition(condition: .notOnQueue(queue))
        return try queue.sync { try owner.transaction(.write, body) }
    }

    /// ``read(_:)`` for synchronous callers (tests): blocks the calling thread.
    public func readSync<T>(_ body: (StoreTransaction) throws -> T) throws -> T {
        dispatchPrecondition(condition: .notOnQueue(queue))
        return try queue.sync { try owner.transaction(.read, body) }
    }

    private func perform<T: Sendable>(
        _ kind: StoreTransaction.Kind, rollBack: Bool = false, _ body: @escaping @Sendable (StoreTransaction) throws -> T
    ) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { [owner] in
                continuation.resume(with: Result { try owner.transaction(kind, rollBack: rollBack, body) })
            }
        }
    }
}

/// A write waiting for its turn, its result type erased so that writes of any type share a group.
///
/// `@unchecked Sendable`: created by the caller, then used only on the store's queue, and resumed
/// exactly once (``succeed()`` after the commit, or ``fail(_:)``).
private final class GroupedWrite: @unchecked Sendable {
    private let body: (StoreTransaction) throws -> Void
    private let resume: (Result<Void, any Error>) -> Void

    init<T: Sendable>(_ work: @escaping @Sendable (StoreTransaction) throws -> T, _ continuation: CheckedContinuation<T, any Error>) {
        var value: T?
        body = { value = try work($0) }
        resume = { outcome in continuation.resume(with: outcome.map { value! }) }
    }

    /// Runs the body in the current transaction.
    func run(_ transaction: StoreTransaction) throws { try body(transaction) }
    func succeed() { resume(.success(())) }
    func fail(_ error: any Error) { resume(.failure(error)) }
}

/// Holds the store's connection.
///
/// `@unchecked Sendable` is safe because every access happens on the owning ``Store``'s serial
/// queue (`queue.sync` or `queue.async`), so the connection is never used by two threads at once.
private final class ConnectionOwner: @unchecked Sendable {
    private var connection: Connection?
    private let options: StoreOptions

    init(connection: Connection, options: StoreOptions) {
        self.connection = connection
        self.options = options
    }

    func close() {
        connection?.close()
        connection = nil
    }

    /// Commits a group of writes in one transaction, each in its own savepoint; resumes every one.
    /// True when a transaction was committed.
    func commit(_ group: [GroupedWrite]) -> Bool {
        if group.count == 1 {
            let write = group[0]
            do {
                try transaction(.write) { try write.run($0) }
                write.succeed()
                return true
            } catch {
                write.fail(error)
                return false
            }
        }
        guard let connection else {
            group.forEach { $0.fail(StoreError(.closed, "the store is closed")) }
            return false
        }
        do {
            try connection.ensureNotMoved()
            try connection.run(.beginImmediate)
        } catch {
            group.forEach { $0.fail(error) }
            return false
        }
        var done: [GroupedWrite] = []
        for (index, write) in group.enumerated() {
            let transaction = StoreTransaction(connection: connection, kind: .write, options: options)
            do {
                try connection.run(.savepoint)
                try write.run(transaction)
                transaction.end()
                try connection.run(.releaseSavepoint)
                done.append(write)
            } catch {
                transaction.end()
                write.fail(error)
                // Undo this write alone; when SQLite has ended the whole transaction, nothing
                // of the group can commit.
                guard connection.isInTransaction,
                    (try? connection.run(.rollbackToSavepoint)) != nil, (try? connection.run(.releaseSavepoint)) != nil
                else {
                    connection.rollbackIfActive()
                    (done + group[(index + 1)...]).forEach { $0.fail(error) }
                    return false
                }
            }
        }
        do {
            try connection.run(.commit)
        } catch {
            connection.rollbackIfActive()
            done.forEach { $0.fail(error) }
            return false
        }
        done.forEach { $0.succeed() }
        return true
    }

    func transaction<T>(_ kind: StoreTransaction.Kind, rollBack: Bool = false, _ body: (StoreTransaction) throws -> T) throws -> T {
        guard let connection else { throw StoreError(.closed, "the store is closed") }
        if kind == .write { try connection.ensureNotMoved() }
        let begin = try connection.statement(kind == .write ? .beginImmediate : .beginDeferred)
        defer { begin.reset() }
        _ = try begin.step()

        let transaction = StoreTransaction(connection: connection, kind: kind, options: options)
        do {
            let value = try body(transaction)
            transaction.end()
            if rollBack {
                connection.rollbackIfActive()
                return value
            }
            let commit = try connection.statement(.commit)
            defer { commit.reset() }
            _ = try commit.step()
            return value
        } catch {
            transaction.end()
            connection.rollbackIfActive()
            throw error
        }
    }
}
