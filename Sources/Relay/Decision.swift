import Store

/// One change to the store that a decision asks for. Applying a decision's effects in one
/// transaction is what makes it atomic: an outcome is queued in the same commit that removes the
/// callback it completes.
public enum Effect: Sendable, Equatable {
    case insertPending(PendingCallback)
    case removePending(tokenHash: String)
    case updateStatus(tokenHash: String, status: String, at: Int64)
    case enqueue(NewOutboxEntry)
    /// Drops a token's queued entries of these actions (an outcome supersedes its heartbeats; a
    /// newer heartbeat replaces an older one; an ended execution cancels a Create not yet made).
    case dropQueued(tokenHash: String, actions: [OutboxAction])
    case noteHeartbeat(tokenHash: String, at: Int64)
    case recordSweep(tokenHash: String, SweepState)
    case rememberExecutionEnd(EndedExecution)
    case markClosed(tokenHash: String, result: String, at: Int64)
    case rememberTerminal(EarlyEvent)
    case recordRejected(RejectedMessage)
    case deleteOutbox(id: Int64)
    case rescheduleOutbox(id: Int64, attempts: Int, nextAttemptAt: Int64, lastError: String)
}

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

extension StoreTransaction {
    /// Applies effects in order, inside this transaction.
    public func apply(_ effects: [Effect]) throws {
        for effect in effects {
            switch effect {
            case .insertPending(let callback): _ = try insertPending(callback)
            case .removePending(let tokenHash): try deletePending(tokenHash: tokenHash)
            case .updateStatus(let tokenHash, let status, let at): try updatePendingStatus(tokenHash: tokenHash, status: status, at: at)
            case .enqueue(let entry): _ = try enqueue(entry)
            case .dropQueued(let tokenHash, let actions): _ = try deleteOutbox(tokenHash: tokenHash, actions: actions)
            case .noteHeartbeat(let tokenHash, let at): try noteHeartbeat(tokenHash: tokenHash, at: at)
            case .recordSweep(let tokenHash, let state): try recordSweep(tokenHash: tokenHash, state)
            case .rememberExecutionEnd(let ended): try rememberExecutionEnd(ended)
            case .markClosed(let tokenHash, let result, let at): try markClosed(tokenHash: tokenHash, at: at, result: result)
            case .rememberTerminal(let event): _ = try insertEarlyEvent(event)
            case .recordRejected(let message): try recordRejected(message)
            case .deleteOutbox(let id): try deleteOutbox(id: id)
            case .rescheduleOutbox(let id, let attempts, let next, let lastError):
                try rescheduleOutbox(id: id, attempts: attempts, nextAttemptAt: next, lastError: lastError)
            }
        }
    }
}
