/// A Step Functions execution that has ended, remembered so that a registration it sent before
/// it ended, arriving late, is not waited for (nor its job created).
///
/// Kept as long as an early event (a registration cannot sit in SQS longer) and capped alike.
public struct EndedExecution: Sendable, Equatable {
    /// The execution's ARN; the primary key.
    public var executionArn: String
    /// How it ended: `SUCCEEDED`, `FAILED`, `TIMED_OUT` or `ABORTED`.
    public var status: String
    /// When it ended (ms since the Unix epoch), as Step Functions reported it.
    public var endedAt: Int64
    /// When the service learnt of it (ms since the Unix epoch); pruning goes by this.
    public var receivedAt: Int64

    public init(executionArn: String, status: String, endedAt: Int64, receivedAt: Int64) {
        self.executionArn = executionArn
        self.status = status
        self.endedAt = endedAt
        self.receivedAt = receivedAt
    }
}
