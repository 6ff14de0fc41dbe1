import AWS
public import CallbackStore
public import Logging
import Store
import Synchronization

/// Whether the store can commit, as every loop of `serve` finds it: an outage is told once (one
/// `store.unavailable` line at error, whichever loop meets it first, and `store.recovered` when a
/// write commits again), readiness fails for as long as it lasts, and a store that is gone for
/// good (its file deleted, replaced or corrupt; its table deleted) ends the service.
public final class StoreOutage: Sendable {
    private struct State {
        var since: ContinuousClock.Instant?
        var failures = 0
        var lost: String?
        var lostWaiter: CheckedContinuation<String, Never>?
        /// ``stopWaiting()`` was called: a wait in ``lost()`` returns at once.
        var stopped = false
    }
    private let state = Mutex(State())
    private let location: StoreLocation
    private let logger: Logger
    private let health: HealthChecks?

    public init(location: StoreLocation, logger: Logger, health: HealthChecks? = nil) {
        self.location = location
        self.logger = logger
        self.health = health
    }

    /// Whether an outage is under way (a failure not yet followed by a commit).
    public var isFailing: Bool { state.withLock { $0.since != nil } }

    /// A store call failed. Errors of one message or of shutdown (``StoreError``, cancellation)
    /// are not the store's: they are left to the caller.
    func failed(_ error: any Error) {
        guard Self.isOutage(error) else { return }
        let lost = Self.lostReason(error, location: location)
        let (first, newlyLost, waiter) = state.withLock { state -> (Bool, Bool, CheckedContinuation<String, Never>?) in
            state.failures += 1
            let first = state.since == nil
            if first { state.since = .now }
            guard let lost, state.lost == nil else { return (first, false, nil) }
            state.lost = lost
            defer { state.lostWaiter = nil }
            return (first, true, state.lostWaiter)
        }
        health?.storeCommitFailed(error: "\(error)")
        if newlyLost, let lost {
            logger.critical("store.lost", metadata: ["store.location": "\(location)", "error": "\(lost)"])
            waiter?.resume(returning: lost)
        } else if first {
            logger.error("store.unavailable", metadata: ["store.location": "\(location)", "error": "\(error)"])
        }
    }

    /// A write committed: an outage under way is over.
    func committed() {
        let ended = state.withLock { state -> (Duration, Int)? in
            guard let since = state.since, state.lost == nil else { return nil }
            defer { (state.since, state.failures) = (nil, 0) }
            return (ContinuousClock.now - since, state.failures)
        }
        health?.storeCommitted()
        guard let (lasted, failures) = ended else { return }
        logger.notice(
            "store.recovered",
            metadata: [
                "store.location": "\(location)", "store.outage_ms": "\(lasted.milliseconds)", "store.failed_calls": "\(failures)",
            ])
    }

    /// Returns when the store is gone for good, with the reason (one line for an operator).
    func lost() async -> String {
        await withCheckedContinuation { continuation in
            let lost = state.withLock { state -> String? in
                if state.lost == nil, !state.stopped { state.lostWaiter = continuation }
                return state.lost ?? (state.stopped ? "" : nil)
            }
            if let lost { continuation.resume(returning: lost) }
        }
    }

    /// Ends a wait in ``lost()`` without a loss (the service is stopping).
    func stopWaiting() {
        let waiter = state.withLock { state -> CheckedContinuation<String, Never>? in
            defer { (state.lostWaiter, state.stopped) = (nil, true) }
            return state.lostWaiter
        }
        waiter?.resume(returning: "")
    }

    /// The failures of the store itself: SQLite's, DynamoDB's answers, the connection to it.
    static func isOutage(_ error: any Error) -> Bool {
        !(error is CancellationError) && !(error is StoreError)
    }

    /// Why the store can never commit again in this process, or nil when it may recover.
    static func lostReason(_ error: any Error, location: StoreLocation) -> String? {
        if let error = error as? SQLiteError, error.isFatal {
            let what =
                error.isDatabaseMoved
                ? "nothing more is written (it would go to the unlinked file, lost at the next start); stopping"
                : "stopping: restore the file from a backup, or move it aside to start afresh"
            return "\(location): \(error.message) (SQLite \(error.extendedResultCode)): \(what)"
        }
        if let error = error as? AWSError, error.code == "ResourceNotFoundException" || error.code == "ResourceNotFound" {
            return "\(location): the table no longer exists (\(error.code)); stopping: restore or recreate it, then start again"
        }
        return nil
    }
}

/// The store every loop of `serve` uses: the backend, with each call's outcome told to the
/// ``StoreOutage``. Only a commit ends an outage (reads may work on a full disk).
final class WatchedStore: CallbackStore {
    let base: any CallbackStore
    let outage: StoreOutage
    /// Whether ``holdLease(_:now:duration:)`` writes (DynamoDB); SQLite grants it without a write.
    private let leaseWrites: Bool

    init(_ base: any CallbackStore, outage: StoreOutage) {
        self.base = base
        self.outage = outage
        if case .dynamoDB = base.location { leaseWrites = true } else { leaseWrites = false }
    }

    private func watch<T>(writes: Bool, _ call: () async throws -> T) async throws -> T {
        do {
            let value = try await call()
            if writes { outage.committed() }
            return value
        } catch {
            outage.failed(error)
            throw error
        }
    }

    var location: StoreLocation { base.location }
    var options: StoreOptions { base.options }

    func commit<Result: Sendable>(_ units: [StoreUnit<Result>]) async throws -> [Result] {
        try await watch(writes: true) { try await base.commit(units) }
    }

    func preview<Result: Sendable>(_ units: [StoreUnit<Result>]) async throws -> [Result] {
        try await watch(writes: false) { try await base.preview(units) }
    }

    func claimDueOutbox(now: Int64, limit: Int, excluding: Set<Int64>) async throws -> [OutboxEntry] {
        try await watch(writes: false) { try await base.claimDueOutbox(now: now, limit: limit, excluding: excluding) }
    }

    func nextOutboxAttempt(now: Int64, excluding: Set<Int64>) async throws -> Int64? {
        try await watch(writes: false) { try await base.nextOutboxAttempt(now: now, excluding: excluding) }
    }

    func holdLease(_ name: String, now: Int64, duration: Int64) async throws -> Bool {
        try await watch(writes: leaseWrites) { try await base.holdLease(name, now: now, duration: duration) }
    }

    func heartbeatsDue(since: Int64, limit: Int) async throws -> [PendingCallback] {
        try await watch(writes: false) { try await base.heartbeatsDue(since: since, limit: limit) }
    }

    func oldestHeartbeat() async throws -> Int64? {
        try await watch(writes: false) { try await base.oldestHeartbeat() }
    }

    func sweepDue(now: Int64, firstCheckBefore: Int64, limit: Int) async throws -> [PendingCallback] {
        try await watch(writes: false) { try await base.sweepDue(now: now, firstCheckBefore: firstCheckBefore, limit: limit) }
    }

    func nextSweep() async throws -> (oldestUnswept: Int64?, nextCheck: Int64?) {
        try await watch(writes: false) { try await base.nextSweep() }
    }

    func pendingCallbacks(registeredBefore olderThan: Int64, limit: Int) async throws -> [PendingCallback] {
        try await watch(writes: false) { try await base.pendingCallbacks(registeredBefore: olderThan, limit: limit) }
    }

    func pruneExpired(now: Int64) async throws -> PruneCounts {
        try await watch(writes: true) { try await base.pruneExpired(now: now) }
    }

    func counts() async throws -> StoreCounts { try await watch(writes: false) { try await base.counts() } }
    func gauges() async throws -> StoreGauges { try await watch(writes: false) { try await base.gauges() } }

    func listPending(limit: Int) async throws -> [PendingCallback] {
        try await watch(writes: false) { try await base.listPending(limit: limit) }
    }

    func listEarlyEvents(limit: Int) async throws -> [EarlyEvent] {
        try await watch(writes: false) { try await base.listEarlyEvents(limit: limit) }
    }

    func listOutbox(limit: Int) async throws -> [OutboxEntry] {
        try await watch(writes: false) { try await base.listOutbox(limit: limit) }
    }

    func listRejected(limit: Int) async throws -> [RejectedMessage] {
        try await watch(writes: false) { try await base.listRejected(limit: limit) }
    }

    func relinquish() async { await base.relinquish() }
    func close() { base.close() }
}
