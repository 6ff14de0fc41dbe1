public import AWS
public import JSON

/// The queue calls a ``QueueConsumer`` makes: what `SQS` does, and what a test's fake records.
public protocol MessageSource: Sendable {
    /// Long-polls `queueURL` for up to ten messages, waiting up to `waitSeconds`.
    func receiveMessages(queueURL: String, waitSeconds: Int) async throws -> [SQSMessage]
    /// Deletes up to ten messages; returns the entries the queue refused.
    func deleteMessageBatch(queueURL: String, receiptHandles: [(id: String, receiptHandle: String)]) async throws -> [SQSBatchFailure]
}

/// The Step Functions calls that complete or keep alive a task: what ``OutboxDispatcher`` sends.
public protocol TaskCallbacks: Sendable {
    func sendTaskSuccess(taskToken: String, output: String, retryPolicy: RetryPolicy?) async throws
    func sendTaskFailure(taskToken: String, error: String, cause: String, retryPolicy: RetryPolicy?) async throws
    func sendTaskHeartbeat(taskToken: String, retryPolicy: RetryPolicy?) async throws
}

/// The SageMaker calls on jobs: created and stopped by ``OutboxDispatcher``, described by
/// ``SafetySweep``. `operation` names the call of the job's kind (`CreateTrainingJob`, …).
public protocol JobControl: Sendable {
    /// Creates a job; returns its ARN when the answer names one.
    func createJob(operation: String, request: JSONObject) async throws -> String?
    func describeJob(operation: String, nameField: String, name: String, retryPolicy: RetryPolicy?) async throws -> JSONObject
    func stopJob(operation: String, nameField: String, name: String, retryPolicy: RetryPolicy?) async throws
}

extension SQS: MessageSource {
    public func receiveMessages(queueURL: String, waitSeconds: Int) async throws -> [SQSMessage] {
        try await receiveMessages(queueURL: queueURL, maxMessages: SQS.batchLimit, waitSeconds: waitSeconds, visibilityTimeout: nil)
    }
}

extension StepFunctions: TaskCallbacks {}

extension SageMaker: JobControl {}
