import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A small HTTP/1.1 server on 127.0.0.1 that answers with a handler the test gives, standing in
/// for the ECS container credentials endpoint and the EC2 instance metadata service.
///
/// A thread accepts; a thread serves each connection, one request after another (keep-alive).
/// Every request is recorded before it is answered, so tests can check what was sent. The
/// accepting thread holds the server until ``stop()``, which every test calls.
final class MetadataServer: Sendable {
    struct Request: Sendable {
        var method: String
        var path: String
        var headers: [(name: String, value: String)]

        /// The first header named `name`, compared without regard to case.
        func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }
    }

    struct Response: Sendable {
        var status: Int
        var body: String = ""
    }

    let port: UInt16
    private let listener: Int32
    private let handler: @Sendable (Request) -> Response
    private let state = Mutex<(requests: [Request], connections: Set<Int32>, isStopped: Bool)>(([], [], false))

    init(handler: @escaping @Sendable (Request) -> Response) throws {
        self.handler = handler
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && listen(fd, 64) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else {
            close(fd)
            throw POSIXError(.init(rawValue: errno) ?? .EIO)
        }
        listener = fd
        port = UInt16(bigEndian: address.sin_port)
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    /// `http://127.0.0.1:<port>`, with no trailing slash.
    var endpoint: String { "http://127.0.0.1:\(port)" }

    /// Every request received so far, in order.
    var requests: [Request] { state.withLock { $0.requests } }

    /// Stops accepting and cuts open connections; their threads then end.
    func stop() {
        let connections = state.withLock { state in
            state.isStopped = true
            return state.connections
        }
        shutdown(listener, Int32(SHUT_RDWR))
        for connection in connections { shutdown(connection, Int32(SHUT_RDWR)) }
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
                if !state.isStopped { state.connections.insert(connection) }
                return !state.isStopped
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
            state.withLock { _ = $0.connections.remove(connection) }
            close(connection)
        }
        var buffer: [UInt8] = []
        while let request = Self.nextRequest(connection, &buffer) {
            state.withLock { $0.requests.append(request) }
            let response = handler(request)
            let head = "HTTP/1.1 \(response.status) Status\r\nContent-Length: \(response.body.utf8.count)\r\n"
                + "Content-Type: text/plain\r\n\r\n"
            guard send(connection, Array((head + response.body).utf8)) else { return }
        }
    }

    /// The next request on the connection (its body, if any, is read and dropped); nil when the
    /// peer closes or sends something that is not HTTP.
    private static func nextRequest(_ connection: Int32, _ buffer: inout [UInt8]) -> Request? {
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        func fill(until done: ([UInt8]) -> Int?) -> Int? {
            while true {
                if let found = done(buffer) { return found }
                let n = chunk.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return nil }
                buffer.append(contentsOf: chunk[..<n])
            }
        }
        guard let headerEnd = fill(until: { $0.firstRange(of: [13, 10, 13, 10]).map(\.upperBound) }) else { return nil }
        let lines = String(decoding: buffer[..<(headerEnd - 4)], as: UTF8.self).components(separatedBy: "\r\n")
        let requestLine = lines[0].split(separator: " ")
        guard requestLine.count == 3 else { return nil }
        var headers: [(name: String, value: String)] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { return nil }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        let length = headers.first { $0.name.lowercased() == "content-length" }.flatMap { Int($0.value) } ?? 0
        guard fill(until: { $0.count >= headerEnd + length ? headerEnd + length : nil }) != nil else { return nil }
        buffer.removeFirst(headerEnd + length)
        return Request(method: String(requestLine[0]), path: String(requestLine[1]), headers: headers)
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
