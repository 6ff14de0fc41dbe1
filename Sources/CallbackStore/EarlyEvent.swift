/// A terminal job event kept for registrations that arrive after it.
///
/// One per job (`jobKind`, `jobName`): the first terminal event stored wins.
public struct EarlyEvent: Sendable, Equatable {
    /// The SageMaker job kind, e.g. `"ProcessingJob"`.
    public var jobKind: String
    /// The SageMaker job name.
    public var jobName: String
    /// The terminal status: `"Completed"`, `"Failed"` or `"Stopped"`.
    public var status: String
    /// The event JSON as received; the engine parses it again when a registration arrives.
    public var event: String
    /// When the event was received (ms since the Unix epoch); drives TTL and cap eviction.
    public var receivedAt: Int64

    /// An early event as it will be stored.
    public init(jobKind: String, jobName: String, status: String, event: String, receivedAt: Int64) {
        self.jobKind = jobKind
        self.jobName = jobName
        self.status = status
        self.event = event
        self.receivedAt = receivedAt
    }
}
