public import JSON

/// The SageMaker operations the service needs. Requests and descriptions stay JSON objects: the
/// service passes a user's Create request through unchanged and returns descriptions as task output.
public struct SageMaker: Sendable {
    public let client: AWSClient
    public init(client: AWSClient) { self.client = client }

    /// Calls `Create<Kind>` (e.g. `CreateProcessingJob`) with the request as given; returns the job ARN.
    @discardableResult
    public func createJob(operation: String, request: JSONObject) async throws -> String? {
        let response = try await client.call(.sageMaker, operation, request)
        return response.first { $0.key.hasSuffix("JobArn") }?.value.stringValue
    }

    /// Error codes SageMaker answers for a job that does not exist (`ResourceNotFound` for tuning
    /// jobs; a `ValidationException` saying so for the other kinds).
    public static func isNoSuchJob(code: String, message: String) -> Bool {
        if code == "ResourceNotFound" { return true }
        guard code == "ValidationException" else { return false }
        let text = message.lowercased()
        return text.contains("not found") || text.contains("could not find") || text.contains("does not exist")
    }

    /// Error codes of a `Stop…Job` on a job that is no longer running or never existed.
    public static let noSuchRunningJobCodes: Set<String> = ["ValidationException", "ResourceNotFound"]

    /// Calls `Describe<Kind>` (e.g. `DescribeProcessingJob`) for the job named `name` under `nameField`.
    public func describeJob(operation: String, nameField: String, name: String, retryPolicy: RetryPolicy? = nil) async throws -> JSONObject {
        try await client.call(.sageMaker, operation, [nameField: .string(name)], retryPolicy: retryPolicy)
    }

    /// Calls `Stop<Kind>` (e.g. `StopProcessingJob`) for the job named `name` under `nameField`.
    public func stopJob(operation: String, nameField: String, name: String, retryPolicy: RetryPolicy? = nil) async throws {
        _ = try await client.call(.sageMaker, operation, [nameField: .string(name)], retryPolicy: retryPolicy)
    }

    /// Describes a processing job.
    public func describeProcessingJob(name: String) async throws -> JSONObject {
        try await describeJob(operation: "DescribeProcessingJob", nameField: "ProcessingJobName", name: name)
    }
}
