import HTTP
import Moto
import TestSupport
import Testing

/// Runs `body` with a fresh server (TestSupport's routes) and client, then shuts both down.
func withClientAndServer<T>(
    policy: LoopbackHTTPServer.ConnectionPolicy = .keepAlive,
    configuration: CurlHTTPClient.Configuration = .init(),
    _ body: (CurlHTTPClient, LoopbackHTTPServer) async throws -> T
) async throws -> T {
    let server = try LoopbackHTTPServer.routes(policy: policy)
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
