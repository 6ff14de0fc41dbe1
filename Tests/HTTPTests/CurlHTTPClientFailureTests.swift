import HTTP
import Moto
import TestSupport
import Testing

@Suite(.timeLimit(.minutes(1)))
struct CurlHTTPClientFailureTests {
    @Test func totalTimeoutFiresNearTheConfiguredTime() async throws {
        try await withClientAndServer { client, server in
            let start = ContinuousClock.now
            let error = try await transportError {
                try await client.execute(HTTPRequest(method: "GET", url: server.url("/silent"), timeout: .milliseconds(300)))
            }
            let elapsed = ContinuousClock.now - start
            #expect(error.kind == .timeout)
            #expect(error.curlCode == 28)
            #expect(elapsed >= .milliseconds(290))
            // Generous: a loaded CI machine is slow, and without the timeout this would never end.
            #expect(elapsed < .seconds(10))
        }
    }

    @Test func refusedConnectionIsAConnectError() async throws {
        let port = try LoopbackHTTPServer.refusedPort()
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        let error = try await transportError {
            try await client.execute(HTTPRequest(method: "GET", url: "http://127.0.0.1:\(port)/", timeout: .seconds(5)))
        }
        #expect(error.kind == .connect)
        #expect(error.description.contains("127.0.0.1"))
    }

    @Test func cancellationAbortsARequestStuckOnASilentServer() async throws {
        try await withClientAndServer { client, server in
            let task = Task {
                try await client.execute(HTTPRequest(method: "GET", url: server.url("/silent"), timeout: .seconds(30)))
            }
            try await eventually("the server has the request") { server.requestsReceived == 1 }
            let start = ContinuousClock.now
            task.cancel()
            let result = await task.result
            #expect(ContinuousClock.now - start < .seconds(10), "the transfer had 30 s to run: this proves cancellation aborted it")
            #expect(throws: CancellationError.self) { try result.get() }
            // The aborted connection is closed, and the client carries on.
            try await eventually("the aborted connection is closed") { server.openConnections == 0 }
            let response = try await client.execute(HTTPRequest(method: "GET", url: server.url("/status/204")))
            #expect(response.status == 204)
        }
    }

    @Test func cancellationOfARequestWaitingForASlot() async throws {
        let configuration = CurlHTTPClient.Configuration(maxConcurrentTransfers: 1)
        try await withClientAndServer(configuration: configuration) { client, server in
            let blocker = Task { try await client.execute(HTTPRequest(method: "GET", url: server.url("/silent"))) }
            try await eventually("the server has the first request") { server.requestsReceived == 1 }
            let waiting = Task { try await client.execute(HTTPRequest(method: "GET", url: server.url("/status/200"))) }
            waiting.cancel()
            await #expect(throws: CancellationError.self) { try await waiting.value }
            blocker.cancel()
            await #expect(throws: CancellationError.self) { try await blocker.value }
            #expect(server.requestsReceived == 1)
        }
    }

    @Test func alreadyCancelledTaskFailsAtOnce() async throws {
        try await withClientAndServer { client, server in
            let task = Task {
                withUnsafeCurrentTask { $0?.cancel() }
                return try await client.execute(HTTPRequest(method: "GET", url: server.url("/status/200")))
            }
            await #expect(throws: CancellationError.self) { try await task.value }
            #expect(server.requestsReceived == 0)
        }
    }

    @Test func shutdownFailsInFlightAndLaterRequests() async throws {
        let server = try LoopbackHTTPServer.routes()
        defer { server.stop() }
        let client = try CurlHTTPClient()
        let inFlight = Task { try await client.execute(HTTPRequest(method: "GET", url: server.url("/silent"))) }
        try await eventually("the server has the request") { server.requestsReceived == 1 }
        client.shutdown()
        let error = try await transportError { try await inFlight.value }
        #expect(error.kind == .shutdown)
        let later = try await transportError {
            try await client.execute(HTTPRequest(method: "GET", url: server.url("/status/200")))
        }
        #expect(later.kind == .shutdown)
        client.shutdown()
        try await eventually("the connection is closed") { server.openConnections == 0 }
    }

    @Test func shutdownClosesIdleKeepAliveConnections() async throws {
        let server = try LoopbackHTTPServer.routes()
        defer { server.stop() }
        let client = try CurlHTTPClient()
        let response = try await client.execute(HTTPRequest(method: "GET", url: server.url("/status/200")))
        #expect(response.status == 200)
        #expect(server.openConnections == 1)
        client.shutdown()
        try await eventually("the idle connection is closed") { server.openConnections == 0 }
    }

    @Test func httpsToAPlainHTTPPortFailsWithoutHanging() async throws {
        try await withClientAndServer { client, server in
            let start = ContinuousClock.now
            let error = try await transportError {
                try await client.execute(
                    HTTPRequest(
                        method: "GET", url: "https://127.0.0.1:\(server.port)/status/200", timeout: .seconds(60)))
            }
            // A hang would end in the request's timeout; a TLS error proves the failure was noticed.
            #expect(error.kind == .tls)
            // Far inside the 60 s timeout: the handshake loads the CA bundle, which takes seconds
            // on a CI machine running every suite at once.
            #expect(ContinuousClock.now - start < .seconds(30))
        }
    }

    @Test(arguments: [
        HTTPRequest(method: "GET", url: "http://127.0.0.1:1/", headers: [("X-Injected", "a\r\nX-Other: b")]),
        HTTPRequest(method: "GET", url: "http://127.0.0.1:1/", headers: [("Bad Name", "a")]),
        HTTPRequest(method: "GET / HTTP/1.1\r\n", url: "http://127.0.0.1:1/"),
        HTTPRequest(method: "GET", url: "http://127.0.0.1:1/a b"),
        HTTPRequest(method: "GET", url: "ftp://127.0.0.1:1/"),
        HTTPRequest(method: "GET", url: "file:///etc/passwd"),
        HTTPRequest(method: "GET", url: "/relative"),
    ])
    func invalidRequestsAreRejected(request: HTTPRequest) async throws {
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        let error = try await transportError { try await client.execute(request) }
        #expect(error.kind == .invalidRequest)
    }

    @Test func errorDescriptionNamesTheKindAndCode() {
        let error = HTTPError(kind: .timeout, curlCode: 28, message: "Timeout was reached")
        #expect(error.description == "HTTPError(timeout, curl 28): Timeout was reached")
    }

    @Test func unusableConfigurationIsRejected() {
        #expect(throws: HTTPError.self) { try CurlHTTPClient(configuration: .init(maxConcurrentTransfers: 0)) }
        #expect(throws: HTTPError.self) { try CurlHTTPClient(configuration: .init(userAgent: "a\r\nX-Evil: 1")) }
    }
}
