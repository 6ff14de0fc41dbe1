/// What an outbox entry asks the delivery loop to do.
public enum OutboxAction: String, Sendable, CaseIterable {
    /// `SendTaskSuccess` with `payload` as output.
    case success
    /// `SendTaskFailure` with `errorName` and `payload` as cause.
    case failure
    /// `SendTaskHeartbeat`.
    case heartbeat
    /// SageMaker `Create…Job` with `payload` as the request.
    case createJob
    /// SageMaker `Stop…Job` for `jobName` (its workflow ended; `taskToken` is empty).
    case stopJob

    /// Whether the action is a Step Functions call on the entry's task token.
    public var callsStepFunctions: Bool {
        switch self {
        case .success, .failure, .heartbeat: true
        case .createJob, .stopJob: false
        }
    }
}

/// An outcome to deliver, written in the same transaction as the state change that decided it.
public struct NewOutboxEntry: Sendable, Equatable {
    /// Hex SHA-256 of `taskToken`.
    public var tokenHash: String
    /// The whole task token, needed to call Step Functions. Never log it.
    public var taskToken: String
    /// The SageMaker job kind, e.g. `"ProcessingJob"`.
    public var jobKind: String
    /// The SageMaker job name.
    public var jobName: String
    /// What to do.
    public var action: OutboxAction
    /// success: output JSON; failure: cause; heartbeat and stopJob: `""`; createJob: request JSON.
    public var payload: String
    /// The Step Functions error name; failure only.
    public var errorName: String?
    /// First attempt time (ms since the Unix epoch); also recorded as the entry's creation time.
    public var notBefore: Int64

    /// An entry to enqueue.
    public init(
        tokenHash: String, taskToken: String, jobKind: String, jobName: String,
        action: OutboxAction, payload: String, errorName: String? = nil, notBefore: Int64
    ) {
        self.tokenHash = tokenHash
        self.taskToken = taskToken
        self.jobKind = jobKind
        self.jobName = jobName
        self.action = action
        self.payload = payload
        self.errorName = errorName
        self.notBefore = notBefore
    }
}

/// An outcome waiting in the outbox, with its delivery history.
public struct OutboxEntry: Sendable, Equatable {
    /// Row id, stable for the entry's life.
    public var id: Int64
    /// Hex SHA-256 of `taskToken`.
    public var tokenHash: String
    /// The whole task token. Never log it.
    public var taskToken: String
    /// The SageMaker job kind.
    public var jobKind: String
    /// The SageMaker job name.
    public var jobName: String
    /// What to do.
    public var action: OutboxAction
    /// See ``NewOutboxEntry/payload``.
    public var payload: String
    /// The Step Functions error name; failure only.
    public var errorName: String?
    /// Failed attempts so far.
    public var attempts: Int
    /// When the next attempt is due (ms since the Unix epoch).
    public var nextAttemptAt: Int64
    /// When the entry was enqueued (its first `notBefore`).
    public var createdAt: Int64
    /// The last failure, short and safe to show (an AWS error code and message).
    public var lastError: String?

    /// An entry as read back from the store.
    public init(
        id: Int64, tokenHash: String, taskToken: String, jobKind: String, jobName: String,
        action: OutboxAction, payload: String, errorName: String?, attempts: Int,
        nextAttemptAt: Int64, createdAt: Int64, lastError: String?
    ) {
        self.id = id
        self.tokenHash = tokenHash
        self.taskToken = taskToken
        self.jobKind = jobKind
        self.jobName = jobName
        self.action = action
        self.payload = payload
        self.errorName = errorName
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.createdAt = createdAt
        self.lastError = lastError
    }
}
