import JSON

/// The Step Functions callback operations. Task tokens are passed as secrets to the client, so an
/// error that echoes one never carries it into a log.
public struct StepFunctions: Sendable {
    /// Error codes that mean the task is already closed: resending can never succeed.
    public static let taskClosedCodes: Set<String> = ["TaskTimedOut", "TaskDoesNotExist", "InvalidToken"]

    /// One attempt's time limit. Step Functions answers SendTask* in milliseconds; a stalled
    /// call holds one of the outbox's places in flight until its timeout, so with the client's
    /// default of 30 s, 5 % of calls stalled would leave 256 places room for ~165 calls/s, a
    /// third of the account's quota (10 s: ~465/s). Also the bound after which a call whose
    /// fate is unknown is sent again (the repeat is answered `TaskTimedOut` if the first landed).
    public static let callTimeout: Duration = .seconds(10)

    public let client: AWSClient
    public init(client: AWSClient) { self.client = client }

    /// Completes the task with `output` (valid JSON, at most 262,144 bytes).
    public func sendTaskSuccess(taskToken: String, output: String, retryPolicy: RetryPolicy? = nil) async throws {
        _ = try await client.call(
            .stepFunctions, "SendTaskSuccess",
            ["taskToken": .string(taskToken), "output": .string(output)],
            timeout: Self.callTimeout, retryPolicy: retryPolicy, redacting: [taskToken]
        )
    }

    /// Fails the task with an error name and a cause.
    public func sendTaskFailure(taskToken: String, error: String, cause: String, retryPolicy: RetryPolicy? = nil) async throws {
        _ = try await client.call(
            .stepFunctions, "SendTaskFailure",
            ["taskToken": .string(taskToken), "error": .string(error), "cause": .string(cause)],
            timeout: Self.callTimeout, retryPolicy: retryPolicy, redacting: [taskToken]
        )
    }

    /// Tells Step Functions the task is still alive.
    public func sendTaskHeartbeat(taskToken: String, retryPolicy: RetryPolicy? = nil) async throws {
        _ = try await client.call(
            .stepFunctions, "SendTaskHeartbeat", ["taskToken": .string(taskToken)],
            timeout: Self.callTimeout, retryPolicy: retryPolicy, redacting: [taskToken]
        )
    }
}
