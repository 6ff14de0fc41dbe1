import AWS
import BenchSupport
import Foundation
import HTTP
import JSON
import Logging
import Moto
import Relay
import ServiceLifecycle
import CallbackStore
import DynamoStore
import Store
import TestSupport
import Testing

/// The moto server a test runs on: the one this test process shares (tests keep apart by names
/// of their own), or, `dedicated`, one of the test's own, for a test that changes the server
/// (request authentication) or stops it. When moto is missing the test fails with how to
/// install it (never skipped).
func startMoto(dedicated: Bool = false) async throws -> MotoServer {
    do {
        // DynamoDB requests one at a time: moto does not isolate concurrent transactions from
        // several clients (replicas), so without this it would lose updates the real service keeps.
        return dedicated ? try await MotoServer.start(serializeRequests: true) : try await MotoServer.shared()
    } catch let error as MotoUnavailable {
        Issue.record("\(error.message)")
        throw error
    }
}

/// The store an integration test runs the service on: the default SQLite file, or the
/// template's DynamoDB table on the test's own moto.
enum Backend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite
    case dynamoDB

    var testDescription: String { rawValue }
}

/// The `infra/` deployment on moto, for one test: its own queues, state machines, rules (on an
/// event bus of its own) and store, on the shared server unless `dedicated`.
struct Emulator {
    let moto: MotoServer
    /// What every name of the deployment starts with: the test's name and a random part.
    let name: String
    let deployment: LocalDeployment
    let directory: URL
    let backend: Backend
    /// The service's `--database`: the SQLite file, or `dynamodb://TABLE`.
    private(set) var database: String

    static func start(_ testName: String, backend: Backend = .sqlite, dedicated: Bool = false) async throws -> Emulator {
        let moto = try await startMoto(dedicated: dedicated)
        let name = "\(testName)-\(UUID().uuidString.prefix(6).lowercased())"
        let deployment = try await LocalDeployment.create(on: try moto.client(), prefix: name, ownEventBus: true)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("it-\(name)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var emulator = Emulator(
            moto: moto, name: name, deployment: deployment, directory: directory, backend: backend,
            database: directory.appendingPathComponent("state.sqlite").path
        )
        if backend == .dynamoDB { emulator.database = try await emulator.createStateTable() }
        return emulator
    }

    var databasePath: String { directory.appendingPathComponent("state.sqlite").path }

    /// Creates the template's table under a fresh name and returns its `--database` value.
    func createStateTable() async throws -> String {
        let name = "state-\(UUID().uuidString.prefix(8).lowercased())"
        try await Infra.createStateTable(named: name, on: deployment.client)
        return "dynamodb://\(name)"
    }

    /// The environment that points the service at this emulator.
    var serviceEnvironment: [String: String] {
        var environment = moto.processEnvironment()
        environment["SAGEMAKER_CALLBACK_EVENTS_QUEUE_URL"] = deployment.eventsQueueURL
        environment["SAGEMAKER_CALLBACK_REQUESTS_QUEUE_URL"] = deployment.requestsQueueURL
        environment["SAGEMAKER_CALLBACK_DATABASE"] = database
        return environment
    }

    /// Opens the service's store beside it, whichever the backend: the SQLite file (WAL lets a
    /// reader in beside the writer), or the table as one more replica on the emulator's client.
    func openStore(replicaID: String = "test-reader") async throws -> any CallbackStore {
        var logger = Logger(label: "test-reader")
        logger.logLevel = .warning
        return try await CallbackRelay.openStore(
            try StoreLocation(parsing: database), client: deployment.client, dynamo: DynamoStoreSettings(replicaID: replicaID), logger: logger
        )
    }

    /// Reads the service's store while it runs, through the store interface (either backend).
    func store<T>(_ body: (any CallbackStore) async throws -> T) async throws -> T {
        let store = try await openStore()
        defer { store.close() }
        return try await body(store)
    }

    /// ``counts()`` on either backend.
    func storeCounts() async throws -> StoreCounts {
        try await store { try await $0.counts() }
    }

    func stop() {
        moto.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Reads the service's store while it runs (WAL lets a reader in beside the writer); SQLite only.
    func counts() throws -> StoreCounts {
        try read { try $0.counts() }
    }

    /// Reads anything from the service's store while it runs, in one read transaction.
    func read<T>(_ body: (StoreTransaction) throws -> T) throws -> T {
        let store = try Store.open(path: databasePath)
        defer { store.close() }
        return try store.readSync(body)
    }

    /// Waits for `condition` with a deadline. On DynamoDB a store read is a score of requests
    /// that moto serializes with the service's: polled less often.
    func eventually(
        _ what: String, timeout: Duration = .seconds(30), sourceLocation: SourceLocation = #_sourceLocation,
        _ condition: () async throws -> Bool
    ) async throws {
        try await TestSupport.eventually(
            what, timeout: timeout, every: .milliseconds(backend == .dynamoDB ? 500 : 50), sourceLocation: sourceLocation, condition
        )
    }

    /// Starts `serve` with `environment` plus its operations listener on a free loopback port,
    /// json logs and a 1 s long poll, logging to `log` in the test's directory; returns it once
    /// it has logged the address it listens on, with the environment it was given (to start
    /// another on the same settings).
    func startServeWithListener(
        _ environment: [String: String], log: String = "service.log"
    ) async throws -> (service: ServiceProcess, address: String, log: URL, environment: [String: String]) {
        var environment = environment
        environment["SAGEMAKER_CALLBACK_HTTP_ADDRESS"] = "127.0.0.1:0"
        environment["SAGEMAKER_CALLBACK_RECEIVE_WAIT"] = "1"
        environment["LOG_FORMAT"] = "json"
        let file = directory.appendingPathComponent(log)
        let service = try ServiceProcess(["serve"], environment: environment, log: file)
        var address = ""
        try await eventually("the listener's address is logged") {
            address = LogLines(service.output).objects.compactMap { $0["http.address"]?.stringValue }.first ?? ""
            return !address.isEmpty
        }
        return (service, address, file, environment)
    }

    /// Waits (at most `budget`) until the emulator answers quickly several times running. The
    /// suite starts dozens of emulators at once on two cores; a test whose contract is a few
    /// seconds long (a 3 s heartbeat timeout) runs its timed part once that burst has passed.
    func awaitQuietMachine(budget: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + budget
        var quick = 0
        while quick < 3, ContinuousClock.now < deadline {
            let start = ContinuousClock.now
            _ = try await deployment.client.call(.stepFunctions, "ListStateMachines", [:])
            quick = ContinuousClock.now - start < .milliseconds(150) ? quick + 1 : 0
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// The history event types of an execution.
    func historyTypes(_ arn: String) async throws -> [String] {
        try await deployment.history(arn).compactMap { $0["type"]?.stringValue }
    }
}

/// The service running in this process, as `serve` builds it.
final class InProcessRelay: Sendable {
    let group: ServiceGroup
    let task: Task<Void, any Error>

    /// `environment` adds to (or overrides) the emulator's: a stand-in's endpoint, a heartbeat
    /// interval or sweep settings, read exactly as `serve` reads them.
    private init(group: ServiceGroup, task: Task<Void, any Error>) {
        self.group = group
        self.task = task
    }

    static func start(_ emulator: Emulator, waitSeconds: Int = 1, environment: [String: String] = [:]) async throws -> InProcessRelay {
        let merged = emulator.serviceEnvironment.merging(environment) { _, override in override }
        var configuration = try CommandLineOptions().serve(Environment(merged))
        configuration.receiveWaitSeconds = waitSeconds
        var logger = Logger(label: "relay-under-test")
        logger.logLevel = ProcessInfo.processInfo.environment["RELAY_TEST_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) } ?? .warning
        let (client, transport) = try CallbackRelay.makeClient(configuration.aws, logger: logger)
        let store: any CallbackStore
        do {
            store = try await CallbackRelay.openStore(configuration.database, client: client, dynamo: configuration.dynamo, logger: logger)
        } catch {
            transport.shutdown()
            throw error
        }
        let group = CallbackRelay.serviceGroup(configuration, store: store, client: client, logger: logger)
        return InProcessRelay(
            group: group,
            task: Task {
                defer { transport.shutdown() }
                try await group.run()
            })
    }

    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await task.value
    }
}

/// The real `sagemaker-callback` binary, run as a child process.
final class ServiceProcess {
    let process = Process()
    let log: URL

    static var binary: String {
        if let explicit = ProcessInfo.processInfo.environment["SAGEMAKER_CALLBACK_BINARY"] { return explicit }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/debug/sagemaker-callback").path
    }

    /// `directory` is the working directory (else this process's).
    init(_ arguments: [String], environment: [String: String], log: URL, directory: URL? = nil) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binary) else {
            Issue.record("the service binary is missing at \(Self.binary): run `swift build` (make test does)")
            throw MotoUnavailable(message: "no binary")
        }
        let log = TestLogs.placed(log)
        self.log = log
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = arguments
        process.environment = Self.environment(environment)
        process.currentDirectoryURL = directory
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        process.standardError = handle
        process.standardOutput = handle
        try process.run()
    }

    /// This process's environment without AWS or service settings, plus `overrides`.
    static func environment(_ overrides: [String: String]) -> [String: String] {
        var merged = ProcessInfo.processInfo.environment
        for key in merged.keys where key.hasPrefix("AWS_") || key.hasPrefix("SAGEMAKER_CALLBACK_") { merged[key] = nil }
        for (key, value) in overrides { merged[key] = value }
        return merged
    }

    /// Runs to completion (killed after `timeout`, which the caller sees as a signal status);
    /// returns exit status, stdout and stderr. `directory` is the working directory. Waits
    /// without holding a thread of the shared pool: the suite's in-process tests keep their timing.
    static func run(
        _ arguments: [String], environment: [String: String], directory: URL? = nil, timeout: Duration = .seconds(120)
    ) async throws -> (status: Int32, out: String, err: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.environment = Self.environment(environment)
        process.currentDirectoryURL = directory
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let pid = process.processIdentifier
        let (seconds, attoseconds) = timeout.components
        let watchdog = DispatchWorkItem { kill(pid, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + Double(seconds) + Double(attoseconds) / 1e18, execute: watchdog)
        // Both pipes drained at once: a child that fills one while we wait on the other would hang.
        async let outData = drain(out)
        async let errData = drain(err)
        let (outText, errText) = (String(decoding: await outData, as: UTF8.self), String(decoding: await errData, as: UTF8.self))
        while process.isRunning { try await Task.sleep(for: .milliseconds(10)) }
        process.waitUntilExit()
        watchdog.cancel()
        // Standard error (its log lines and its error line) is kept for the scan of secrets, like a
        // service's log; standard output is what the command was asked for (`list --json` shows
        // what the store holds), and the arguments may hold a token.
        if let directory = TestLogs.directory {
            try? Data(errText.utf8).write(to: directory.appendingPathComponent("run-\(arguments.first ?? "")-\(UUID().uuidString.prefix(8)).log"))
        }
        return (process.terminationStatus, outText, errText)
    }

    /// Everything a pipe carries until its writer closes it, read off the shared pool.
    private static func drain(_ pipe: Pipe) async -> Data {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: pipe.fileHandleForReading.readDataToEndOfFile()) }
        }
    }

    /// Sends SIGTERM and waits up to `timeout` for the exit; returns the status and the time it took.
    func terminate(timeout: Duration = .seconds(10)) async throws -> (status: Int32, took: Duration) {
        let start = ContinuousClock.now
        process.terminate()
        while process.isRunning {
            if ContinuousClock.now - start > timeout + .seconds(5) {
                kill(process.processIdentifier, SIGKILL)
                break
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        process.waitUntilExit()
        return (process.terminationStatus, ContinuousClock.now - start)
    }

    deinit {
        // A test that fails half-way must not leave a service behind.
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// kill -9.
    func crash() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
}
