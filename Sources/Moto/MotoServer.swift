public import AWS
import Foundation
import HTTP
public import JSON
public import Logging
public import SigV4
import Synchronization

/// The AWS emulator (moto) running on a free loopback port, owned by whoever started it: tests
/// and the demo. It is stopped by `stop()`, and dies with its parent even after a crash.
public final class MotoServer: Sendable {
    /// Where to find `moto_server` when it is missing.
    public static let installHint =
        "moto is not installed: run `make test` (it creates .venv with moto[server]==5.2.5), or "
        + "`python3 -m venv .venv && .venv/bin/pip install 'moto[server]==5.2.5'`, or set MOTO_SERVER to a moto_server executable"

    /// `http://127.0.0.1:PORT`.
    public let endpoint: String
    public let port: Int
    /// The region and credentials clients use against it.
    public static let region = "us-east-1"
    public static let credentials = Credentials(accessKeyID: "testing", secretAccessKey: "testing")
    public static let accountID = "123456789012"

    private let process: Process
    private let transport: CurlHTTPClient
    /// The one server of this process, from ``shared()``: `stop()` leaves it running.
    public let isShared: Bool

    private init(process: Process, port: Int, transport: CurlHTTPClient, isShared: Bool = false) {
        self.process = process
        self.port = port
        self.endpoint = "http://127.0.0.1:\(port)"
        self.transport = transport
        self.isShared = isShared
    }

    /// The server this process's tests share, started by the first caller (DynamoDB requests
    /// serialized, as ``start(serializeRequests:environment:timeout:)`` explains) and started
    /// again if it has died. It lives as long as the process: its launcher exits when its parent
    /// is gone, and `stop()` on it does nothing. Tests on it keep apart by resource names of their
    /// own; a test that changes the server itself (authentication, configuration) or stops it
    /// starts one of its own.
    public static func shared() async throws -> MotoServer {
        let starting = sharedServer.withLock { current -> Task<MotoServer, any Error> in
            if let current { return current }
            let task = Task { try await start(serializeRequests: true, isShared: true) }
            current = task
            return task
        }
        do {
            let server = try await starting.value
            if server.process.isRunning { return server }
        } catch {
            sharedServer.withLock { if $0 == starting { $0 = nil } }
            throw error
        }
        // It died (moto crashed, or something killed it): the next caller starts another.
        sharedServer.withLock { if $0 == starting { $0 = nil } }
        return try await shared()
    }

    private static let sharedServer = Mutex<Task<MotoServer, any Error>?>(nil)

    /// The `moto_server` executable: `MOTO_SERVER`, else `.venv/bin/moto_server` of this
    /// package, else of the working directory.
    public static func executable() throws -> String {
        var candidates: [String] = []
        if let explicit = ProcessInfo.processInfo.environment["MOTO_SERVER"], !explicit.isEmpty { candidates.append(explicit) }
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(packageRoot.appendingPathComponent(".venv/bin/moto_server").path)
        candidates.append(FileManager.default.currentDirectoryPath + "/.venv/bin/moto_server")
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw MotoUnavailable(message: installHint)
        }
        return found
    }

    /// Starts moto on a free loopback port, waits until it answers, and switches on state machine
    /// execution. `environment` adds variables (e.g. request authentication).
    ///
    /// `serializeRequests` makes moto handle its DynamoDB requests one at a time. moto does not
    /// isolate concurrent DynamoDB transactions or conditional writes (lost updates; writes of
    /// cancelled transactions applied), so tests with several writers at once need it. Only
    /// DynamoDB requests (`X-Amz-Target: DynamoDB_20120810.*`) take the lock: an SQS
    /// ReceiveMessage long poll waits inside its request, and must not stall the others.
    public static func start(
        serializeRequests: Bool = false, environment: [String: String] = [:], timeout: Duration = .seconds(60)
    ) async throws -> MotoServer {
        try await start(serializeRequests: serializeRequests, environment: environment, timeout: timeout, isShared: false)
    }

    private static func start(
        serializeRequests: Bool, environment: [String: String] = [:], timeout: Duration = .seconds(60), isShared: Bool
    ) async throws -> MotoServer {
        let executable = try executable()
        let transport = try CurlHTTPClient()
        var lastError: (any Error)?
        for _ in 0..<3 {
            let port = try freeLoopbackPort()
            let process = Process()
            // moto runs under a small launcher in its own interpreter: it unblocks the signals a
            // Swift process's threads keep blocked (a child inherits that mask and would ignore
            // SIGTERM), and exits when its parent is gone (reparented), so moto never outlives the
            // test process. (PR_SET_PDEATHSIG is no use here: it follows the spawning thread, and
            // the threads of a Swift process come and go.)
            process.executableURL = URL(fileURLWithPath: try interpreter(of: executable))
            process.arguments = [
                "-c",
                """
                import os, runpy, signal, sys, threading, time
                signal.pthread_sigmask(signal.SIG_SETMASK, [])
                parent = os.getppid()
                def watch():
                    while os.getppid() == parent:
                        time.sleep(0.5)
                    os._exit(0)
                threading.Thread(target=watch, daemon=True).start()
                \(serializeRequests ? serializeDynamoDB : "")
                sys.argv = sys.argv[1:]
                runpy.run_path(sys.argv[0], run_name="__main__")
                """,
                executable, "-H", "127.0.0.1", "-p", "\(port)",
            ]
            var env = ProcessInfo.processInfo.environment
            for (key, value) in environment { env[key] = value }
            process.environment = env
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            let server = MotoServer(process: process, port: port, transport: transport, isShared: isShared)
            do {
                try await server.waitUntilReady(timeout: timeout)
                try await server.configure(["stepfunctions": ["execute_state_machine": true]])
                return server
            } catch {
                lastError = error
                server.stopProcess()
            }
        }
        transport.shutdown()
        throw lastError ?? MotoUnavailable(message: "moto did not start")
    }

    /// Launcher lines that wrap moto's WSGI dispatcher so DynamoDB requests run under one lock,
    /// the response body drained inside it (the handler may be lazy).
    static let serializeDynamoDB = """
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication
        dynamodb_lock = threading.Lock()
        dispatch = DomainDispatcherApplication.__call__
        def serialized(self, environ, start_response):
            if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_20120810."):
                return dispatch(self, environ, start_response)
            with dynamodb_lock:
                return list(dispatch(self, environ, start_response))
        DomainDispatcherApplication.__call__ = serialized
        """

    /// The Python interpreter a console script runs with: its `#!` line.
    static func interpreter(of script: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: script) else { throw MotoUnavailable(message: installHint) }
        defer { try? handle.close() }
        let head = String(decoding: handle.readData(ofLength: 512), as: UTF8.self)
        guard head.hasPrefix("#!"), let line = head.dropFirst(2).split(separator: "\n").first else {
            throw MotoUnavailable(message: "\(script) has no #! line: \(installHint)")
        }
        let words = line.split(separator: " ").map(String.init)
        // `#!/usr/bin/env python3` names a program to look up; `#!/path/python` names the file.
        if words.first == "/usr/bin/env", let program = words.dropFirst().first {
            return ProcessInfo.processInfo.environment["PATH"]?.split(separator: ":")
                .map { "\($0)/\(program)" }.first { FileManager.default.isExecutableFile(atPath: $0) } ?? program
        }
        return words.first ?? "python3"
    }

    /// Stops the server (it exits on a thread of its own); a shared one is left running.
    public func stop() {
        guard !isShared else { return }
        stopProcess()
        transport.shutdown()
    }

    /// Sends SIGTERM and returns at once; a thread of its own reaps the process (SIGKILL after
    /// 5 s). Tests stop emulators from async code, and a caller blocked while moto exits would
    /// hold one of the few threads every other test's tasks run on.
    private func stopProcess() {
        guard process.isRunning else { return }
        process.terminate()
        let process = process
        Thread.detachNewThread {
            let deadline = Date().addingTimeInterval(5)
            while process.isRunning, Date() < deadline { usleep(20_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
    }

    /// POSTs `/moto-api/config`.
    public func configure(_ settings: JSONObject) async throws {
        let response = try await transport.execute(
            HTTPRequest(
                method: "POST", url: endpoint + "/moto-api/config",
                headers: [("content-type", "application/json")], body: JSONValue.object(settings).serializedBytes()
            ))
        guard (200..<300).contains(response.status) else { throw MotoUnavailable(message: "moto-api/config answered HTTP \(response.status)") }
    }

    /// Switches request authentication on (moto checks SigV4 for real and IAM policies) after
    /// `unauthenticatedRequests` more requests.
    public func resetAuthentication(unauthenticatedRequests: Int) async throws {
        let response = try await transport.execute(
            HTTPRequest(
                method: "POST", url: endpoint + "/moto-api/reset-auth", body: Array("\(unauthenticatedRequests)".utf8)
            ))
        guard (200..<300).contains(response.status) else { throw MotoUnavailable(message: "moto-api/reset-auth answered HTTP \(response.status)") }
    }

    private func waitUntilReady(timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard process.isRunning else { throw MotoUnavailable(message: "moto_server exited with status \(process.terminationStatus)") }
            if let response = try? await transport.execute(HTTPRequest(method: "GET", url: endpoint + "/moto-api/", timeout: .seconds(2))),
                response.status < 500
            {
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw MotoUnavailable(message: "moto_server did not answer within \(timeout)")
    }

    /// An AWS client whose every service points at this server.
    public func client(logger: Logger = Logger(label: "moto"), credentials: Credentials = MotoServer.credentials) throws -> AWSClient {
        var endpoints: [AWSService: Endpoint] = [:]
        for service in AWSService.allCases {
            endpoints[service] = try EndpointResolver.resolve(service, region: Self.region, explicit: endpoint, environment: Environment([:]))
        }
        return AWSClient(http: transport, credentials: { credentials }, region: Self.region, endpoints: endpoints, logger: logger)
    }

    /// Environment variables that point an AWS SDK-style process (the service binary) at this server.
    public func processEnvironment(credentials: Credentials = MotoServer.credentials) -> [String: String] {
        [
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_REGION": Self.region,
            "AWS_ACCESS_KEY_ID": credentials.accessKeyID,
            "AWS_SECRET_ACCESS_KEY": credentials.secretAccessKey,
        ]
    }

    static func freeLoopbackPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw MotoUnavailable(message: "socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw MotoUnavailable(message: "bind() failed") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// moto is missing or would not start. The message says how to install it.
public struct MotoUnavailable: Error, CustomStringConvertible {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}
