import JSON

/// A Step Functions execution status change (`Step Functions Execution Status Change`, source
/// `aws.states`), as EventBridge delivers it. When an execution that owns pending callbacks ends,
/// their tokens are dead; when it ends aborted, timed out or failed, their jobs may be stopped.
public struct ExecutionStatusChange: Sendable, Equatable {
    public var executionArn: String
    public var stateMachineArn: String?
    public var status: ExecutionStatus
    /// When the execution ended (`stopDate`, else the event's `time`), epoch milliseconds.
    public var stoppedAt: Int64?
    /// The EventBridge event id, when present.
    public var eventID: String?

    public init(executionArn: String, stateMachineArn: String?, status: ExecutionStatus, stoppedAt: Int64? = nil, eventID: String?) {
        self.executionArn = executionArn
        self.stateMachineArn = stateMachineArn
        self.status = status
        self.stoppedAt = stoppedAt
        self.eventID = eventID
    }

    /// The EventBridge detail type of these events.
    public static let detailType = "Step Functions Execution Status Change"
    /// The EventBridge source of these events.
    public static let source = "aws.states"

    /// Reads the event's fields; `object` is the whole EventBridge event.
    static func parse(_ object: JSONObject) throws(MessageRejection) -> EventMessage {
        if let source = object["source"]?.stringValue, source != Self.source {
            return .unsupported("source '\(source.prefix(128))' is not \(Self.source)")
        }
        guard let detail = object["detail"]?.objectValue else {
            throw MessageRejection("\(detailType) without a detail object")
        }
        guard let arn = detail["executionArn"]?.stringValue, !arn.isEmpty else {
            throw MessageRejection("\(detailType) without an executionArn string")
        }
        guard let statusText = detail["status"]?.stringValue else {
            throw MessageRejection("\(detailType) without a status string")
        }
        guard let status = ExecutionStatus(rawValue: statusText) else {
            // A status added after this build: nothing to act on, and not the sender's fault.
            return .unsupported("execution status '\(statusText.prefix(64))' is not one this service knows")
        }
        return .executionStatusChange(
            ExecutionStatusChange(
                executionArn: arn, stateMachineArn: detail["stateMachineArn"]?.stringValue, status: status,
                stoppedAt: detail["stopDate"].flatMap(Timestamp.milliseconds) ?? object["time"].flatMap(Timestamp.milliseconds),
                eventID: object["id"]?.stringValue
            ))
    }
}

/// The status of a Step Functions execution.
public enum ExecutionStatus: String, Sendable, CaseIterable {
    case running = "RUNNING"
    case succeeded = "SUCCEEDED"
    case failed = "FAILED"
    case timedOut = "TIMED_OUT"
    case aborted = "ABORTED"
    case pendingRedrive = "PENDING_REDRIVE"

    /// The execution is over: none of its task tokens can be completed any more.
    public var hasEnded: Bool {
        switch self {
        case .succeeded, .failed, .timedOut, .aborted: true
        case .running, .pendingRedrive: false
        }
    }

    /// The workflow gave up before its job ended, so the job's work is no longer wanted.
    public var isAbandonment: Bool {
        switch self {
        case .failed, .timedOut, .aborted: true
        case .running, .succeeded, .pendingRedrive: false
        }
    }
}
