import Foundation
public import HTTP
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A small HTTP/1.1 server on 127.0.0.1, on a port the kernel chooses, that answers every request
/// with a handler the owner gives: the base of stand-ins for AWS endpoints in tests.
///
/// A thread accepts; a thread serves each connection, one request after another (keep-alive unless
/// the ``ConnectionPolicy`` says otherwise), so several connections are served at once. Bodies are
/// read by `Content-Length`; a request that sends `Expect: 100-continue` is told to continue; bytes
/// that cannot start a request line (a TLS hello) are answered 400 at once. The accepting thread
/// keeps the server alive until ``stop()``, which its owner must call. The one loopback server of
/// the project: the AWS stand-ins use it, and the HTTP client's tests (TestSupport's routes).
public final class LoopbackHTTPServer: Sendable {
    /// Whether a connection stays open after a response.
    public enum ConnectionPolicy: Sendable {
        /// Keep the connection open for the next request, as AWS endpoints do.
        case keepAlive
        /// Close after every response, as moto does.
        case closeAfterEachResponse
    }

    /// What the server does with one request.
    public enum Reply: Sendable {
        /// Answer it.
        case response(HTTPResponse)
        /// Send an interim (1xx) head with `headers` first, then answer.
        case interim(status: Int, headers: [(name: String, value: String)], then: HTTPResponse)
        /// Never answer: read until the peer closes (or ``stop()`` cuts the connection).
        case silent
    }

    /// One request as it arrived.
    public struct Request: Sendable {
        /// The method, e.g. `POST`.
        public var method: String
        /// The request target as sent, e.g. `/` or `/path?query`.
        public var path: String
        /// Header fields in the order they were sent, names as sent.
        public var headers: [(name: String, value: String)]
        /// The body, empty when there was none.
        public var body: [UInt8]

        /// A request; the server makes them, tests of handlers may too.
        public init(method: String, path: String, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
            self.method = method
            self.path = path
            self.headers = headers
            self.body = body
        }

        /// The first header named `name`, compared without regard to ASCII case.
        public func header(_ name: String) -> String? {
            headers.first { HTTPSyntax.namesEqual($0.name, name) }?.value
        }
    }

    /// What the handler answers: status, headers and body, as a client would receive them.
    /// `Content-Length` is added by the server and must not be given.
    public typealias Response = HTTPResponse

    /// Answers one request; called on the connection's thread, so it may block that connection only.
    public typealias Handler = @Sendable (Request) -> Response
    /// Decides what to do with one request; called on the connection's thread, like ``Handler``.
    public typealias Replier = @Sendable (Request) -> Reply

    /// The largest request head accepted; a larger one is answered 413 and the connection
    /// closed, so a confused client cannot grow the server without bound.
    public static let maximumHeadBytes = 64 * 1024
    /// The largest request body accepted, on the same terms.
    public static let maximumBodyBytes = 16 * 1024 * 1024

    /// The port the server listens on.
    public let port: UInt16
    private let listener: Int32
    private let replier: Replier
    private let policy: ConnectionPolicy
    private let state = Mutex(State())

    private struct State {
        var connections: Set<Int32> = []
        var acceptedConnections = 0
        var requestsReceived = 0
        var connectionThreadCPU: Duration = .zero
        var isStopped = false
        var listenerIsOpen = true
    }

    /// Starts listening on 127.0.0.1 at a free port and answering every request with `handler`.
    /// - Throws: `POSIXError` when the socket cannot be made, bound or listened on.
    public convenience init(policy: ConnectionPolicy = .keepAlive, handler: @escaping Handler) throws {
        try self.init(policy: policy, replier: { .response(handler($0)) })
    }

    /// Starts listening on 127.0.0.1 at a free port and serving with `replier`, which may also
    /// send an interim head first or never answer.
    /// - Throws: `POSIXError` when the socket cannot be made, bound or listened on.
    public init(policy: ConnectionPolicy = .keepAlive, replier: @escaping Replier) throws {
        self.replier = replier
        self.policy = policy
        let fd = try Self.loopbackSocket(listening: true)
        listener = fd
        port = try Self.boundPort(of: fd)
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    /// `http://127.0.0.1:<port>`, with no trailing slash.
    public var endpoint: String { "http://127.0.0.1:\(port)" }

    /// `endpoint` followed by `path` (which starts with `/`).
    public func url(_ path: String) -> String { endpoint + path }

    /// How many connections were accepted so far: one per client connection, so keep-alive shows.
    public var acceptedConnections: Int { state.withLock { $0.acceptedConnections } }
    /// How many connections are open now.
    public var openConnections: Int { state.withLock { $0.connections.count } }
    /// How many requests arrived, answered or not (bytes that are not HTTP count as one).
    public var requestsReceived: Int { state.withLock { $0.requestsReceived } }
    /// CPU time spent by connection threads that have ended.
    public var connectionThreadCPU: Duration { state.withLock { $0.connectionThreadCPU } }

    /// A loopback port on which nothing listens (bound, read back and released), for tests of
    /// refused connections.
    public static func refusedPort() throws -> UInt16 {
        let fd = try loopbackSocket(listening: false)
        defer { close(fd) }
        return try boundPort(of: fd)
    }

    /// A TCP socket bound to 127.0.0.1 at a port the kernel chooses, listening if asked.
    private static func loopbackSocket(listening: Bool) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 && (!listening || listen(fd, 512) == 0)
            }
        }
        guard bound else {
            let error = POSIXError(.init(rawValue: errno) ?? .EIO)
            close(fd)
            throw error
        }
        return fd
    }

    private static func boundPort(of fd: Int32) throws -> UInt16 {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let result = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard result == 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        return UInt16(bigEndian: address.sin_port)
    }

    /// Stops accepting and cuts every open connection; their threads then end. Calling it again
    /// does nothing.
    public func stop() {
        state.withLock { state in
            guard !state.isStopped else { return }
            state.isStopped = true
            // Under the lock: a descriptor leaves the set (and the listener its flag) before it is
            // closed, so no shutdown here can reach a number the kernel has handed out again.
            if state.listenerIsOpen { shutdown(listener, Int32(SHUT_RDWR)) }
            for connection in state.connections { shutdown(connection, Int32(SHUT_RDWR)) }
        }
    }

    private func acceptLoop() {
        defer {
            state.withLock { state in
                state.listenerIsOpen = false
                close(listener)
            }
        }
        while true {
            let connection = accept(listener, nil, nil)
            if connection < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return
            }
            let admitted = state.withLock { state in
                guard !state.isStopped else { return false }
                state.connections.insert(connection)
                state.acceptedConnections += 1
                return true
            }
            guard admitted else {
                close(connection)
                return
            }
            Thread.detachNewThread { [self] in serve(connection) }
        }
    }

    private func serve(_ connection: Int32) {
        defer {
            var cpu = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu)
            state.withLock { state in
                state.connections.remove(connection)
                state.connectionThreadCPU += .seconds(cpu.tv_sec) + .nanoseconds(cpu.tv_nsec)
            }
            close(connection)
        }
        var reader = RequestReader(connection: connection)
        while true {
            let next = reader.next()
            if case .closed = next { return }
            state.withLock { $0.requestsReceived += 1 }
            switch next {
            case .closed:
                return
            case .refused(let status):
                _ = Self.send(connection, Self.head(status: status, headers: [("Connection", "close")], bodyCount: 0))
                return
            case .request(let request, let asked):
                let keepAlive = asked && policy == .keepAlive
                let response: HTTPResponse
                switch replier(request) {
                case .response(let answer):
                    response = answer
                case .interim(let status, let headers, let answer):
                    guard Self.send(connection, Self.head(status: status, headers: headers, bodyCount: nil)) else { return }
                    response = answer
                case .silent:
                    var byte: UInt8 = 0
                    while recv(connection, &byte, 1, 0) > 0 {}
                    return
                }
                var head = Self.head(status: response.status, headers: response.headers, bodyCount: response.body.count, closing: !keepAlive)
                head.append(contentsOf: response.body)
                guard Self.send(connection, head), keepAlive else { return }
            }
        }
    }

    /// A response head; `bodyCount` nil for an interim (1xx) head, which has no length.
    private static func head(status: Int, headers: [(name: String, value: String)], bodyCount: Int?, closing: Bool = false) -> [UInt8] {
        var text = "HTTP/1.1 \(status) \(reason(status))\r\n"
        if let bodyCount { text += "Content-Length: \(bodyCount)\r\n" }
        for header in headers { text += "\(header.name): \(header.value)\r\n" }
        if closing { text += "Connection: close\r\n" }
        text += "\r\n"
        return Array(text.utf8)
    }

    private static func reason(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 103: "Early Hints"
        case 200: "OK"
        case 400: "Bad Request"
        case 404: "Not Found"
        case 411: "Length Required"
        case 413: "Content Too Large"
        case 500: "Internal Server Error"
        case 503: "Service Unavailable"
        default: "Status"
        }
    }

    static func send(_ connection: Int32, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { buffer in
            var sent = 0
            while sent < buffer.count {
                let n = Glibc.send(connection, buffer.baseAddress! + sent, buffer.count - sent, Int32(MSG_NOSIGNAL))
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return false }
                sent += n
            }
            return true
        }
    }
}

/// Reads HTTP/1.1 requests off one connection, one after another.
private struct RequestReader {
    enum Outcome {
        /// The peer closed (or the connection was cut) between or inside requests.
        case closed
        /// The bytes are not a request this server takes: answer `status` and close.
        case refused(status: Int)
        /// A whole request; `keepAlive` is false when the client asked to close after it.
        case request(LoopbackHTTPServer.Request, keepAlive: Bool)
    }

    let connection: Int32
    private var buffer: [UInt8] = []
    private var chunk = [UInt8](repeating: 0, count: 64 * 1024)

    init(connection: Int32) {
        self.connection = connection
    }

    mutating func next() -> Outcome {
        guard
            let headEnd = fill(until: { buffer in
                buffer.firstRange(of: [13, 10, 13, 10])?.upperBound ?? (buffer.count > LoopbackHTTPServer.maximumHeadBytes ? -1 : nil)
            })
        else { return .closed }
        guard headEnd > 0 else { return .refused(status: 413) }
        let lines = String(decoding: buffer[..<(headEnd - 4)], as: UTF8.self).split(separator: "\r\n", omittingEmptySubsequences: false)
        let requestLine = lines[0].split(separator: " ")
        guard requestLine.count == 3, requestLine[2].hasPrefix("HTTP/1.") else { return .refused(status: 400) }
        var headers: [(name: String, value: String)] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { return .refused(status: 400) }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        func header(_ name: String) -> String? {
            headers.first { HTTPSyntax.namesEqual($0.name, name) }?.value
        }
        // Only Content-Length bodies: curl sends those for every request this server stands in for.
        if header("transfer-encoding") != nil { return .refused(status: 411) }
        var length = 0
        if let declared = header("content-length") {
            guard let parsed = Int(declared), parsed >= 0 else { return .refused(status: 400) }
            length = parsed
        }
        guard length <= LoopbackHTTPServer.maximumBodyBytes else { return .refused(status: 413) }
        if header("expect")?.lowercased() == "100-continue", buffer.count < headEnd + length {
            guard LoopbackHTTPServer.send(connection, Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)) else { return .closed }
        }
        guard fill(until: { $0.count >= headEnd + length ? headEnd + length : nil }) != nil else { return .closed }
        let request = LoopbackHTTPServer.Request(
            method: String(requestLine[0]), path: String(requestLine[1]), headers: headers,
            body: Array(buffer[headEnd..<(headEnd + length)])
        )
        buffer.removeFirst(headEnd + length)
        let connectionHeader = header("connection")?.lowercased()
        let keepAlive = requestLine[2] == "HTTP/1.1" ? connectionHeader != "close" : connectionHeader == "keep-alive"
        return .request(request, keepAlive: keepAlive)
    }

    /// Reads until `done` finds what it wants in the buffer; nil when the peer closes first. A
    /// first byte that cannot start a request line ends the wait at once (with a position that
    /// makes the head unparseable), so a peer that is not HTTP, such as a TLS hello, gets its 400
    /// without waiting for a blank line that never comes.
    private mutating func fill(until done: ([UInt8]) -> Int?) -> Int? {
        while true {
            if let found = done(buffer) { return found }
            if let first = buffer.first, !(UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(first) { return 4 }
            let n = chunk.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return nil }
            buffer.append(contentsOf: chunk[..<n])
        }
    }
}
