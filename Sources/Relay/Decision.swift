public import CallbackStore
import Logging

/// What the engine concluded about one input, in words for logs and `replay --dry-run`.
public enum Verdict: Sendable, Equatable, CustomStringConvertible {
    case registered
    case registeredCreating
    case completedOnArrival(JobStatus)
    case duplicateRegistration
    case completed(JobStatus, callbacks: Int)
    case keptEarly(JobStatus)
    case duplicateEvent(JobStatus)
    case heartbeat(callbacks: Int)
    case statusNoted(JobStatus, callbacks: Int)
    case noCallback(JobStatus)
    case unsupported(String)
    case rejected(String)
    case rejectedAndFailed(String)
    case delivered(OutboxAction)
    case retryLater(OutboxAction, String)
    case alreadyClosed(String)
    case createRefused(String)
    case callbackDropped(String)
    case nothingToStop(String)
    case heartbeatRefused(String)
    case executionEnded(ExecutionStatus, callbacks: Int, stops: Int)
    case executionNoted(ExecutionStatus)
    case sweptCompleted(JobStatus, callbacks: Int)
    case sweptRunning(JobStatus, callbacks: Int)
    case sweptMissing(failed: Int, waiting: Int)
    case sweepDeferred(String)
    case expired(callbacks: Int)

    public var description: String {
        switch self {
        case .registered: "registered: waiting for the job's terminal event"
        case .registeredCreating: "registered: the job will be created, then waited for"
        case .completedOnArrival(let status): "completed on arrival: the job was already \(status.rawValue)"
        case .duplicateRegistration: "duplicate registration: nothing to do"
        case .completed(let status, let count): "\(status.rawValue): completes \(count) callback\(count == 1 ? "" : "s")"
        case .keptEarly(let status): "\(status.rawValue), no callback waiting: kept for a registration that comes later"
        case .duplicateEvent(let status): "duplicate \(status.rawValue) event: nothing to do"
        case .heartbeat(let count): "running: heartbeat for \(count) callback\(count == 1 ? "" : "s")"
        case .statusNoted(let status, let count): "\(status.rawValue): noted on \(count) callback\(count == 1 ? "" : "s")"
        case .noCallback(let status): "\(status.rawValue), no callback waiting: nothing to do"
        case .unsupported(let reason): "ignored: \(reason)"
        case .rejected(let reason): "rejected: \(reason)"
        case .rejectedAndFailed(let reason): "rejected, task failed: \(reason)"
        case .delivered(let action): "delivered: \(action.rawValue)"
        case .retryLater(let action, let code): "\(action.rawValue) not delivered (\(code)): will retry"
        case .alreadyClosed(let code): "task already closed (\(code)): recorded, not retried"
        case .createRefused(let code): "SageMaker refused to create the job (\(code)): task failed"
        case .callbackDropped(let reason): "callback dropped: \(reason)"
        case .heartbeatRefused(let code): "heartbeat refused (\(code)): dropped; the callback still waits"
        case .nothingToStop(let code): "job not stopped: it had already ended or never existed (\(code))"
        case .executionEnded(let status, let count, let stops):
            "execution \(status.rawValue): \(count) callback\(count == 1 ? "" : "s") dropped, \(stops) job\(stops == 1 ? "" : "s") to stop"
        case .executionNoted(let status): "execution \(status.rawValue), no callback to drop: nothing to do"
        case .sweptCompleted(let status, let count):
            "sweep found the job \(status.rawValue): completes \(count) callback\(count == 1 ? "" : "s")"
        case .sweptRunning(let status, let count):
            "sweep found the job \(status.rawValue): \(count) callback\(count == 1 ? "" : "s") still wait"
        case .sweptMissing(let failed, let waiting):
            "sweep found no such job: \(failed) callback\(failed == 1 ? "" : "s") failed with SageMaker.JobNotFound, \(waiting) in their grace period"
        case .sweepDeferred(let reason): "sweep check deferred: \(reason)"
        case .expired(let count):
            "\(count) callback\(count == 1 ? "" : "s") dropped: older than a Step Functions execution can live"
        }
    }

    /// Whether the input was bad (recorded as rejected).
    public var isRejection: Bool {
        switch self {
        case .rejected, .rejectedAndFailed: true
        default: false
        }
    }
}

/// The engine's answer to one input: a verdict and the store effects that carry it out.
public struct Decision: Sendable, Equatable {
    public var verdict: Verdict
    public var effects: [Effect]
    /// The job concerned, when known (for logs).
    public var jobName: String?
    /// The token concerned, when one (for logs).
    public var tokenHash: String?

    public init(_ verdict: Verdict, effects: [Effect] = [], jobName: String? = nil, tokenHash: String? = nil) {
        self.verdict = verdict
        self.effects = effects
        self.jobName = jobName
        self.tokenHash = tokenHash
    }

    /// Whether applying this decision queues work for the outbox dispatcher.
    public var queuesWork: Bool {
        effects.contains { if case .enqueue = $0 { true } else { false } }
    }
}

extension Verdict {
    /// The level and event of the one line an input, a delivery or a sweep check earns, decided
    /// here once for the consumers, the dispatcher and the sweep. `refused` says, for a delivery
    /// not made, that the service refused it for good (an operator must look) rather than failed
    /// for now; for a deferred sweep check, that the service refused the describe for another
    /// reason than throttling (a missing permission).
    func logLine(refused: Bool = false) -> (level: Logger.Level, event: Logger.Message) {
        switch self {
        case .rejected, .rejectedAndFailed: (.warning, "message.rejected")
        case .unsupported: (.notice, "message.ignored")
        // One line per callback at info comes from its delivery (`callback.delivered`); an
        // aborted execution ends its callbacks without one, so it is told when processed.
        case .executionEnded: (.info, "message.processed")
        case .delivered(.heartbeat): (.debug, "callback.heartbeat")
        case .delivered(.stopJob): (.info, "job.stop_requested")
        case .delivered: (.info, "callback.delivered")
        case .alreadyClosed, .callbackDropped: (.notice, "callback.closed")
        case .heartbeatRefused: (.warning, "callback.heartbeat_refused")
        case .nothingToStop: (.info, "job.stop_not_needed")
        case .createRefused: (.warning, "job.create_refused")
        case .retryLater: refused ? (.error, "callback.refused") : (.warning, "callback.retry_later")
        case .sweptCompleted, .sweptMissing: (.notice, "sweep.resolved")
        case .sweepDeferred: (refused ? .warning : .info, "sweep.deferred")
        case .sweptRunning: (.info, "sweep.checked")
        default: (.debug, "message.processed")
        }
    }
}
