public import AWS
public import CallbackStore
public import CoreMetrics
import Synchronization

/// Everything `serve` counts, made once from a `MetricsFactory` (Prometheus in `serve`, a test
/// kit in tests) and kept: recording is an atomic add or a lock-free lookup in a table built here.
/// Labels are the queue, the decision, the outbox action and result, the sweep's finding, and the
/// AWS service and operation: all from fixed sets, never a job name, token or ARN.
public final class RelayMetrics: Sendable {
    /// The metric names, in one place (the README's table lists them).
    public enum Name {
        public static let received = "sagemaker_callback_messages_received_total"
        public static let decided = "sagemaker_callback_messages_decided_total"
        public static let registrations = "sagemaker_callback_registrations_total"
        public static let deliveries = "sagemaker_callback_callbacks_total"
        public static let heartbeats = "sagemaker_callback_heartbeats_sent_total"
        public static let outboxEntries = "sagemaker_callback_outbox_entries"
        public static let outboxOldestAge = "sagemaker_callback_outbox_oldest_age_seconds"
        public static let pending = "sagemaker_callback_pending_callbacks"
        public static let earlyEvents = "sagemaker_callback_early_events"
        public static let eventToCallback = "sagemaker_callback_event_to_callback_seconds"
        public static let storeCommit = "sagemaker_callback_store_commit_duration_seconds"
        public static let sweepChecks = "sagemaker_callback_sweep_checks_total"
        public static let startTime = "process_start_time_seconds"
        public static let buildInfo = "sagemaker_callback_build_info"
    }

    /// How a delivery ended, as the metrics label it.
    public enum DeliveryResult: String, Sendable, CaseIterable {
        /// The call succeeded (or a stop found nothing to stop, or SageMaker refused a create: settled).
        case delivered
        /// Step Functions said the task was already closed; the callback is settled.
        case closed
        /// Refused for good (a heartbeat refused, a permanent error).
        case refused
        /// Failed for now; rescheduled.
        case retried
    }

    /// The decision labels, one per kind of verdict the consumers meet.
    static let decisionLabels = [
        "registered", "registered_creating", "completed_on_arrival", "duplicate_registration", "completed", "kept_early",
        "duplicate_event", "heartbeat", "status_noted", "no_callback", "unsupported", "rejected", "rejected_and_failed",
        "execution_ended", "execution_noted", "other",
    ]
    static let sweepFindings = ["completed", "running", "missing", "deferred", "expired", "other"]

    public let aws: AWSCallMetrics
    private let received: [MessageRole: CoreMetrics.Counter]
    private let decided: [MessageRole: [String: CoreMetrics.Counter]]
    private let registrations: CoreMetrics.Counter
    private let deliveries: [OutboxAction: [DeliveryResult: CoreMetrics.Counter]]
    private let heartbeats: CoreMetrics.Counter
    private let sweepChecks: [String: CoreMetrics.Counter]
    private let outboxEntries: CoreMetrics.Gauge
    private let outboxOldestAge: CoreMetrics.Gauge
    private let pending: CoreMetrics.Gauge
    private let earlyEvents: CoreMetrics.Gauge
    private let eventToCallback: CoreMetrics.Timer
    private let storeCommit: CoreMetrics.Timer
    /// When each queued outcome's event was sent, by token hash, until its callback is
    /// acknowledged: the start of the event-to-callback latency. Bounded; process-local (an
    /// outcome queued before a restart is not timed).
    private let eventSentAt = Mutex<[String: Int64]>([:])
    static let eventSentAtLimit = 100_000
    /// Callbacks delivered since start, for the embedded-metric log lines.
    private let deliveredCount = Atomic<Int>(0)

    public init(factory: any MetricsFactory = MetricsSystem.factory, version: String = RelayMetrics.version, startedAt: Double) {
        aws = AWSCallMetrics(factory: factory)
        func counter(_ name: String, _ labels: [(String, String)] = []) -> CoreMetrics.Counter {
            CoreMetrics.Counter(label: name, dimensions: labels, factory: factory)
        }
        func gauge(_ name: String) -> CoreMetrics.Gauge { CoreMetrics.Gauge(label: name, dimensions: [], factory: factory) }
        let roles: [MessageRole] = [.events, .requests]
        received = Dictionary(uniqueKeysWithValues: roles.map { ($0, counter(Name.received, [("queue", $0.rawValue)])) })
        decided = Dictionary(
            uniqueKeysWithValues: roles.map { role in
                (
                    role,
                    Dictionary(
                        uniqueKeysWithValues: Self.decisionLabels.map { ($0, counter(Name.decided, [("queue", role.rawValue), ("decision", $0)])) })
                )
            })
        registrations = counter(Name.registrations)
        deliveries = Dictionary(
            uniqueKeysWithValues: OutboxAction.allCases.map { action in
                (
                    action,
                    Dictionary(
                        uniqueKeysWithValues: DeliveryResult.allCases.map {
                            ($0, counter(Name.deliveries, [("action", action.metricLabel), ("result", $0.rawValue)]))
                        })
                )
            })
        heartbeats = counter(Name.heartbeats)
        sweepChecks = Dictionary(uniqueKeysWithValues: Self.sweepFindings.map { ($0, counter(Name.sweepChecks, [("finding", $0)])) })
        outboxEntries = gauge(Name.outboxEntries)
        outboxOldestAge = gauge(Name.outboxOldestAge)
        pending = gauge(Name.pending)
        earlyEvents = gauge(Name.earlyEvents)
        eventToCallback = CoreMetrics.Timer(label: Name.eventToCallback, dimensions: [], factory: factory)
        storeCommit = CoreMetrics.Timer(label: Name.storeCommit, dimensions: [], factory: factory)
        gauge(Name.startTime).record(startedAt)
        CoreMetrics.Gauge(label: Name.buildInfo, dimensions: [("version", version)], factory: factory).record(1)
    }

    /// The version `build_info` carries.
    public static let version = "0.11.0"

    /// A batch of `count` messages came in from `role`'s queue.
    public func received(_ count: Int, from role: MessageRole) {
        received[role]?.increment(by: Int64(count))
    }

    /// A batch was committed: its decisions, the time the commit took, and when each message was
    /// sent (to time the callbacks it queued).
    public func committed(_ decisions: [Decision], role: MessageRole, sentAt: [Int64?], elapsed: Duration) {
        storeCommit.record(elapsed)
        let table = decided[role]
        var started: [(String, Int64)] = []
        for (decision, sent) in zip(decisions, sentAt) {
            let label = decision.verdict.metricLabel
            (table?[label] ?? table?["other"])?.increment()
            switch decision.verdict {
            case .registered, .registeredCreating, .completedOnArrival: registrations.increment()
            default: break
            }
            guard let sent else { continue }
            for effect in decision.effects {
                if case .enqueue(let entry) = effect, entry.action == .success || entry.action == .failure {
                    started.append((entry.tokenHash, sent))
                }
            }
        }
        guard !started.isEmpty else { return }
        eventSentAt.withLock { map in
            for (hash, sent) in started where map.count < Self.eventSentAtLimit { map[hash] = sent }
        }
    }

    /// A group of delivery results was committed in `elapsed`.
    public func recorded(elapsed: Duration) {
        storeCommit.record(elapsed)
    }

    /// One delivery's result was recorded at `now` (epoch ms); `permanent` when it failed with an
    /// error that retrying will not change.
    public func delivery(_ entry: OutboxEntry, verdict: Verdict, permanent: Bool, now: Int64) {
        let result: DeliveryResult =
            switch OutboxDispatcher.Settlement(verdict) {
            case .delivered: .delivered
            case .closed: .closed
            case .dropped: .refused
            case .rescheduled: permanent ? .refused : .retried
            }
        deliveries[entry.action]?[result]?.increment()
        if result == .delivered, entry.action == .heartbeat { heartbeats.increment() }
        guard entry.action == .success || entry.action == .failure, result == .delivered || result == .closed else { return }
        if result == .delivered { deliveredCount.add(1, ordering: .relaxed) }
        if let sent = eventSentAt.withLock({ $0.removeValue(forKey: entry.tokenHash) }) {
            eventToCallback.record(Duration.milliseconds(max(0, now - sent)))
        }
    }

    /// The sweep checked a job and decided `verdict`.
    public func swept(_ verdict: Verdict) {
        let finding =
            switch verdict {
            case .sweptCompleted: "completed"
            case .sweptRunning: "running"
            case .sweptMissing: "missing"
            case .sweepDeferred: "deferred"
            case .expired: "expired"
            default: "other"
            }
        sweepChecks[finding]?.increment()
    }

    /// The store's gauges, read at `now` (epoch ms).
    public func gauges(_ gauges: StoreGauges, now: Int64) {
        pending.record(gauges.pending)
        earlyEvents.record(gauges.earlyEvents)
        outboxEntries.record(gauges.outbox)
        outboxOldestAge.record(Double(gauges.oldestOutboxCreatedAt.map { max(0, now - $0) } ?? 0) / 1000)
    }

    /// Callbacks (success and failure) delivered since the process started.
    public var callbacksDelivered: Int { deliveredCount.load(ordering: .relaxed) }
}

extension OutboxAction {
    /// The action as a metric label: `success`, `failure`, `heartbeat`, `create_job`, `stop_job`.
    var metricLabel: String {
        switch self {
        case .success: "success"
        case .failure: "failure"
        case .heartbeat: "heartbeat"
        case .createJob: "create_job"
        case .stopJob: "stop_job"
        }
    }
}

extension Verdict {
    /// The kind of verdict as a metric label (one of ``RelayMetrics/decisionLabels``).
    var metricLabel: String {
        switch self {
        case .registered: "registered"
        case .registeredCreating: "registered_creating"
        case .completedOnArrival: "completed_on_arrival"
        case .duplicateRegistration: "duplicate_registration"
        case .completed: "completed"
        case .keptEarly: "kept_early"
        case .duplicateEvent: "duplicate_event"
        case .heartbeat: "heartbeat"
        case .statusNoted: "status_noted"
        case .noCallback: "no_callback"
        case .unsupported: "unsupported"
        case .rejected: "rejected"
        case .rejectedAndFailed: "rejected_and_failed"
        case .executionEnded: "execution_ended"
        case .executionNoted: "execution_noted"
        default: "other"
        }
    }
}
