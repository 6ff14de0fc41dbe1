import JSON

/// The Step Functions callback operations. Task tokens are passed as secrets to the client, so an
/// error that echoes one never carries it into a log.
public struct StepFunctions: Sendable {
    /// Error codes that mean the task is already closed: resending can never succeed.
    public static let taskClosedCodes: Set<String> = ["TaskTimedOut", "TaskDoesNotExist", "InvalidToken"]

    public let client: AWSClient
    public init(client: AWSClient) { self.client = client }

    /// Completes the task with `output` (valid JSON, at most 262,144 bytes).
    public func sendTaskSuccess(taskToken: String, output: String, retryPolicy: RetryPolicy? = nil) async throws {
        _ = try await client.call(
            .stepFunctions, "SendTaskSuccess",
            ["taskToken": .string(taskToken), "output": .string(output)],
            retryPolicy: retryPolicy, redacting: [taskToken]
        )
    }

    /// Fails the task with an error name and a cause.
    public func sendTaskFailure(taskToken: String, error: String, cause: String, retryPolicy: RetryPolicy? = nil) async throws {
        _ = try await client.call(
            .stepFunctions, "SendTaskFailure",
            ["taskToken": .string(taskToken), "error": .string(error), "cause": .string(cause)],
            retryPolicy: retryPolicy, redacting: [taskToken]
        )
    }

    /// Tells Step Functions the task is still alive.
    public func sendTaskHeartbeat(taskToken: String, retryPolicy: RetryPolicy? = nil) async throws {
        _ = try await client.call(
            .stepFunctions, "SendTaskHeartbeat", ["taskToken": .string(taskToken)],
            retryPolicy: retryPolicy, redacting: [taskToken]
        )
    }
}
