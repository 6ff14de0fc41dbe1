import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A tiny HTTP/1.1 server on 127.0.0.1 for tests: a thread accepts, a thread serves each connection.
///
/// Routes: `/echo` answers with the request body and `X-Echo-Method`, `X-Echo-Path` and one
/// `X-Echo-<name>` header per request header; `/bytes/N` sends N patterned bytes; `/delay/MS`
/// answers after MS milliseconds; `/silent` never answers; `/status/N` answers with status N;
/// `/interim` sends a 103 with its own header before the final 200. Anything that is not HTTP
/// gets a 400 and a close.
final class LoopbackServer: Sendable {
    enum ConnectionPolicy: Sendable {
        /// Keep the connection open for the next request, as AWS endpoints do.
        case keepAlive
        /// Close after every response, as moto does.
        case closeAfterEachResponse
    }

    private struct State {
        var acceptedConnections = 0
        var openConnections: Set<Int32> = []
        var requestsReceived = 0
        var connectionThreadCPU: Duration = .zero
        var isStopped = false
    }

    let port: UInt16
    private let policy: ConnectionPolicy
    private let listener: Int32
    private let state = Mutex(State())

    init(policy: ConnectionPolicy = .keepAlive) throws {
        self.policy = policy
        listener = try Self.listen()
        port = try Self.boundPort(of: listener)
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    var acceptedConnections: Int { state.withLock { $0.acceptedConnections } }
    var openConnections: Int { state.withLock { $0.openConnections.count } }
    var requestsReceived: Int { state.withLock { $0.requestsReceived } }
    /// CPU time spent by connection threads that have ended.
    var connectionThreadCPU: Duration { state.withLock { $0.connectionThreadCPU } }

    /// Stops accepting and cuts every open connection; the threads then end on their own.
    func stop() {
        let connections = state.withLock { state in
            state.isStopped = true
            return state.openConnections
        }
        shutdown(listener, Int32(SHUT_RDWR))
        for connection in connections { shutdown(connection, Int32(SHUT_RDWR)) }
    }

    /// A port on which nothing listens (bound, read back and released).
    static func refusedPort() throws -> UInt16 {
        let socket = try makeSocket()
        defer { close(socket) }
        try bindLoopback(socket)
        return try boundPort(of: socket)
    }

    // MARK: Sockets

    private static func makeSocket() throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        return fd
    }

    private static func bindLoopback(_ fd: Int32) throws {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
    }

    private static func listen() throws -> Int32 {
        let fd = try makeSocket()
        try bindLoopback(fd)
        guard Glibc.listen(fd, 512) == 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
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

    private func acceptLoop() {
        defer { close(listener) }
        while true {
            let connection = accept(listener, nil, nil)
            if connection < 0 {
                if errno == EINTR { continue }
                return
            }
            let admitted = state.withLock { state in
                guard !state.isStopped else { return false }
                state.acceptedConnections += 1
                state.openConnections.insert(connection)
                return true
            }
            guard admitted else {
                close(connection)
                return
            }
            Thread.detachNewThread { [self] in serve(connection) }
        }
    }

    // MARK: HTTP

    private struct Request {
        var method: String
        var path: String
        var headers: [(name: String, value: String)]
        var body: [UInt8]
    }

    private func serve(_ connection: Int32) {
        var reader = Reader(fd: connection)
        while let request = reader.nextRequest() {
            state.withLock { $0.requestsReceived += 1 }
            guard let request else {
                _ = send(connection, Array("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8))
                break
            }
            guard respond(to: request, on: connection), policy == .keepAlive else { break }
        }
        var cpu = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu)
        state.withLock { state in
            state.openConnections.remove(connection)
            state.connectionThreadCPU += .seconds(cpu.tv_sec) + .nanoseconds(cpu.tv_nsec)
        }
        close(connection)
    }

    /// Returns false when the connection should end.
    private func respond(to request: Request, on connection: Int32) -> Bool {
        let closing = policy == .closeAfterEachResponse ? "Connection: close\r\n" : ""
        func reply(status: Int, headers: String = "", body: [UInt8] = []) -> Bool {
            let head = "HTTP/1.1 \(status) Status\r\nContent-Length: \(body.count)\r\n\(headers)\(closing)\r\n"
            return send(connection, Array(head.utf8) + body)
        }
        let parts = request.path.split(separator: "/")
        switch (parts.first, parts.count) {
        case ("echo", 1):
            var headers = "X-Echo-Method: \(request.method)\r\nX-Echo-Path: \(request.path)\r\n"
            for header in request.headers { headers += "X-Echo-\(header.name): \(header.value)\r\n" }
            return reply(status: 200, headers: headers, body: request.body)
        case ("bytes", 2):
            return reply(status: 200, body: Self.pattern(count: Int(parts[1]) ?? 0))
        case ("delay", 2):
            usleep(useconds_t(Int(parts[1]) ?? 0) * 1000)
            return reply(status: 200, body: Array("late".utf8))
        case ("silent", 1):
            var byte: UInt8 = 0
            while recv(connection, &byte, 1, 0) > 0 {}
            return false
        case ("status", 2):
            return reply(status: Int(parts[1]) ?? 500)
        case ("interim", 1):
            guard send(connection, Array("HTTP/1.1 103 Early Hints\r\nX-Interim: yes\r\n\r\n".utf8)) else { return false }
            return reply(status: 200, headers: "X-Final: yes\r\n")
        default:
            return reply(status: 404)
        }
    }

    /// The bytes `/bytes/N` sends: a cycle whose length is prime, so shifted copies don't match.
    static func pattern(count: Int) -> [UInt8] {
        (0..<count).map { UInt8($0 % 251) }
    }

    private func send(_ connection: Int32, _ bytes: [UInt8]) -> Bool {
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

    /// Reads requests off one connection: `nil` when it ends, `.some(nil)` for bytes that are not HTTP.
    private struct Reader {
        let fd: Int32
        var buffer: [UInt8] = []

        mutating func nextRequest() -> Request?? {
            guard let headerEnd = fill(until: { $0.firstRange(of: [13, 10, 13, 10]).map(\.upperBound) }) else {
                return nil
            }
            let lines = String(decoding: buffer[..<(headerEnd - 4)], as: UTF8.self)
                .components(separatedBy: "\r\n")
            let requestLine = lines[0].split(separator: " ")
            guard requestLine.count == 3, requestLine[2].hasPrefix("HTTP/1.") else { return .some(nil) }
            var headers: [(name: String, value: String)] = []
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { return .some(nil) }
                headers.append((
                    name: String(line[..<colon]),
                    value: line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
            }
            let length = headers.first { $0.name.lowercased() == "content-length" }.flatMap { Int($0.value) } ?? 0
            guard fill(until: { $0.count >= headerEnd + length ? headerEnd + length : nil }) != nil else { return nil }
            let request = Request(
                method: String(requestLine[0]), path: String(requestLine[1]), headers: headers,
                body: Array(buffer[headerEnd..<(headerEnd + length)]))
            buffer.removeFirst(headerEnd + length)
            return .some(request)
        }

        /// Reads until `done` finds what it wants in the buffer; a first byte that cannot start a
        /// request line ends the wait early so non-HTTP peers (a TLS hello) get their 400 at once.
        private mutating func fill(until done: ([UInt8]) -> Int?) -> Int? {
            var chunk = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                if let found = done(buffer) { return found }
                if let first = buffer.first, !(UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(first) {
                    return 4
                }
                let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return nil }
                buffer.append(contentsOf: chunk[..<n])
            }
        }
    }
}
