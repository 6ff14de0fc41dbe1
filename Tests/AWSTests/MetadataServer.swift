import HTTP
import Moto
import Synchronization

/// Stands in for the ECS container credentials endpoint and the EC2 instance metadata service:
/// the shared loopback server with a text handler, recording every request before it is answered
/// so tests can check what was sent. Every test calls ``stop()``.
final class MetadataServer: Sendable {
    typealias Request = LoopbackHTTPServer.Request

    struct Response: Sendable {
        var status: Int
        var body: String = ""
    }

    private let server: LoopbackHTTPServer
    private let recorded: SharedState<[Request]>

    init(handler: @escaping @Sendable (Request) -> Response) throws {
        let recorded = SharedState<[Request]>([])
        self.recorded = recorded
        server = try LoopbackHTTPServer { request in
            recorded.withLock { $0.append(request) }
            let response = handler(request)
            return HTTPResponse(status: response.status, headers: [("Content-Type", "text/plain")], body: Array(response.body.utf8))
        }
    }

    var port: UInt16 { server.port }

    /// `http://127.0.0.1:<port>`, with no trailing slash.
    var endpoint: String { server.endpoint }

    /// Every request received so far, in order.
    var requests: [Request] { recorded.withLock { $0 } }

    /// Stops accepting and cuts open connections.
    func stop() { server.stop() }
}

/// State a fake endpoint's handler and its test both reach: a reference, because a `Mutex`
/// cannot be captured by the escaping handler itself.
final class SharedState<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) {
        mutex = Mutex(value)
    }

    func withLock<Result>(_ body: (inout sending Value) -> Result) -> Result {
        mutex.withLock { body(&$0) }
    }
}
