import Glibc
import HTTP
import Logging
import NIOCore
import StatusServer
import Testing

@Suite("The status listener", .timeLimit(.minutes(2)))
struct StatusServerTests {
    static func start(_ limits: StatusServer.Limits = .init()) async throws -> StatusServer {
        try await StatusServer.start(host: "127.0.0.1", port: 0, limits: limits, logger: Logger(label: "test")) { request in
            request.path == "/hello" ? StatusResponse(status: 200, contentType: "text/plain", body: Array("hi\n".utf8)) : .notFound
        }
    }

    static func get(_ server: StatusServer, _ path: String) async throws -> HTTPResponse {
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        return try await client.execute(HTTPRequest(method: "GET", url: "http://\(server.address)\(path)", timeout: .seconds(10)))
    }

    @Test("port 0 picks a port; a route answers, anything else is 404, a body or another method is refused")
    func routes() async throws {
        let server = try await Self.start()
        #expect(server.port > 0)
        let hello = try await Self.get(server, "/hello?x=1")
        #expect(hello.status == 200)
        #expect(hello.body == Array("hi\n".utf8))
        #expect(try await Self.get(server, "/nope").status == 404)
        let post = try RawConnection(port: UInt16(server.port))
        defer { post.close() }
        try post.send("POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
        let answer = try post.readToEnd()
        #expect(answer.hasPrefix("HTTP/1.1 405") || answer.hasPrefix("HTTP/1.1 413"), "\(answer)")
        await server.close()
    }

    @Test("a slow client is cut off at the request timeout; others are answered meanwhile")
    func slowloris() async throws {
        let server = try await Self.start(.init(requestTimeout: .seconds(1)))
        let slow = try RawConnection(port: UInt16(server.port))
        defer { slow.close() }
        try slow.send("GET /hello HTTP/1.1\r\n")
        let started = ContinuousClock.now
        var open = true
        var answered = 0
        while open, ContinuousClock.now - started < .seconds(30) {
            // A header line every 200 ms, never the end of the head.
            open = (try? slow.send("X-Slow: 1\r\n")) != nil
            if try await Self.get(server, "/hello").status == 200 { answered += 1 }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(!open, "the server closed the slow connection")
        #expect(answered > 0, "others were answered meanwhile")
        await server.close()
    }

    @Test("a 1 MB header is refused and the connection closed")
    func hugeHeader() async throws {
        let server = try await Self.start()
        let client = try RawConnection(port: UInt16(server.port))
        defer { client.close() }
        // The server stops reading and closes after 8 KB: the rest of the send may fail.
        let sent = (try? client.send("GET /hello HTTP/1.1\r\nX-Big: " + String(repeating: "a", count: 1 << 20) + "\r\n\r\n")) != nil
        let answer = (try? client.readToEnd()) ?? ""
        #expect(answer.isEmpty || answer.hasPrefix("HTTP/1.1 400"), "sent whole: \(sent); \(answer.prefix(200))")
        #expect(try await Self.get(server, "/hello").status == 200)
        await server.close()
    }

    @Test("connections beyond the cap are closed on accept; the ones within still work")
    func connectionCap() async throws {
        let server = try await Self.start(.init(maxConnections: 8, requestTimeout: .seconds(30)))
        var idle: [RawConnection] = []
        for _ in 0..<8 { idle.append(try RawConnection(port: UInt16(server.port))) }
        defer { idle.forEach { $0.close() } }
        // Wait for the 8 to be accepted, then one more is refused.
        let deadline = ContinuousClock.now + .seconds(10)
        while server.openConnections < 8, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(server.openConnections == 8)
        let ninth = try RawConnection(port: UInt16(server.port))
        defer { ninth.close() }
        #expect(try ninth.readToEnd() == "", "closed without an answer")
        idle.forEach { $0.close() }
        idle = []
        while server.openConnections > 0, ContinuousClock.now < deadline + .seconds(10) { try await Task.sleep(for: .milliseconds(20)) }
        #expect(try await Self.get(server, "/hello").status == 200)
        await server.close()
    }
}
