/// The service's durable state behind one interface, whichever engine keeps it: SQLite on one
/// host (`Store`), or DynamoDB shared by any number of replicas (`DynamoStore`).
///
/// The engine decides; a store applies. Every state change goes through ``commit(_:)``: a unit
/// names what it reads, decides from a ``StoreView`` of exactly that, and returns the effects to
/// apply. A backend applies each unit's effects atomically and guarantees that what the unit read
/// did not change before its effects landed: SQLite by running the unit inside one write
/// transaction, DynamoDB by conditioning the write on the versions it read and deciding again
/// when another replica got there first. A unit's `decide` must therefore be pure: it may run
/// more than once.
public protocol CallbackStore: AnyObject, Sendable {
    /// Where the state lives, for logs and `doctor`.
    var location: StoreLocation { get }
    /// Time-to-live values and caps the store applies.
    var options: StoreOptions { get }

    /// Decides and applies `units` in order; each unit sees what the units before it applied.
    /// When this returns, every unit's effects are durable. A backend may apply all units in one
    /// atomic step (SQLite) or each unit atomically on its own (DynamoDB).
    func commit<Result: Sendable>(_ units: [StoreUnit<Result>]) async throws -> [Result]

    /// What ``commit(_:)`` would decide, changing nothing: later units see the effects of
    /// earlier ones as if they had been applied.
    func preview<Result: Sendable>(_ units: [StoreUnit<Result>]) async throws -> [Result]

    // MARK: the outbox

    /// Up to `limit` entries due at `now` that this process may deliver now, soonest first,
    /// leaving out the ids in `excluding` (the deliveries this process has in flight).
    /// A backend shared by several processes hands each entry to one of them at a time (a lease
    /// that lapses if its holder dies); one process alone gets every due entry.
    func claimDueOutbox(now: Int64, limit: Int, excluding: Set<Int64>) async throws -> [OutboxEntry]

    /// When ``claimDueOutbox(now:limit:excluding:)`` may next return something other than the
    /// entries in `excluding` (epoch ms), or nil when nothing else is queued; the dispatcher
    /// sleeps until then unless new work is committed.
    func nextOutboxAttempt(now: Int64, excluding: Set<Int64>) async throws -> Int64?

    // MARK: schedules

    /// Whether this process holds the fleet-wide lease `name` (taking or renewing it until
    /// `now + duration`): heartbeats, the sweep and expiry run on one process at a time. A store
    /// used by one process alone always grants it.
    func holdLease(_ name: String, now: Int64, duration: Int64) async throws -> Bool

    /// Up to `limit` callbacks that asked for heartbeats and have had none (nor their
    /// registration) since `since`, longest-waiting first.
    func heartbeatsDue(since: Int64, limit: Int) async throws -> [PendingCallback]

    /// The oldest last-heartbeat time (or registration time, before a first heartbeat) among
    /// callbacks that asked for heartbeats; nil when none did.
    func oldestHeartbeat() async throws -> Int64?

    /// Up to `limit` callbacks due for a sweep check at `now`: those never checked that
    /// registered before `firstCheckBefore`, then those whose next check is due.
    func sweepDue(now: Int64, firstCheckBefore: Int64, limit: Int) async throws -> [PendingCallback]

    /// The earliest registration among callbacks never checked by the sweep, and the earliest
    /// scheduled re-check (each nil when there is none).
    func nextSweep() async throws -> (oldestUnswept: Int64?, nextCheck: Int64?)

    /// Up to `limit` callbacks registered before `olderThan`, oldest first (expiry).
    func pendingCallbacks(registeredBefore olderThan: Int64, limit: Int) async throws -> [PendingCallback]

    /// Removes what has outlived the store's time-to-live values as of `now`. A backend whose
    /// engine expires items itself (DynamoDB TTL) removes nothing here and applies the same
    /// cut-offs when it reads.
    func pruneExpired(now: Int64) async throws -> PruneCounts

    // MARK: what `list` and `doctor` show

    /// How many items of each kind the store holds.
    func counts() async throws -> StoreCounts
    /// What the metrics gauges show, read cheaply enough to repeat every few seconds.
    func gauges() async throws -> StoreGauges
    /// Up to `limit` pending callbacks, oldest registration first.
    func listPending(limit: Int) async throws -> [PendingCallback]
    /// Up to `limit` early events, newest first.
    func listEarlyEvents(limit: Int) async throws -> [EarlyEvent]
    /// Up to `limit` outbox entries, soonest due first.
    func listOutbox(limit: Int) async throws -> [OutboxEntry]
    /// Up to `limit` rejected messages, newest first.
    func listRejected(limit: Int) async throws -> [RejectedMessage]

    /// Hands back, on a graceful shutdown, the work this process holds for the fleet (outbox
    /// entries and schedule leases), so other processes take it at their next look rather than
    /// after the leases lapse. Best effort, bounded in time; a store used by one process alone has nothing
    /// to hand back.
    func relinquish() async

    /// Releases what the store holds open; idempotent. Later calls fail.
    func close()
}

/// One decision against the store: the items it reads, and the pure function that decides from
/// them. `decide` returns a result for the caller and the effects to apply.
public struct StoreUnit<Result: Sendable>: Sendable {
    /// Everything `decide` may read; a backend that reads before it decides fetches these.
    public var reads: [StoreKey]
    /// Decides from the store's state; may run more than once.
    public var decide: @Sendable (any StoreView) throws -> (result: Result, effects: [Effect])

    public init(reads: [StoreKey], decide: @escaping @Sendable (any StoreView) throws -> (result: Result, effects: [Effect])) {
        self.reads = reads
        self.decide = decide
    }
}

/// An item of the store that a decision reads.
public enum StoreKey: Sendable, Hashable {
    /// A job: the callbacks waiting for it, and its terminal event when one was kept.
    case job(kind: String, name: String)
    /// A task token: pending, closed, and its queued outbox entries.
    case token(hash: String)
    /// A Step Functions execution: its callbacks, and how it ended.
    case execution(arn: String)
}

/// The reads a decision may make, each allowed when its ``StoreKey`` is among the unit's reads.
public protocol StoreView {
    /// The pending callback for a token hash, if any. Needs `.token(hash)`.
    func pending(tokenHash: String) throws -> PendingCallback?
    /// Whether the token was completed by us or found already closed (within its TTL). Needs `.token(hash)`.
    func isClosed(tokenHash: String) throws -> Bool
    /// Whether a token has an entry of `action` in the outbox (the engine asks of job creations). Needs `.token(hash)`.
    func hasOutbox(tokenHash: String, action: OutboxAction) throws -> Bool
    /// Every callback waiting for one job, oldest registration first. Needs `.job(kind, name)`.
    func pendingCallbacks(jobKind: String, jobName: String) throws -> [PendingCallback]
    /// The terminal event kept for a job (within its TTL), if any. Needs `.job(kind, name)`.
    func earlyEvent(jobKind: String, jobName: String) throws -> EarlyEvent?
    /// Every callback of one execution, oldest registration first. Needs `.execution(arn)`.
    func pendingCallbacks(executionArn: String) throws -> [PendingCallback]
    /// How an execution ended (within the early-event TTL), if it did. Needs `.execution(arn)`.
    func executionEnd(executionArn: String) throws -> EndedExecution?
}

/// Rows removed by one ``CallbackStore/pruneExpired(now:)``.
public struct PruneCounts: Sendable, Equatable {
    public var earlyEvents: Int
    public var endedExecutions: Int
    public var closed: Int
    public init(earlyEvents: Int = 0, endedExecutions: Int = 0, closed: Int = 0) {
        self.earlyEvents = earlyEvents
        self.endedExecutions = endedExecutions
        self.closed = closed
    }
    /// Rows removed in all.
    public var total: Int { earlyEvents + endedExecutions + closed }
}

/// The store's state as the metrics show it.
public struct StoreGauges: Sendable, Equatable {
    public var pending: Int
    public var earlyEvents: Int
    public var outbox: Int
    /// When the oldest outbox entry was created (ms since the Unix epoch); nil when the outbox is
    /// empty or the backend cannot tell cheaply.
    public var oldestOutboxCreatedAt: Int64?

    public init(pending: Int, earlyEvents: Int, outbox: Int, oldestOutboxCreatedAt: Int64?) {
        self.pending = pending
        self.earlyEvents = earlyEvents
        self.outbox = outbox
        self.oldestOutboxCreatedAt = oldestOutboxCreatedAt
    }
}

extension CallbackStore {
    /// From ``counts()``, for a backend without a cheaper way.
    public func gauges() async throws -> StoreGauges {
        let counts = try await counts()
        return StoreGauges(pending: counts.pending, earlyEvents: counts.earlyEvents, outbox: counts.outbox, oldestOutboxCreatedAt: nil)
    }

    /// Decides and applies one unit.
    public func commit<Result: Sendable>(_ unit: StoreUnit<Result>) async throws -> Result {
        try await commit([unit])[0]
    }

    /// Due entries when nothing is in flight.
    public func claimDueOutbox(now: Int64, limit: Int) async throws -> [OutboxEntry] {
        try await claimDueOutbox(now: now, limit: limit, excluding: [])
    }

    /// The next attempt when nothing is in flight.
    public func nextOutboxAttempt(now: Int64) async throws -> Int64? {
        try await nextOutboxAttempt(now: now, excluding: [])
    }
}
