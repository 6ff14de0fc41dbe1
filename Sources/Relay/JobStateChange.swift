public import JSON

/// A SageMaker job state change event, read from an EventBridge event as delivered to SQS
/// (directly, or wrapped in an SNS notification).
public struct JobStateChange: Sendable, Equatable {
    public var kind: JobKind
    public var jobName: String
    public var jobArn: String?
    public var status: JobStatus
    /// The job description the event carries; a completed job's task output.
    public var detail: JSONObject
    /// The EventBridge event id, when present.
    public var eventID: String?
    /// When the job changed (detail `LastModifiedTime`, else the event's `time`), in epoch milliseconds.
    public var changedAt: Int64?

    public init(kind: JobKind, jobName: String, jobArn: String?, status: JobStatus, detail: JSONObject, eventID: String?, changedAt: Int64?) {
        self.kind = kind
        self.jobName = jobName
        self.jobArn = jobArn
        self.status = status
        self.detail = detail
        self.eventID = eventID
        self.changedAt = changedAt
    }
}

/// What an events-queue message turned out to be.
public enum EventMessage: Sendable, Equatable {
    /// A state change of a job kind we handle.
    case jobStateChange(JobStateChange)
    /// A Step Functions execution's status change.
    case executionStatusChange(ExecutionStatusChange)
    /// Valid JSON, but not an event we act on (another detail type or source).
    case unsupported(String)
}

extension EventMessage {
    /// Parses one message body. Throws `MessageRejection` for a body that is not a usable event.
    public static func parse(_ body: [UInt8]) throws(MessageRejection) -> EventMessage {
        let value: JSONValue
        do { value = try JSONValue.parse(body) } catch { throw MessageRejection("not JSON: \(error)") }
        return try parse(value)
    }

    /// Parses one message body given as text.
    public static func parse(_ body: String) throws(MessageRejection) -> EventMessage {
        try parse(Array(body.utf8))
    }

    /// Reads an already-parsed event, unwrapping an SNS notification first.
    public static func parse(_ value: JSONValue) throws(MessageRejection) -> EventMessage {
        guard let object = value.objectValue else { throw MessageRejection("not a JSON object") }
        if object["Type"]?.stringValue == "Notification", object["detail-type"] == nil {
            guard let message = object["Message"]?.stringValue else {
                throw MessageRejection("SNS notification without a Message string")
            }
            let inner: JSONValue
            do { inner = try JSONValue.parse(message) } catch {
                throw MessageRejection("SNS notification whose Message is not JSON: \(error)")
            }
            guard inner.objectValue?["Type"]?.stringValue != "Notification" else {
                throw MessageRejection("SNS notification nested in another")
            }
            return try parse(inner)
        }
        guard let detailType = object["detail-type"]?.stringValue else {
            throw MessageRejection("no detail-type: not an EventBridge event")
        }
        if detailType == ExecutionStatusChange.detailType {
            return try ExecutionStatusChange.parse(object)
        }
        guard let kind = JobKind.forDetailType(detailType) else {
            return .unsupported("detail-type '\(detailType.prefix(128))' is not a job state change this service handles")
        }
        if let source = object["source"]?.stringValue, source != "aws.sagemaker" {
            return .unsupported("source '\(source.prefix(128))' is not aws.sagemaker")
        }
        guard let detail = object["detail"]?.objectValue else {
            throw MessageRejection("\(detailType) without a detail object")
        }
        guard let jobName = detail[kind.nameField]?.stringValue, !jobName.isEmpty else {
            throw MessageRejection("\(detailType) without a \(kind.nameField) string")
        }
        // SageMaker never names a job otherwise, and no registration could ever match it.
        guard RegistrationMessage.isValidJobName(jobName) else {
            throw MessageRejection("\(detailType) whose \(kind.nameField) is not a valid SageMaker job name")
        }
        guard let statusText = detail[kind.statusField]?.stringValue else {
            throw MessageRejection("\(detailType) without a \(kind.statusField) string")
        }
        guard let status = JobStatus(rawValue: statusText) else {
            throw MessageRejection("unknown \(kind.statusField) '\(statusText.prefix(64))'")
        }
        let changedAt =
            detail["LastModifiedTime"].flatMap(Timestamp.milliseconds)
            ?? object["time"].flatMap(Timestamp.milliseconds)
        return .jobStateChange(
            JobStateChange(
                kind: kind,
                jobName: jobName,
                jobArn: detail[kind.arnField]?.stringValue ?? object["resources"]?[0]?.stringValue,
                status: status,
                detail: detail,
                eventID: object["id"]?.stringValue,
                changedAt: changedAt
            ))
    }
}
