public import Logging
public import ServiceLifecycle
public import CallbackStore

/// Owns the store for the life of the service group: it is first in the group, so it shuts down
/// last, and closes the database only after every other service has stopped. Meanwhile, on a
/// timer, it prunes what has outlived its time (early events, closed tokens) and drops callbacks
/// older than a Step Functions execution can live. A store that is gone for good (the ``StoreOutage``
/// says when) ends the service group: `serve` exits 69 with the reason, and what it had not
/// committed stays in the queues.
public final class StoreService: Service, Sendable {
    public let store: any CallbackStore
    private let pruneInterval: Duration
    private let logger: Logger
    private let liveness: Liveness.Loop?
    private let outage: StoreOutage?
    private let clock: ServiceClock

    /// Expired callbacks dropped per transaction.
    static let expiryBatch = 256
    /// How long a pass holds the fleet-wide lease `"expiry"` (ms): one process of a fleet drops
    /// expired callbacks at a time.
    public static let leaseDuration: Int64 = 600_000

    public init(
        store: any CallbackStore, pruneInterval: Duration = .seconds(600), logger: Logger, liveness: Liveness? = nil, outage: StoreOutage? = nil,
        clock: ServiceClock = .system
    ) {
        self.store = store
        self.clock = clock
        self.outage = outage
        self.pruneInterval = pruneInterval
        self.logger = logger
        self.liveness = liveness?.loop("store maintenance")
    }

    public func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            if let outage {
                group.addTask {
                    let reason = await outage.lost()
                    if !reason.isEmpty { throw UnavailableError(message: "--database: \(reason)") }
                }
            }
            group.addTask { [self] in
                await TimerLoop.run(failureEvent: "store.prune_failed", logger: logger, liveness: liveness, sleep: clock.sleep) {
                    [pruneInterval, clock] in
                    try await prune(now: clock.now())
                    return pruneInterval
                }
            }
            // The maintenance loop ends at graceful shutdown; a lost store throws first.
            try await group.next()
            outage?.stopWaiting()
            try await group.waitForAll()
        }
        // Every other service has stopped: what this process still holds goes back to the fleet.
        await store.relinquish()
        store.close()
        logger.info("store.closed")
    }

    /// Removes early events and closed-token records older than their time to live, and expired
    /// callbacks (each logged by its token's short hash).
    func prune(now: Int64) async throws {
        // The time-to-live values are the store's own options, as it was opened.
        let pruned = try await store.pruneExpired(now: now)
        if pruned.total > 0 {
            logger.info(
                "store.pruned",
                metadata: [
                    "store.early_events": "\(pruned.earlyEvents)", "store.ended_executions": "\(pruned.endedExecutions)",
                    "store.closed_tokens": "\(pruned.closed)",
                ])
        }
        guard try await store.holdLease("expiry", now: now, duration: Self.leaseDuration) else { return }
        let cutoff = now - Correlator.maxCallbackAge
        let correlator = Correlator(now: now)
        while true {
            let candidates = try await store.pendingCallbacks(registeredBefore: cutoff, limit: Self.expiryBatch)
            let units = candidates.map { candidate in
                StoreUnit<PendingCallback?>(reads: [.token(hash: candidate.tokenHash)]) { view in
                    // Completed since it was listed: nothing to drop.
                    guard let current = try view.pending(tokenHash: candidate.tokenHash), current.registeredAt < cutoff else {
                        return (nil, [])
                    }
                    return (current, correlator.decideExpired([current]).effects)
                }
            }
            let expired = try await store.commit(units).compactMap { $0 }
            for callback in expired {
                logger.notice(
                    "callback.expired",
                    metadata: [
                        "token.hash": "\(TaskTokens.short(callback.tokenHash))", "job.kind": "\(callback.jobKind)",
                        "job.name": "\(callback.jobName)", "callback.age_days": "\((now - callback.registeredAt) / 86_400_000)",
                    ])
            }
            // A full batch that dropped nothing would be listed again: stop there.
            if candidates.count < Self.expiryBatch || expired.isEmpty { return }
        }
    }
}
