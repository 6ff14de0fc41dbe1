public import Logging
public import ServiceLifecycle
public import CallbackStore

/// Sends periodic heartbeats for callbacks that asked for them (`"Heartbeat": true`): every
/// `interval` after the last one (or after the registration), a `SendTaskHeartbeat` is queued in
/// the outbox, until the callback completes. An InProgress event's heartbeat counts, so a job
/// that reports often is not heartbeated twice.
///
/// It sleeps until the earliest heartbeat is due, and never longer than `interval`, so a
/// callback registered while it sleeps is served on time.
public final class HeartbeatSchedule: Service, Sendable {
    private let store: any CallbackStore
    private let interval: Duration
    private let doorbell: Doorbell
    private let logger: Logger
    private let liveness: Liveness.Loop?
    private let clock: ServiceClock

    /// Heartbeats queued per transaction.
    static let batch = 256
    /// How long one pass holds the fleet-wide lease `"heartbeats"` (ms): one process of a fleet
    /// queues heartbeats at a time, and a dead holder's lease lapses after this long.
    public static let leaseDuration: Int64 = 60_000

    /// A schedule queueing into `store` and ringing `doorbell` (the dispatcher's) when it did.
    public init(
        store: any CallbackStore, interval: Duration, doorbell: Doorbell, logger: Logger, liveness: Liveness? = nil, clock: ServiceClock = .system
    ) {
        self.store = store
        self.interval = interval
        self.doorbell = doorbell
        self.logger = logger
        self.liveness = liveness?.loop("heartbeat schedule")
        self.clock = clock
    }

    public func run() async throws {
        await TimerLoop.run(failureEvent: "heartbeat.store_failed", logger: logger, liveness: liveness, sleep: clock.sleep) {
            try await pass(now: clock.now())
        }
    }

    /// Queues the heartbeats due at `now`; returns how long to sleep before the next are due.
    func pass(now: Int64) async throws -> Duration {
        let period = max(1, interval.milliseconds)
        // Heartbeats due within a twentieth of the period (at most a second) go out together.
        let slack = min(period / 20, 1_000)
        guard try await store.holdLease("heartbeats", now: now, duration: Self.leaseDuration) else {
            // Another process heartbeats; try again before its lease could lapse unnoticed.
            return .milliseconds(min(period, Self.leaseDuration / 2))
        }
        let since = now - period + slack
        let due = try await store.heartbeatsDue(since: since, limit: Self.batch)
        if !due.isEmpty {
            let correlator = Correlator(now: now)
            let units = due.map { callback in
                StoreUnit<Bool>(reads: [.token(hash: callback.tokenHash)]) { view in
                    // Completed, or heartbeated by an event, since it was listed: nothing to send.
                    guard let current = try view.pending(tokenHash: callback.tokenHash), current.heartbeat,
                        (current.lastHeartbeatAt ?? current.registeredAt) <= since
                    else { return (false, []) }
                    return (true, correlator.decideHeartbeats([current]).effects)
                }
            }
            let queued = try await store.commit(units).filter { $0 }.count
            if queued > 0 {
                doorbell.ring()
                logger.debug("heartbeat.queued", metadata: ["callbacks": "\(queued)"])
            }
            if due.count == Self.batch { return .zero }
        }
        let oldest = try await store.oldestHeartbeat()
        let next = oldest.map { $0 + period } ?? now + period
        return .milliseconds(min(max(next - now, 0), period))
    }
}
