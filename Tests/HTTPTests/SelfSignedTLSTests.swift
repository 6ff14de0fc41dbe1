import Foundation
#if canImport(Glibc)
import Glibc
#endif
import HTTP
import Testing

/// A TLS server on loopback with a self-signed certificate for 127.0.0.1: `openssl s_server`, the
/// certificate made fresh by `openssl req` in a temporary directory.
final class SelfSignedServer {
    let directory: URL
    let process = Process()
    let port: Int

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("self-signed-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let key = directory.appendingPathComponent("key.pem").path, certificate = directory.appendingPathComponent("cert.pem").path
        try Self.openssl([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", certificate, "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        ])
        // A free port, then s_server on it (s_server's own report of its port sits in a stdout
        // buffer that a pipe does not flush); ready once it accepts a connection.
        let port = try Self.freePort()
        process.executableURL = try Self.opensslPath()
        process.arguments = ["s_server", "-accept", "127.0.0.1:\(port)", "-cert", certificate, "-key", key, "-www", "-quiet"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while !Self.accepts(port) {
            guard process.isRunning, Date() < deadline else {
                kill(process.processIdentifier, SIGKILL)
                throw TLSServerUnavailable(message: "openssl s_server did not start on port \(port)")
            }
            usleep(20_000)
        }
        self.port = port
    }

    deinit {
        // s_server does not stop for SIGTERM while it waits for a connection.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: directory)
    }

    struct TLSServerUnavailable: Error, CustomStringConvertible { let message: String; var description: String { message } }

    /// A loopback port nothing listens on just now.
    static func freePort() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0 }
        }
        guard bound else { throw TLSServerUnavailable(message: "no free loopback port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Whether something accepts connections on loopback `port`.
    static func accepts(_ port: Int) -> Bool {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = loopback(port: port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return address
    }

    static func opensslPath() throws -> URL {
        for path in ["/usr/bin/openssl", "/usr/local/bin/openssl"] where FileManager.default.isExecutableFile(atPath: path) {
            return URL(fileURLWithPath: path)
        }
        throw TLSServerUnavailable(message: "the openssl command is missing: `make deps` installs it (apt package openssl)")
    }

    static func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = try opensslPath()
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw TLSServerUnavailable(message: "openssl \(arguments[0]) failed") }
    }
}

/// TLS is always verified: nothing in the client's configuration or the environment turns it off.
@Suite(.timeLimit(.minutes(2))) struct SelfSignedTLSTests {
    @Test func aSelfSignedEndpointIsRefusedNamingTheCertificateProblem() async throws {
        let server = try SelfSignedServer()
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        let error = try await transportError {
            try await client.execute(HTTPRequest(method: "GET", url: "https://127.0.0.1:\(server.port)/", timeout: .seconds(60)))
        }
        #expect(error.kind == .tls)
        #expect(error.description.contains("self-signed certificate"), "\(error)")
    }

    @Test func theServerReallyAnswersWhenVerificationIsSkipped() throws {
        // The refusal above is the certificate's, not a server that never answered: curl's own
        // command, told to skip verification, gets the page.
        let server = try SelfSignedServer()
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        guard FileManager.default.isExecutableFile(atPath: curl.executableURL!.path) else {
            Issue.record("no /usr/bin/curl to cross-check the server with")
            return
        }
        curl.arguments = [
            "--silent", "--insecure", "--max-time", "30", "--output", "/dev/null", "--write-out", "%{http_code}", "https://127.0.0.1:\(server.port)/",
        ]
        let output = Pipe()
        curl.standardOutput = output
        try curl.run()
        curl.waitUntilExit()
        #expect(String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) == "200")
    }

    @Test func noConfigurationSwitchesVerificationOff() {
        let names = Mirror(reflecting: CurlHTTPClient.Configuration()).children.compactMap(\.label).map { $0.lowercased() }
        #expect(!names.contains { $0.contains("verify") || $0.contains("insecure") || $0.contains("tls") || $0.contains("ssl") }, "\(names)")
    }
}
