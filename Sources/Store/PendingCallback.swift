/// A task token waiting for its job to reach a terminal state.
///
/// Kept on disk until an outcome for it is queued; `tokenHash` (hex SHA-256 of the token,
/// computed by the caller) identifies it everywhere a token may be shown.
public struct PendingCallback: Sendable, Equatable {
    /// Hex SHA-256 of `taskToken`; the primary key.
    public var tokenHash: String
    /// The whole task token, needed to call Step Functions. Never log it.
    public var taskToken: String
    /// The SageMaker job kind, e.g. `"ProcessingJob"`.
    public var jobKind: String
    /// The SageMaker job name.
    public var jobName: String
    /// When the registration was stored (ms since the Unix epoch).
    public var registeredAt: Int64
    /// The Step Functions execution that is waiting, when the registration named it.
    public var executionArn: String?
    /// Whether the registration asked for periodic heartbeats.
    public var heartbeat: Bool
    /// True when the service creates the job (the `Create…Job` registration form).
    public var createdByService: Bool
    /// The last non-terminal status seen, e.g. `"InProgress"`.
    public var lastStatus: String?
    /// When `lastStatus` was seen (ms since the Unix epoch).
    public var lastEventAt: Int64?

    /// A pending callback; the optional and flag fields default to "not given".
    public init(
        tokenHash: String, taskToken: String, jobKind: String, jobName: String, registeredAt: Int64,
        executionArn: String? = nil, heartbeat: Bool = false, createdByService: Bool = false,
        lastStatus: String? = nil, lastEventAt: Int64? = nil
    ) {
        self.tokenHash = tokenHash
        self.taskToken = taskToken
        self.jobKind = jobKind
        self.jobName = jobName
        self.registeredAt = registeredAt
        self.executionArn = executionArn
        self.heartbeat = heartbeat
        self.createdByService = createdByService
        self.lastStatus = lastStatus
        self.lastEventAt = lastEventAt
    }
}
