import Logging
import ServiceLifecycle
import Store

/// Sends periodic heartbeats for callbacks that asked for them (`"Heartbeat": true`): every
/// `interval` after the last one (or after the registration), a `SendTaskHeartbeat` is queued in
/// the outbox, until the callback completes. An InProgress event's heartbeat counts, so a job
/// that reports often is not heartbeated twice.
///
/// It sleeps until the earliest heartbeat is due, and never longer than `interval`, so a
/// callback registered while it sleeps is served on time.
public final class HeartbeatSchedule: Service, Sendable {
    private let store: Store
    private let interval: Duration
    private let dispatcher: OutboxDispatcher
    private let logger: Logger
    private let liveness: Liveness.Loop?

    /// Heartbeats queued per transaction.
    static let batch = 256

    public init(store: Store, interval: Duration, dispatcher: OutboxDispatcher, logger: Logger, liveness: Liveness? = nil) {
        self.store = store
        self.interval = interval
        self.dispatcher = dispatcher
        self.logger = logger
        self.liveness = liveness?.loop("heartbeat schedule")
    }

    public func run() async throws {
        await TimerLoop.run(failureEvent: "heartbeat.store_failed", logger: logger, liveness: liveness) {
            try await pass(now: WallClock.millisecondsNow())
        }
    }

    /// Queues the heartbeats due at `now`; returns how long to sleep before the next are due.
    func pass(now: Int64) async throws -> Duration {
        let period = max(1, interval.milliseconds)
        // Heartbeats due within a twentieth of the period (at most a second) go out together.
        let slack = min(period / 20, 1_000)
        let (queued, oldest) = try await store.write { transaction -> (Int, Int64?) in
            let due = try transaction.heartbeatsDue(since: now - period + slack, limit: Self.batch)
            if !due.isEmpty { try transaction.apply(Correlator(now: now).decideHeartbeats(due).effects) }
            return (due.count, try transaction.oldestHeartbeat())
        }
        if queued > 0 {
            dispatcher.ring()
            logger.debug("heartbeat.queued", metadata: ["callbacks": "\(queued)"])
            if queued == Self.batch { return .zero }
        }
        let next = oldest.map { $0 + period } ?? now + period
        return .milliseconds(min(max(next - now, 0), period))
    }
}
