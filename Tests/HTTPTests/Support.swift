import HTTP
import Testing

/// Waits for a condition, checking every few milliseconds, and fails the test at the deadline.
func waitUntil(
    _ description: Comment, within limit: Duration = .seconds(20),
    sourceLocation: SourceLocation = #_sourceLocation, _ condition: () -> Bool
) async throws {
    let deadline = ContinuousClock.now + limit
    while !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("timed out waiting: \(description)", sourceLocation: sourceLocation)
            return
        }
        try await Task.sleep(for: .milliseconds(5))
    }
}

/// Runs `body` with a fresh server and client, then shuts both down.
func withClientAndServer<T>(
    policy: LoopbackServer.ConnectionPolicy = .keepAlive,
    configuration: CurlHTTPClient.Configuration = .init(),
    _ body: (CurlHTTPClient, LoopbackServer) async throws -> T
) async throws -> T {
    let server = try LoopbackServer(policy: policy)
    let client = try CurlHTTPClient(configuration: configuration)
    defer {
        client.shutdown()
        server.stop()
    }
    return try await body(client, server)
}

/// The error `operation` throws, or a recorded issue if it returns.
func transportError(
    sourceLocation: SourceLocation = #_sourceLocation,
    _ operation: () async throws -> HTTPResponse
) async throws -> HTTPError {
    do {
        let response = try await operation()
        Issue.record("expected an HTTPError, got status \(response.status)", sourceLocation: sourceLocation)
        throw CancellationError()
    } catch let error as HTTPError {
        return error
    }
}
