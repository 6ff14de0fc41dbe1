/// A kind of SageMaker job the relay waits for, with every name that differs between kinds:
/// the event's detail type, the fields that carry the job's name, ARN and status, the
/// registration fields, the API operations and the error names a workflow catches.
public struct JobKind: Sendable, Hashable, CustomStringConvertible {
    /// The stored name of the kind, e.g. `ProcessingJob`.
    public let name: String
    /// EventBridge `detail-type` of this kind's state change events.
    public let detailType: String
    /// Field holding the job's name, in events, descriptions and registrations.
    public let nameField: String
    /// Field holding the job's ARN.
    public let arnField: String
    /// Field holding the job's status.
    public let statusField: String
    /// Registration field carrying a Create request, and the operation that takes it.
    public let createOperation: String
    /// Operation that describes one job.
    public let describeOperation: String
    /// Operation that stops one job.
    public let stopOperation: String

    /// SageMaker names every field and operation of a kind after it (`ProcessingJobName`,
    /// `DescribeProcessingJob`, …); they are made once here, as event parsing reads them per event.
    private init(name: String, detailType: String) {
        self.name = name
        self.detailType = detailType
        nameField = name + "Name"
        arnField = name + "Arn"
        statusField = name + "Status"
        createOperation = "Create" + name
        describeOperation = "Describe" + name
        stopOperation = "Stop" + name
    }

    /// The error a workflow catches when the job failed, e.g. `SageMaker.ProcessingJobFailed`.
    public var failedError: String { "SageMaker.\(name)Failed" }
    /// The error a workflow catches when the job was stopped.
    public var stoppedError: String { "SageMaker.\(name)Stopped" }

    public var description: String { name }

    /// SageMaker Processing jobs.
    public static let processing = JobKind(name: "ProcessingJob", detailType: "SageMaker Processing Job State Change")

    /// SageMaker Training jobs (events also carry `SecondaryStatus` and `ModelArtifacts`).
    public static let training = JobKind(name: "TrainingJob", detailType: "SageMaker Training Job State Change")

    /// SageMaker Batch Transform jobs.
    public static let transform = JobKind(name: "TransformJob", detailType: "SageMaker Transform Job State Change")

    /// SageMaker Hyperparameter Tuning jobs (events also carry the best training job).
    public static let tuning = JobKind(name: "HyperParameterTuningJob", detailType: "SageMaker HyperParameter Tuning Job State Change")

    /// Every kind this build handles.
    public static let all: [JobKind] = [.processing, .training, .transform, .tuning]

    /// The kind whose events carry `detailType`, if we handle it.
    public static func forDetailType(_ detailType: String) -> JobKind? {
        all.first { $0.detailType == detailType }
    }

    /// The kind stored under `name`, if we handle it.
    public static func named(_ name: String) -> JobKind? {
        all.first { $0.name == name }
    }
}

/// The status of a SageMaker job as events report it.
public enum JobStatus: String, Sendable, CaseIterable {
    case inProgress = "InProgress"
    case completed = "Completed"
    case failed = "Failed"
    case stopping = "Stopping"
    case stopped = "Stopped"

    /// Completed, Failed and Stopped are final: SageMaker never changes them.
    public var isTerminal: Bool {
        switch self {
        case .completed, .failed, .stopped: true
        case .inProgress, .stopping: false
        }
    }
}
