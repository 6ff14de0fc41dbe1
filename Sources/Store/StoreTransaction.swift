public import CallbackStore
/// The operations of one transaction on the store's tables.
///
/// Valid only inside the closure that received it: once that closure returns, every call
/// throws ``StoreError/Code/transactionEnded``. A read transaction refuses statements that
/// would change the database.
public final class StoreTransaction {
    enum Kind { case read, write }

    private let connection: Connection
    private let kind: Kind
    private let options: StoreOptions
    private var isOpen = true

    init(connection: Connection, kind: Kind, options: StoreOptions) {
        self.connection = connection
        self.kind = kind
        self.options = options
    }

    func end() { isOpen = false }

    /// Runs `body` with the cached statement for `query`, and resets the statement after.
    private func run<R>(_ query: Query, _ body: (Statement) throws -> R) throws -> R {
        guard isOpen else { throw StoreError(.transactionEnded, "a transaction was used after its closure returned") }
        let statement = try connection.statement(query)
        if kind == .read, !statement.isReadOnly {
            throw StoreError(.writeInReadTransaction, "a read transaction tried to change the database")
        }
        defer { statement.reset() }
        return try body(statement)
    }

    /// Runs a statement that returns no rows and reports how many rows it changed.
    private func change(_ query: Query, _ bind: (Statement) throws -> Void) throws -> Int {
        try run(query) { statement in
            try bind(statement)
            _ = try statement.step()
            return connection.changes
        }
    }

    /// Runs a query and decodes up to `limit` rows with `row`.
    private func rows<R>(
        _ query: Query, limit: Int = .max, _ bind: (Statement) throws -> Void, _ row: (Statement) throws -> R
    ) throws -> [R] {
        try run(query) { statement in
            try bind(statement)
            var result: [R] = []
            while result.count < limit, try statement.step() {
                result.append(try row(statement))
            }
            return result
        }
    }

    /// The first row of a query, decoded with `row`, or nil when there is none.
    private func first<R>(
        _ query: Query, _ bind: (Statement) throws -> Void, _ row: (Statement) throws -> R
    ) throws -> R? {
        try rows(query, limit: 1, bind, row).first
    }

    // MARK: pending callbacks

    /// Stores a pending callback; returns false, changing nothing, when its token hash is already pending.
    public func insertPending(_ p: PendingCallback) throws -> Bool {
        try change(.insertPending) { s in
            try s.bind(p.tokenHash, at: 1)
            try s.bind(p.taskToken, at: 2)
            try s.bind(p.jobKind, at: 3)
            try s.bind(p.jobName, at: 4)
            try s.bind(p.registeredAt, at: 5)
            try s.bind(p.executionArn, at: 6)
            try s.bind(p.heartbeat, at: 7)
            try s.bind(p.createdByService, at: 8)
            try s.bind(p.lastStatus, at: 9)
            try s.bind(p.lastEventAt, at: 10)
            try s.bind(p.stopJobOnAbort, at: 11)
            try s.bind(p.lastHeartbeatAt, at: 12)
            try s.bind(p.sweep.checks, at: 13)
            try s.bind(p.sweep.status, at: 14)
            try s.bind(p.sweep.nextCheckAt, at: 15)
            try s.bind(p.sweep.missingSince, at: 16)
        } == 1
    }

    /// The pending callback for a token hash, if any.
    public func pending(tokenHash: String) throws -> PendingCallback? {
        try first(.pendingByToken, { try $0.bind(tokenHash, at: 1) }, Self.pendingCallback)
    }

    /// Every callback waiting for one job, oldest registration first (served by an index).
    public func pendingCallbacks(jobKind: String, jobName: String) throws -> [PendingCallback] {
        try rows(
            .pendingByJob,
            { s in
                try s.bind(jobKind, at: 1)
                try s.bind(jobName, at: 2)
            }, Self.pendingCallback)
    }

    /// Removes a pending callback; no error when there is none.
    public func deletePending(tokenHash: String) throws {
        _ = try change(.deletePending) { try $0.bind(tokenHash, at: 1) }
    }

    /// Records the last non-terminal status seen for a pending callback; no error when there is none.
    public func updatePendingStatus(tokenHash: String, status: String, at: Int64) throws {
        _ = try change(.updatePendingStatus) { s in
            try s.bind(tokenHash, at: 1)
            try s.bind(status, at: 2)
            try s.bind(at, at: 3)
        }
    }

    /// Up to `limit` pending callbacks, oldest registration first.
    public func listPending(limit: Int) throws -> [PendingCallback] {
        try rows(.listPending, { try $0.bind(max(0, limit), at: 1) }, Self.pendingCallback)
    }

    /// Every callback of one Step Functions execution, oldest registration first (served by an index).
    public func pendingCallbacks(executionArn: String) throws -> [PendingCallback] {
        try rows(.pendingByExecution, { try $0.bind(executionArn, at: 1) }, Self.pendingCallback)
    }

    /// Up to `limit` callbacks registered before `olderThan`, oldest first.
    public func pendingCallbacks(registeredBefore olderThan: Int64, limit: Int) throws -> [PendingCallback] {
        try rows(
            .pendingOlderThan,
            { s in
                try s.bind(olderThan, at: 1)
                try s.bind(max(0, limit), at: 2)
            }, Self.pendingCallback)
    }

    // MARK: heartbeats

    /// Up to `limit` callbacks that asked for heartbeats and have had none (nor their
    /// registration) since `since`, longest-waiting first.
    public func heartbeatsDue(since: Int64, limit: Int) throws -> [PendingCallback] {
        try rows(
            .dueHeartbeats,
            { s in
                try s.bind(since, at: 1)
                try s.bind(max(0, limit), at: 2)
            }, Self.pendingCallback)
    }

    /// The oldest last-heartbeat time (or registration time, before a first heartbeat) among
    /// callbacks that asked for heartbeats; nil when none did.
    public func oldestHeartbeat() throws -> Int64? {
        try first(.nextHeartbeatBase, { _ in }) { $0.optionalInt64(at: 0) } ?? nil
    }

    /// Records that a heartbeat was queued for a callback; no error when it is gone.
    public func noteHeartbeat(tokenHash: String, at: Int64) throws {
        _ = try change(.noteHeartbeat) { s in
            try s.bind(tokenHash, at: 1)
            try s.bind(at, at: 2)
        }
    }

    // MARK: the safety sweep

    /// Up to `limit` callbacks due for a sweep check at `now`: those never checked that registered
    /// before `firstCheckBefore`, then those whose next check is due, each group oldest first.
    public func sweepDue(now: Int64, firstCheckBefore: Int64, limit: Int) throws -> [PendingCallback] {
        let unswept = try rows(
            .unsweptDue,
            { s in
                try s.bind(firstCheckBefore, at: 1)
                try s.bind(max(0, limit), at: 2)
            }, Self.pendingCallback)
        let rechecks = try rows(
            .sweepDue,
            { s in
                try s.bind(now, at: 1)
                try s.bind(max(0, limit - unswept.count), at: 2)
            }, Self.pendingCallback)
        return unswept + rechecks
    }

    /// When the sweep next has work: the earliest registration among callbacks never checked, and
    /// the earliest scheduled re-check (each nil when there is none).
    public func nextSweep() throws -> (oldestUnswept: Int64?, nextCheck: Int64?) {
        try first(.nextSweepTimes, { _ in }) { ($0.optionalInt64(at: 0), $0.optionalInt64(at: 1)) } ?? (nil, nil)
    }

    /// Stores the sweep state of a callback; no error when it is gone.
    public func recordSweep(tokenHash: String, _ state: SweepState) throws {
        _ = try change(.recordSweep) { s in
            try s.bind(tokenHash, at: 1)
            try s.bind(state.checks, at: 2)
            try s.bind(state.status, at: 3)
            try s.bind(state.nextCheckAt, at: 4)
            try s.bind(state.missingSince, at: 5)
        }
    }

    private static func pendingCallback(_ s: Statement) -> PendingCallback {
        PendingCallback(
            tokenHash: s.string(at: 0), taskToken: s.string(at: 1), jobKind: s.string(at: 2),
            jobName: s.string(at: 3), registeredAt: s.int64(at: 4), executionArn: s.optionalString(at: 5),
            heartbeat: s.bool(at: 6), createdByService: s.bool(at: 7), stopJobOnAbort: s.bool(at: 10),
            lastStatus: s.optionalString(at: 8), lastEventAt: s.optionalInt64(at: 9),
            lastHeartbeatAt: s.optionalInt64(at: 11),
            sweep: SweepState(
                checks: s.int(at: 12), status: s.optionalString(at: 13), nextCheckAt: s.optionalInt64(at: 14),
                missingSince: s.optionalInt64(at: 15)
            )
        )
    }

    // MARK: closed tokens

    /// Whether the token was completed by us or found already closed (and not yet pruned).
    public func isClosed(tokenHash: String) throws -> Bool {
        try first(.isClosed, { try $0.bind(tokenHash, at: 1) }, { _ in true }) ?? false
    }

    /// The closed-token record for a token hash, if any.
    public func closedToken(tokenHash: String) throws -> ClosedToken? {
        try first(.closedByToken, { try $0.bind(tokenHash, at: 1) }) { s in
            ClosedToken(tokenHash: s.string(at: 0), closedAt: s.int64(at: 1), result: s.string(at: 2))
        }
    }

    /// Records a token as closed, replacing the time and result of an earlier record.
    public func markClosed(tokenHash: String, at: Int64, result: String) throws {
        _ = try change(.markClosed) { s in
            try s.bind(tokenHash, at: 1)
            try s.bind(at, at: 2)
            try s.bind(result, at: 3)
        }
    }

    /// Forgets tokens closed before `olderThan`; returns how many.
    public func pruneClosed(olderThan: Int64) throws -> Int {
        try change(.pruneClosed) { try $0.bind(olderThan, at: 1) }
    }

    // MARK: early events

    /// Keeps a terminal event for a later registration. The first event for a job wins: returns
    /// false, changing nothing, when one is already kept. Beyond `earlyEventCap` rows the oldest
    /// by `receivedAt` are evicted (possibly this one, when it is older than all others).
    public func insertEarlyEvent(_ e: EarlyEvent) throws -> Bool {
        let inserted =
            try change(.insertEarlyEvent) { s in
                try s.bind(e.jobKind, at: 1)
                try s.bind(e.jobName, at: 2)
                try s.bind(e.status, at: 3)
                try s.bind(e.event, at: 4)
                try s.bind(e.receivedAt, at: 5)
            } == 1
        if inserted { try enforceCap(table: "early_events", cap: options.earlyEventCap, evict: .evictEarlyEvents) }
        return inserted
    }

    /// The early event kept for a job, if any.
    public func earlyEvent(jobKind: String, jobName: String) throws -> EarlyEvent? {
        try first(
            .earlyEventByJob,
            { s in
                try s.bind(jobKind, at: 1)
                try s.bind(jobName, at: 2)
            }, Self.earlyEvent)
    }

    /// Up to `limit` early events, newest first.
    public func listEarlyEvents(limit: Int) throws -> [EarlyEvent] {
        try rows(.listEarlyEvents, { try $0.bind(max(0, limit), at: 1) }, Self.earlyEvent)
    }

    /// Drops early events received before `olderThan`; returns how many.
    public func pruneEarlyEvents(olderThan: Int64) throws -> Int {
        try change(.pruneEarlyEvents) { try $0.bind(olderThan, at: 1) }
    }

    /// Drops the early event kept for a job; returns whether there was one.
    @discardableResult
    public func deleteEarlyEvent(jobKind: String, jobName: String) throws -> Bool {
        try change(.deleteEarlyEvent) { s in
            try s.bind(jobKind, at: 1)
            try s.bind(jobName, at: 2)
        } == 1
    }

    private static func earlyEvent(_ s: Statement) -> EarlyEvent {
        EarlyEvent(
            jobKind: s.string(at: 0), jobName: s.string(at: 1), status: s.string(at: 2),
            event: s.string(at: 3), receivedAt: s.int64(at: 4)
        )
    }

    /// Evicts the oldest rows of a capped table beyond `cap`, reading its trigger-kept row count.
    private func enforceCap(table: String, cap: Int, evict: Query) throws {
        let count = try first(.rowCount, { try $0.bind(table, at: 1) }) { $0.int(at: 0) } ?? 0
        if count > cap {
            _ = try change(evict) { try $0.bind(count - max(0, cap), at: 1) }
        }
    }

    // MARK: ended executions

    /// Remembers that an execution ended; a later end (after a redrive) replaces an earlier one.
    /// Kept under the early-event TTL and cap: a registration waits in SQS no longer than that.
    public func rememberExecutionEnd(_ e: EndedExecution) throws {
        let inserted =
            try change(.rememberExecutionEnd) { s in
                try s.bind(e.executionArn, at: 1)
                try s.bind(e.status, at: 2)
                try s.bind(e.endedAt, at: 3)
                try s.bind(e.receivedAt, at: 4)
            } == 1
        if inserted { try enforceCap(table: "ended_executions", cap: options.earlyEventCap, evict: .evictEndedExecutions) }
    }

    /// What is known of an execution's end, if it ended (and is not yet pruned).
    public func executionEnd(executionArn: String) throws -> EndedExecution? {
        try first(.executionEnd, { try $0.bind(executionArn, at: 1) }) { s in
            EndedExecution(executionArn: s.string(at: 0), status: s.string(at: 1), endedAt: s.int64(at: 2), receivedAt: s.int64(at: 3))
        }
    }

    // MARK: pruning by the configured TTLs

    /// Applies `earlyEventTTL` (to early events and ended executions) and `closedTokenTTL` as of
    /// `now`; returns the rows removed.
    public func pruneExpired(now: Int64) throws -> (earlyEvents: Int, endedExecutions: Int, closed: Int) {
        let earlyCutoff = now - options.earlyEventTTL.milliseconds
        let earlyEvents = try pruneEarlyEvents(olderThan: earlyCutoff)
        let endedExecutions = try change(.pruneEndedExecutions) { try $0.bind(earlyCutoff, at: 1) }
        let closed = try pruneClosed(olderThan: now - options.closedTokenTTL.milliseconds)
        return (earlyEvents, endedExecutions, closed)
    }

    // MARK: outbox

    /// Queues an outcome for delivery at `notBefore` or later; returns its id.
    public func enqueue(_ e: NewOutboxEntry) throws -> Int64 {
        _ = try change(.enqueue) { s in
            try s.bind(e.tokenHash, at: 1)
            try s.bind(e.taskToken, at: 2)
            try s.bind(e.jobKind, at: 3)
            try s.bind(e.jobName, at: 4)
            try s.bind(e.action.rawValue, at: 5)
            try s.bind(e.payload, at: 6)
            try s.bind(e.errorName, at: 7)
            try s.bind(e.notBefore, at: 8)
        }
        return connection.lastInsertRowID
    }

    /// Up to `limit` entries due at `now` whose ids are not in `excluding` (those in flight),
    /// ordered by `nextAttemptAt`, then id.
    public func dueOutbox(now: Int64, limit: Int, excluding: Set<Int64>) throws -> [OutboxEntry] {
        try run(.outboxFromDue) { s in
            try s.bind(now, at: 1)
            var due: [OutboxEntry] = []
            // The index yields rows in order, so stepping stops as soon as enough are found.
            while due.count < limit, try s.step() {
                if excluding.contains(s.int64(at: 0)) { continue }
                due.append(try Self.outboxEntry(s))
            }
            return due
        }
    }

    /// The earliest `nextAttemptAt` among entries not in `excluding`, or nil when there is none.
    public func nextOutboxAttempt(excluding: Set<Int64>) throws -> Int64? {
        try run(.outboxDueTimes) { s in
            while try s.step() {
                if !excluding.contains(s.int64(at: 0)) { return s.int64(at: 1) }
            }
            return nil
        }
    }

    /// One outbox entry by id, if it is still there.
    public func outbox(id: Int64) throws -> OutboxEntry? {
        try first(.outboxByID, { try $0.bind(id, at: 1) }, Self.outboxEntry)
    }

    /// Removes an entry (delivered, or settled as already closed); no error when it is gone.
    public func deleteOutbox(id: Int64) throws {
        _ = try change(.deleteOutbox) { try $0.bind(id, at: 1) }
    }

    /// The actions whose entries are indexed by token: heartbeats and job creations, the ones the
    /// engine drops or asks about. Outcomes are not (one random page less per callback): looking
    /// one up by token reads the whole outbox, which the engine never does.
    public static let indexedByToken: Set<OutboxAction> = [.heartbeat, .createJob]

    /// Removes a token's entries of the given actions, e.g. heartbeats once an outcome is queued;
    /// returns how many. Quick for ``indexedByToken``, a scan of the outbox for the others.
    public func deleteOutbox(tokenHash: String, actions: [OutboxAction]) throws -> Int {
        var deleted = 0
        for action in actions {
            deleted += try change(Self.indexedByToken.contains(action) ? .deleteOutboxByTokenAction : .deleteOutboxByTokenAnyAction) { s in
                try s.bind(tokenHash, at: 1)
                try s.bind(action.rawValue, at: 2)
            }
        }
        return deleted
    }

    /// Whether a token has an entry of `action` in the outbox, e.g. a job still being created.
    /// Quick for ``indexedByToken``, a scan of the outbox for the others.
    public func hasOutbox(tokenHash: String, action: OutboxAction) throws -> Bool {
        try first(
            Self.indexedByToken.contains(action) ? .outboxHasAction : .outboxHasAnyAction,
            { s in
                try s.bind(tokenHash, at: 1)
                try s.bind(action.rawValue, at: 2)
            }, { _ in true }) ?? false
    }

    /// Records a failed attempt: the attempt count, when to try next, and a short, safe error.
    public func rescheduleOutbox(id: Int64, attempts: Int, nextAttemptAt: Int64, lastError: String?) throws {
        _ = try change(.rescheduleOutbox) { s in
            try s.bind(id, at: 1)
            try s.bind(attempts, at: 2)
            try s.bind(nextAttemptAt, at: 3)
            try s.bind(lastError, at: 4)
        }
    }

    /// Up to `limit` entries, soonest due first.
    public func listOutbox(limit: Int) throws -> [OutboxEntry] {
        try rows(.listOutbox, { try $0.bind(max(0, limit), at: 1) }, Self.outboxEntry)
    }

    private static func outboxEntry(_ s: Statement) throws -> OutboxEntry {
        let actionText = s.string(at: 5)
        guard let action = OutboxAction(rawValue: actionText) else {
            throw StoreError(.corruptRow, "outbox entry \(s.int64(at: 0)) has an unknown action \"\(actionText)\"")
        }
        return OutboxEntry(
            id: s.int64(at: 0), tokenHash: s.string(at: 1), taskToken: s.string(at: 2), jobKind: s.string(at: 3),
            jobName: s.string(at: 4), action: action, payload: s.string(at: 6), errorName: s.optionalString(at: 7),
            attempts: s.int(at: 8), nextAttemptAt: s.int64(at: 9), createdAt: s.int64(at: 10),
            lastError: s.optionalString(at: 11)
        )
    }

    // MARK: rejected messages

    /// Logs a rejected message, its body cut to `rejectedBodyLimit` bytes on a UTF-8 boundary;
    /// beyond `rejectedMessageCap` rows the oldest by `receivedAt` are evicted.
    public func recordRejected(_ r: RejectedMessage) throws {
        _ = try change(.recordRejected) { s in
            try s.bind(r.receivedAt, at: 1)
            try s.bind(r.source, at: 2)
            try s.bind(r.messageID, at: 3)
            try s.bind(r.reason, at: 4)
            try s.bind(r.body.utf8Prefix(maxBytes: options.rejectedBodyLimit), at: 5)
        }
        try enforceCap(table: "rejected", cap: options.rejectedMessageCap, evict: .evictRejected)
    }

    /// Up to `limit` rejected messages, newest first.
    public func listRejected(limit: Int) throws -> [RejectedMessage] {
        try rows(.listRejected, { try $0.bind(max(0, limit), at: 1) }) { s in
            RejectedMessage(
                id: s.int64(at: 0), receivedAt: s.int64(at: 1), source: s.string(at: 2),
                messageID: s.optionalString(at: 3), reason: s.string(at: 4), body: s.string(at: 5)
            )
        }
    }

    // MARK: counts

    /// Rows in each table. The capped tables are counted by triggers; the others with COUNT(*).
    public func counts() throws -> StoreCounts {
        try run(.counts) { s in
            _ = try s.step()
            return StoreCounts(
                pending: s.int(at: 0), earlyEvents: s.int(at: 1), outbox: s.int(at: 2),
                rejected: s.int(at: 3), closed: s.int(at: 4)
            )
        }
    }

    /// The metrics gauges: counts without the closed tokens (the largest table), and the oldest
    /// outbox entry.
    public func gauges() throws -> StoreGauges {
        try run(.gauges) { s in
            _ = try s.step()
            return StoreGauges(pending: s.int(at: 0), earlyEvents: s.int(at: 1), outbox: s.int(at: 2), oldestOutboxCreatedAt: s.optionalInt64(at: 3))
        }
    }

    /// The value of a pragma on this connection, for tests and diagnostics.
    func pragma(_ name: String) throws -> String? {
        guard isOpen else { throw StoreError(.transactionEnded, "a transaction was used after its closure returned") }
        return try connection.scalarText("PRAGMA \(name)")
    }
}
