/// Something that performs HTTP requests; the AWS client depends on this, tests substitute fakes.
public protocol HTTPClient: Sendable {
    /// Performs one request and returns the final response, whatever its status.
    ///
    /// Throws ``HTTPError`` for transport failures (no HTTP response), and `CancellationError` if the
    /// calling task is cancelled, in which case the transfer is aborted promptly.
    func execute(_ request: HTTPRequest) async throws -> HTTPResponse
}
