import Logging
import ServiceLifecycle
import Store

/// Owns the store for the life of the service group: it is first in the group, so it shuts down
/// last, and closes the database only after every other service has stopped. Meanwhile, on a
/// timer, it prunes what has outlived its time (early events, closed tokens) and drops callbacks
/// older than a Step Functions execution can live.
public final class StoreService: Service, Sendable {
    public let store: Store
    private let pruneInterval: Duration
    private let logger: Logger
    private let liveness: Liveness.Loop?

    /// Expired callbacks dropped per transaction.
    static let expiryBatch = 256

    public init(store: Store, pruneInterval: Duration = .seconds(600), logger: Logger, liveness: Liveness? = nil) {
        self.store = store
        self.pruneInterval = pruneInterval
        self.logger = logger
        self.liveness = liveness?.loop("store maintenance")
    }

    public func run() async throws {
        await TimerLoop.run(failureEvent: "store.prune_failed", logger: logger, liveness: liveness) { [pruneInterval] in
            try await prune(now: WallClock.millisecondsNow())
            return pruneInterval
        }
        store.close()
        logger.info("store.closed")
    }

    /// Removes early events and closed-token records older than their time to live, and expired
    /// callbacks (each logged by its token's short hash).
    func prune(now: Int64) async throws {
        // The time-to-live values are the store's own options, as it was opened.
        let (early, executions, closed) = try await store.write { try $0.pruneExpired(now: now) }
        if early + executions + closed > 0 {
            logger.info("store.pruned", metadata: [
                "store.early_events": "\(early)", "store.ended_executions": "\(executions)", "store.closed_tokens": "\(closed)",
            ])
        }
        while true {
            let expired = try await store.write { transaction -> [PendingCallback] in
                let expired = try transaction.pendingCallbacks(registeredBefore: now - Correlator.maxCallbackAge, limit: Self.expiryBatch)
                try transaction.apply(Correlator(now: now).decideExpired(expired).effects)
                return expired
            }
            for callback in expired {
                logger.notice("callback.expired", metadata: [
                    "token.hash": "\(TaskTokens.short(callback.tokenHash))", "job.kind": "\(callback.jobKind)",
                    "job.name": "\(callback.jobName)", "callback.age_days": "\((now - callback.registeredAt) / 86_400_000)",
                ])
            }
            if expired.count < Self.expiryBatch { return }
        }
    }
}
