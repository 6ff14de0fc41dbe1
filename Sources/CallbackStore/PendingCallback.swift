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
    /// Whether the registration asked for heartbeats.
    public var heartbeat: Bool
    /// True when the service creates the job (the `Create…Job` registration form).
    public var createdByService: Bool
    /// Whether the job is stopped when `executionArn` ends aborted, timed out or failed.
    public var stopJobOnAbort: Bool
    /// The last non-terminal status seen, e.g. `"InProgress"`.
    public var lastStatus: String?
    /// When `lastStatus` was seen (ms since the Unix epoch).
    public var lastEventAt: Int64?
    /// When the last heartbeat was queued (ms since the Unix epoch); nil before the first.
    public var lastHeartbeatAt: Int64?
    /// Where the safety sweep is with this callback.
    public var sweep: SweepState

    /// A pending callback; the optional and flag fields default to "not given".
    public init(
        tokenHash: String, taskToken: String, jobKind: String, jobName: String, registeredAt: Int64,
        executionArn: String? = nil, heartbeat: Bool = false, createdByService: Bool = false,
        stopJobOnAbort: Bool = false, lastStatus: String? = nil, lastEventAt: Int64? = nil,
        lastHeartbeatAt: Int64? = nil, sweep: SweepState = SweepState()
    ) {
        self.tokenHash = tokenHash
        self.taskToken = taskToken
        self.jobKind = jobKind
        self.jobName = jobName
        self.registeredAt = registeredAt
        self.executionArn = executionArn
        self.heartbeat = heartbeat
        self.createdByService = createdByService
        self.stopJobOnAbort = stopJobOnAbort
        self.lastStatus = lastStatus
        self.lastEventAt = lastEventAt
        self.lastHeartbeatAt = lastHeartbeatAt
        self.sweep = sweep
    }
}

/// The safety sweep's record of one pending callback. Kept in the store, so a restart neither
/// repeats a check early nor restarts a job's grace period.
public struct SweepState: Sendable, Equatable {
    /// `Describe…Job` calls made for this callback so far.
    public var checks: Int
    /// What the last check found: a job status, `"missing"`, or `"error: <code>"`.
    public var status: String?
    /// When the next check is due (ms since the Unix epoch); nil until the first check, which is
    /// due once the callback has waited the configured sweep threshold.
    public var nextCheckAt: Int64?
    /// When a check first found the job missing; nil while it exists.
    public var missingSince: Int64?

    /// Not yet checked.
    public init(checks: Int = 0, status: String? = nil, nextCheckAt: Int64? = nil, missingSince: Int64? = nil) {
        self.checks = checks
        self.status = status
        self.nextCheckAt = nextCheckAt
        self.missingSince = missingSince
    }
}
