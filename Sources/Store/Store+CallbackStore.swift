public import CallbackStore

/// The SQLite backend of ``CallbackStore``: one process per database file. Every unit of a
/// ``commit(_:)`` runs in one IMMEDIATE transaction, so later units see earlier ones and nothing
/// another writer does can come between a unit's reads and its effects. One process owns the file,
/// so it holds every lease and every outbox entry.
extension Store: CallbackStore {
    public var location: StoreLocation { .sqlite(path: path) }

    public func commit<Result: Sendable>(_ units: [StoreUnit<Result>]) async throws -> [Result] {
        try await write { transaction in try Self.run(units, in: transaction) }
    }

    public func preview<Result: Sendable>(_ units: [StoreUnit<Result>]) async throws -> [Result] {
        try await writeRolledBack { transaction in try Self.run(units, in: transaction) }
    }

    private static func run<Result>(_ units: [StoreUnit<Result>], in transaction: StoreTransaction) throws -> [Result] {
        var results: [Result] = []
        results.reserveCapacity(units.count)
        for unit in units {
            let (result, effects) = try unit.decide(transaction)
            try transaction.apply(effects)
            results.append(result)
        }
        return results
    }

    public func claimDueOutbox(now: Int64, limit: Int, excluding: Set<Int64>) async throws -> [OutboxEntry] {
        try await read { try $0.dueOutbox(now: now, limit: limit, excluding: excluding) }
    }

    public func nextOutboxAttempt(now: Int64, excluding: Set<Int64>) async throws -> Int64? {
        try await read { try $0.nextOutboxAttempt(excluding: excluding) }
    }

    /// Always granted; it takes the write lock for a moment (a transaction that changes nothing,
    /// so nothing is written or synced): the readiness probe and the schedules find out that the
    /// file was deleted or replaced, or is held by another process, even while nothing commits.
    public func holdLease(_ name: String, now: Int64, duration: Int64) async throws -> Bool {
        try await write { _ in true }
    }

    public func relinquish() async {}

    public func heartbeatsDue(since: Int64, limit: Int) async throws -> [PendingCallback] {
        try await read { try $0.heartbeatsDue(since: since, limit: limit) }
    }

    public func oldestHeartbeat() async throws -> Int64? {
        try await read { try $0.oldestHeartbeat() }
    }

    public func sweepDue(now: Int64, firstCheckBefore: Int64, limit: Int) async throws -> [PendingCallback] {
        try await read { try $0.sweepDue(now: now, firstCheckBefore: firstCheckBefore, limit: limit) }
    }

    public func nextSweep() async throws -> (oldestUnswept: Int64?, nextCheck: Int64?) {
        let times = try await read { transaction -> [Int64?] in
            let (unswept, next) = try transaction.nextSweep()
            return [unswept, next]
        }
        return (times[0], times[1])
    }

    public func pendingCallbacks(registeredBefore olderThan: Int64, limit: Int) async throws -> [PendingCallback] {
        try await read { try $0.pendingCallbacks(registeredBefore: olderThan, limit: limit) }
    }

    public func pruneExpired(now: Int64) async throws -> PruneCounts {
        try await write { transaction in
            let (early, executions, closed) = try transaction.pruneExpired(now: now)
            return PruneCounts(earlyEvents: early, endedExecutions: executions, closed: closed)
        }
    }

    public func counts() async throws -> StoreCounts { try await read { try $0.counts() } }

    public func gauges() async throws -> StoreGauges { try await read { try $0.gauges() } }

    public func listPending(limit: Int) async throws -> [PendingCallback] {
        try await read { try $0.listPending(limit: limit) }
    }

    public func listEarlyEvents(limit: Int) async throws -> [EarlyEvent] {
        try await read { try $0.listEarlyEvents(limit: limit) }
    }

    public func listOutbox(limit: Int) async throws -> [OutboxEntry] {
        try await read { try $0.listOutbox(limit: limit) }
    }

    public func listRejected(limit: Int) async throws -> [RejectedMessage] {
        try await read { try $0.listRejected(limit: limit) }
    }
}

/// A transaction is the view its units decide from: it reads the database as the unit's own
/// earlier effects left it.
extension StoreTransaction: StoreView {}

extension StoreTransaction {
    /// Applies effects in order, inside this transaction.
    public func apply(_ effects: [Effect]) throws {
        for effect in effects {
            switch effect {
            case .insertPending(let callback): _ = try insertPending(callback)
            case .removePending(let tokenHash): try deletePending(tokenHash: tokenHash)
            case .updateStatus(let tokenHash, let status, let at): try updatePendingStatus(tokenHash: tokenHash, status: status, at: at)
            case .enqueue(let entry): _ = try enqueue(entry)
            case .dropQueued(let tokenHash, let actions): _ = try deleteOutbox(tokenHash: tokenHash, actions: actions)
            case .noteHeartbeat(let tokenHash, let at): try noteHeartbeat(tokenHash: tokenHash, at: at)
            case .recordSweep(let tokenHash, let state): try recordSweep(tokenHash: tokenHash, state)
            case .rememberExecutionEnd(let ended): try rememberExecutionEnd(ended)
            case .markClosed(let tokenHash, let result, let at): try markClosed(tokenHash: tokenHash, at: at, result: result)
            case .rememberTerminal(let event): _ = try insertEarlyEvent(event)
            case .recordRejected(let message): try recordRejected(message)
            case .deleteOutbox(let id): try deleteOutbox(id: id)
            case .rescheduleOutbox(let id, let attempts, let next, let lastError):
                try rescheduleOutbox(id: id, attempts: attempts, nextAttemptAt: next, lastError: lastError)
            }
        }
    }
}
