import JSON

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

    /// Calls `Describe<Kind>` (e.g. `DescribeProcessingJob`) for the job named `name` under `nameField`.
    public func describeJob(operation: String, nameField: String, name: String) async throws -> JSONObject {
        try await client.call(.sageMaker, operation, [nameField: .string(name)])
    }

    /// Creates a processing job from a full CreateProcessingJob request.
    @discardableResult
    public func createProcessingJob(_ request: JSONObject) async throws -> String? {
        try await createJob(operation: "CreateProcessingJob", request: request)
    }

    /// Describes a processing job.
    public func describeProcessingJob(name: String) async throws -> JSONObject {
        try await describeJob(operation: "DescribeProcessingJob", nameField: "ProcessingJobName", name: name)
    }
}
