import Logging
import ServiceLifecycle
import Store

/// Owns the store for the life of the service group: it is first in the group, so it shuts down
/// last, and closes the database only after every consumer and the dispatcher have stopped.
/// Meanwhile it prunes what has outlived its time (early events, closed tokens) on a timer.
public final class StoreService: Service, Sendable {
    public let store: Store
    private let pruneInterval: Duration
    private let logger: Logger

    public init(store: Store, pruneInterval: Duration = .seconds(600), logger: Logger) {
        self.store = store
        self.pruneInterval = pruneInterval
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully {
            await prune()
            do {
                try await cancelWhenGracefulShutdown { [pruneInterval] in try await Task.sleep(for: pruneInterval) }
            } catch {
                break
            }
        }
        store.close()
        logger.info("store.closed")
    }

    /// Removes early events and closed-token records older than their time to live.
    func prune() async {
        let now = WallClock.millisecondsNow()
        do {
            // The time-to-live values are the store's own options, as it was opened.
            let (early, closed) = try await store.write { try $0.pruneExpired(now: now) }
            if early + closed > 0 {
                logger.info("store.pruned", metadata: ["store.early_events": "\(early)", "store.closed_tokens": "\(closed)"])
            }
        } catch {
            logger.error("store.prune_failed", metadata: ["error": "\(error)"])
        }
    }
}
