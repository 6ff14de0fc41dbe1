import AWS
import CallbackStore
import Foundation
import JSON
import Moto
import Store
import Testing

/// What the real binary does when its store fails under it: a directory or file it may not write,
/// a full disk, a corrupt file, the file deleted while it runs; DynamoDB throttling and the table
/// deleted. Each: one clear error line, no message deleted from a queue before its state is
/// committed, and recovery without loss when the fault clears, or a clean non-zero exit.
@Suite("Store faults of the service process", .timeLimit(.minutes(5)))
struct StoreFaultTests {
    static let wait = "wait-for-processing-job"

    // MARK: SQLite

    @Test(
        "SQLite: a database that cannot be written at start (a new file in a read-only directory, a read-only file, a read-only directory beside an existing file): exit 64, one line naming the file, nothing consumed",
        arguments: ReadOnlyCase.allCases)
    func readOnlyAtStart(_ kind: ReadOnlyCase) async throws {
        let emulator = try await Emulator.start("ro-start-\(kind.rawValue)")
        defer { emulator.stop() }
        let directory = emulator.directory.appendingPathComponent("db")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let database = directory.appendingPathComponent("state.sqlite").path
        if kind != .newFileInDirectory {
            // A database that served once and was closed cleanly (no -wal or -shm left).
            let created = try await ServiceProcess.run(["list", "--database", database], environment: [:])
            #expect(created.status == 0, "\(created.err)")
        }
        let target = kind == .file ? database : directory.path
        let means = try ReadOnly.apply(to: target)
        defer { ReadOnly.undo(target, means) }
        try await DynamoCommandTests.refusesToServe(emulator, database: database, code: 64, problem: "--database")
        print("store-faults: read-only at start (\(kind.rawValue), by \(means)): exit 64")
    }

    enum ReadOnlyCase: String, CaseIterable, CustomTestStringConvertible, Sendable {
        case newFileInDirectory = "new-file"
        case file
        case directoryOfExistingFile = "existing-file-directory"
        var testDescription: String { rawValue }
    }

    @Test(
        "SQLite: the database made read-only while serve runs: commits fail with one error line, readiness fails, nothing is deleted from the queue; writable again, everything completes once"
    )
    func readOnlyWhileRunning() async throws {
        let emulator = try await Emulator.start("ro-running")
        defer { emulator.stop() }
        let rig = try await Rig.start(emulator, jobs: 3)
        let files = [emulator.databasePath, emulator.databasePath + "-wal"]
        guard geteuid() == 0 else {
            // Permission bits bind only new opens: serve holds its files open and carries on.
            for file in files { chmod(file, 0o444) }
            defer { for file in files { chmod(file, 0o600) } }
            try await rig.publishAll()
            try await rig.expectEveryExecutionSucceededOnce()
            print("store-faults: read-only while running (chmod, not root): serve carries on through its open files")
            return
        }
        // As root the mode bits stop nothing; the immutable flag refuses even writes to open files
        // (on ext4 and xfs; tmpfs checks it only at open, which serve did long ago).
        let descriptors = files.map { open($0, O_RDWR) }
        defer { descriptors.forEach { _ = close($0) } }
        let means = try ReadOnly.apply(to: files)
        var undone = false
        defer { if !undone { ReadOnly.undo(files, means) } }
        guard descriptors.allSatisfy({ !ReadOnly.rewritesFirstByte($0) }) else {
            Issue.record("\(means) does not stop writes to open files on this file system (tmpfs?): put the test directory on ext4")
            return
        }
        try await rig.publishAll()
        try await rig.expectOutage(queue: emulator.deployment.eventsQueueURL, messages: rig.jobs.count, problem: "disk I/O error")
        ReadOnly.undo(files, means)
        undone = true
        let took = try await rig.expectRecovery()
        print("store-faults: read-only while running (\(means)): \(rig.summary), recovered \(took) after the files were writable again")
    }

    @Test(
        "SQLite: the disk full (a small tmpfs): commits fail with one error line, readiness fails, nothing is deleted from the queue; space freed, everything completes once"
    )
    func diskFull() async throws {
        let emulator = try await Emulator.start("disk-full")
        defer { emulator.stop() }
        let mount = emulator.directory.appendingPathComponent("small")
        try FileManager.default.createDirectory(at: mount, withIntermediateDirectories: true)
        let mounted = try await ServiceProcess.command("/bin/mount", ["-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", mount.path])
        guard mounted.status == 0 else {
            Issue.record("a small tmpfs could not be mounted (run as root, as CI does): \(mounted.err)")
            return
        }
        defer { _ = try? ServiceProcess.commandSync("/bin/umount", ["-l", mount.path]) }
        let database = mount.appendingPathComponent("state.sqlite").path
        let rig = try await Rig.start(emulator, jobs: 3, database: database)
        let filler = mount.appendingPathComponent("filler")
        let filled = try Self.fill(filler)
        // Each event carries a large description: its outcome cannot fit in what is left of the WAL.
        try await rig.publishAll(padding: 150_000)
        try await rig.expectOutage(queue: emulator.deployment.eventsQueueURL, messages: rig.jobs.count, problem: "full")
        try FileManager.default.removeItem(at: filler)
        let took = try await rig.expectRecovery()
        print("store-faults: disk full (tmpfs 4 MiB, \(filled / 1024) KiB filler): \(rig.summary), recovered \(took) after space was freed")
    }

    /// Writes `file` until the file system is full; returns how many bytes it took.
    static func fill(_ file: URL) throws -> Int {
        let fd = open(file.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        defer { close(fd) }
        let chunk = [UInt8](repeating: 0x5A, count: 4096)
        var total = 0
        while true {
            let written = chunk.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written <= 0 { break }
            total += written
        }
        #expect(errno == ENOSPC, "the filler stopped with ENOSPC (errno \(errno))")
        return total
    }

    @Test("SQLite: a corrupt database file (its header garbled) refuses to start: exit 64, one line naming the file, nothing consumed")
    func corruptHeaderAtStart() async throws {
        let emulator = try await Emulator.start("corrupt-head")
        defer { emulator.stop() }
        let database = emulator.databasePath
        let created = try await ServiceProcess.run(["list", "--database", database], environment: [:])
        #expect(created.status == 0, "\(created.err)")
        try Self.overwrite(database, at: 0, count: 100)
        try await DynamoCommandTests.refusesToServe(emulator, database: database, code: 64, problem: "not a database")
    }

    @Test(
        "SQLite: a database whose tables are garbled (the schema intact) is found out at its first read: serve exits 69 with one line naming the file and what it found, and deletes nothing"
    )
    func corruptTablesFoundRunning() async throws {
        let emulator = try await Emulator.start("corrupt-tables")
        defer { emulator.stop() }
        var rig = try await Rig.start(emulator, jobs: 2)
        _ = try await rig.service.terminate()
        let (pageSize, roots) = try Self.tableRootPages(emulator.databasePath)
        #expect(!roots.isEmpty)
        for page in roots { try Self.overwrite(emulator.databasePath, at: (page - 1) * pageSize, count: pageSize) }
        try await rig.publishAll()
        _ = try rig.restart()
        let (status, last) = try await rig.expectStoreLost(saying: "malformed")
        #expect(try await emulator.deployment.queueDepth(emulator.deployment.eventsQueueURL) == rig.jobs.count, "no event was deleted")
        print("store-faults: corrupt tables: exit \(status): \(last)")
    }

    /// The page size of a database and the root pages of its tables and indexes (not the schema's),
    /// read by Python's sqlite3 while no serve has the file open.
    static func tableRootPages(_ path: String) throws -> (pageSize: Int, roots: [Int]) {
        let script = """
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            print(db.execute("pragma page_size").fetchone()[0])
            print(" ".join(str(r[0]) for r in db.execute("select rootpage from sqlite_master where rootpage > 1")))
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try OperationsProcessTests.python())
        process.arguments = ["-c", script, path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let lines = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n")
        process.waitUntilExit()
        guard lines.count == 2, let size = Int(lines[0]) else { throw ReadOnlyUnavailable(message: "the schema could not be read: \(lines)") }
        return (size, lines[1].split(separator: " ").compactMap { Int($0) })
    }

    /// Garbles `count` bytes of `path` from `offset`.
    static func overwrite(_ path: String, at offset: Int, count: Int) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(offset))
        handle.write(Data((0..<count).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) }))
    }

    @Test(
        "SQLite: the database deleted while serve runs: it exits 69 with one line before committing anything more, the registrations sent after the delete stay queued, and a new serve completes them"
    )
    func deletedWhileRunning() async throws {
        let emulator = try await Emulator.start("deleted")
        defer { emulator.stop() }
        let d = emulator.deployment
        var rig = try await Rig.start(emulator, jobs: 2)
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: emulator.databasePath + suffix) }
        var later: [(arn: String, job: String)] = []
        for index in 0..<2 {
            let job = "\(emulator.name)-late-\(index)"
            later.append((try await d.startExecution(Self.wait, name: "late-\(index)", input: ["ProcessingJobName": .string(job)]), job))
        }
        let (status, last) = try await rig.expectStoreLost(saying: "deleted or replaced")
        try await emulator.eventually("both late registrations are in the requests queue", timeout: .seconds(30)) {
            try await d.queueDepth(d.requestsQueueURL) == later.count
        }
        // A new serve starts on a fresh file: what the deleted one held is gone with it (the
        // operator deleted it), but nothing received after the delete was dropped.
        let service = try rig.restart()
        try await emulator.eventually("the late registrations are pending", timeout: .seconds(60)) { try emulator.counts().pending == later.count }
        for (_, job) in later { try await d.publishProcessingJob(job, status: "Completed") }
        for (arn, _) in later {
            #expect(try await d.waitForExecution(arn, timeout: .seconds(90))["status"] == "SUCCEEDED")
            #expect(try await emulator.historyTypes(arn).filter { $0 == "TaskSucceeded" }.count == 1)
        }
        _ = try await service.terminate()
        print("store-faults: deleted while running: exit \(status): \(last)")
    }

    // MARK: DynamoDB

    @Test(
        "DynamoDB throttling (ProvisionedThroughputExceededException) at a quarter of requests is absorbed; a burst of it is one error line, readiness fails, nothing is deleted; once it clears, everything completes once"
    )
    func dynamoThrottling() async throws {
        let emulator = try await Emulator.start("dynamo-throttle", backend: .dynamoDB)
        defer { emulator.stop() }
        let proxy = try ThrottlingProxy(target: emulator.moto.port, directory: emulator.directory)
        defer { proxy.stop() }
        let rig = try await Rig.start(
            emulator, jobs: 3, environment: ["AWS_ENDPOINT_URL_DYNAMODB": proxy.endpoint], preparedBy: { try proxy.throttle(0.25) })
        try await rig.publishAll()
        try await rig.expectEveryExecutionSucceededOnce()
        let sporadic = proxy.throttled
        #expect(sporadic > 0, "throttling was injected")
        // Retried by the client (5 attempts); the rare call that fails them all is an outage of a
        // moment, told once and ended: never a line per message.
        let sporadicErrors = LogLines(rig.service.output).atErrorOrAbove
        #expect(sporadicErrors.allSatisfy { $0.contains("store.unavailable") }, "\(sporadicErrors)")
        rig.noteErrorsBefore()

        let burst = try await rig.moreJobs(3)
        try proxy.throttle(1)
        try await rig.publish(burst)
        try await rig.expectOutage(
            queue: emulator.deployment.eventsQueueURL, messages: burst.count, problem: "ProvisionedThroughputExceededException", of: burst)
        try proxy.throttle(0)
        let took = try await rig.expectRecovery(of: burst)
        print(
            "store-faults: dynamodb throttled: \(sporadic) answers at 25 % absorbed (\(sporadicErrors.count) error lines); a 100 % burst: \(rig.summary), recovered \(took) after it cleared (\(proxy.throttled) throttled in all)"
        )
    }

    @Test("DynamoDB: the table deleted while serve runs: exit 69 with one line naming the table, and the events received after it stay queued")
    func dynamoTableDeleted() async throws {
        let emulator = try await Emulator.start("dynamo-gone", backend: .dynamoDB)
        defer { emulator.stop() }
        let rig = try await Rig.start(emulator, jobs: 2)
        let table = String(emulator.database.dropFirst("dynamodb://".count))
        _ = try await emulator.deployment.client.call(.dynamoDB, "DeleteTable", ["TableName": .string(table)])
        try await rig.publishAll()
        let (status, last) = try await rig.expectStoreLost(saying: "no longer exists")
        try await emulator.eventually("the events stay queued", timeout: .seconds(30)) {
            try await emulator.deployment.queueDepth(emulator.deployment.eventsQueueURL) == rig.jobs.count
        }
        print("store-faults: dynamodb table deleted: exit \(status): \(last)")
    }
}

/// One fault run: serve (json logs, a status listener) with `jobs` executions registered, the
/// events published when the test says, and what the test expects of outage and recovery.
struct Rig {
    let emulator: Emulator
    let environment: [String: String]
    private(set) var service: ServiceProcess
    let address: String
    private(set) var jobs: [(arn: String, job: String)]
    let log: URL
    /// The SQLite file when not the emulator's own.
    let database: String?
    private let outage = OutageFigures()

    static func start(
        _ emulator: Emulator, jobs count: Int, database: String? = nil, environment extra: [String: String] = [:],
        preparedBy prepare: () throws -> Void = {}
    ) async throws -> Rig {
        var environment = emulator.serviceEnvironment.merging(extra) { _, override in override }
        if let database { environment["SAGEMAKER_CALLBACK_DATABASE"] = database }
        let (service, address, log, started) = try await emulator.startServeWithListener(environment)
        environment = started
        var rig = Rig(emulator: emulator, environment: environment, service: service, address: address, jobs: [], log: log, database: database)
        rig.jobs = try await rig.moreJobs(count)
        try prepare()
        return rig
    }

    /// Starts `count` more executions and waits until serve has their callbacks pending.
    func moreJobs(_ count: Int) async throws -> [(arn: String, job: String)] {
        let before = try await pending()
        var started: [(arn: String, job: String)] = []
        for _ in 0..<count {
            let name = "\(emulator.name)-\(UUID().uuidString.prefix(6).lowercased())"
            started.append(
                (try await emulator.deployment.startExecution(StoreFaultTests.wait, name: name, input: ["ProcessingJobName": .string(name)]), name))
        }
        try await emulator.eventually("\(before + count) callbacks pending", timeout: .seconds(90)) {
            try await pending() == before + count
        }
        return started
    }

    /// Callbacks pending in serve's store, read beside it.
    func pending() async throws -> Int {
        guard let database else { return try await emulator.storeCounts().pending }
        let store = try Store.open(path: database)
        defer { store.close() }
        return try store.readSync { try $0.counts() }.pending
    }

    /// Publishes a `Completed` event for every job; `padding` adds that many bytes to each description.
    func publishAll(padding: Int = 0) async throws { try await publish(jobs, padding: padding) }

    func publish(_ some: [(arn: String, job: String)], padding: Int = 0) async throws {
        let extra: JSONObject = padding > 0 ? ["Environment": .object(["PADDING": .string(String(repeating: "p", count: padding))])] : [:]
        for (_, job) in some { try await emulator.deployment.publishProcessingJob(job, status: "Completed", extra: extra) }
    }

    /// While the fault lasts: one `store.unavailable` line at error (and none other at error or
    /// above), readiness 503 naming the store, the `messages` still in `queue` (none deleted)
    /// and every execution still running, for several seconds.
    func expectOutage(queue: String, messages: Int, problem: String? = nil, of waiting: [(arn: String, job: String)]? = nil) async throws {
        try await emulator.eventually("store.unavailable is logged", timeout: .seconds(60)) {
            LogLines(service.output).objects.contains { $0["message"]?.stringValue == "store.unavailable" }
        }
        outage.began = ContinuousClock.now
        try await emulator.eventually("readiness fails on the store", timeout: .seconds(30)) {
            let ready = try await OperationsProcessTests.get(address, "/health/ready")
            let store = try JSONValue.parse(Array(ready.body.utf8))["checks"]?["store"]?["ok"]?.boolValue
            return ready.status == 503 && store == false
        }
        // Long enough for several receives, retries and probes: nothing may be deleted meanwhile.
        for _ in 0..<6 {
            #expect(try await emulator.deployment.queueDepth(queue) == messages, "no message deleted during the outage")
            try await Task.sleep(for: .seconds(1))
        }
        for (arn, _) in waiting ?? jobs { #expect(try await emulator.deployment.describeExecution(arn)["status"] == "RUNNING") }
        let errors = LogLines(service.output).atErrorOrAbove.filter { !outage.before.contains($0) }
        #expect(errors.count == 1, "one error line for the outage: \(errors)")
        let line = errors.first ?? ""
        #expect(line.contains("store.unavailable"), "\(line)")
        if let problem { #expect(line.contains(problem), "the line says what is wrong: \(line)") }
        outage.line = line
        outage.linesDuring =
            LogLines(service.output).objects.filter { ["warning", "error", "critical"].contains($0["level"]?.stringValue ?? "") }.count
    }

    /// Once the fault is cleared: every execution succeeds once, `store.recovered` is logged,
    /// readiness comes back, both queues empty, and SIGTERM exits 0. Returns how long recovery took.
    func expectRecovery(of waiting: [(arn: String, job: String)]? = nil) async throws -> Duration {
        let cleared = ContinuousClock.now
        try await expectEveryExecutionSucceededOnce(waiting)
        let took = ContinuousClock.now - cleared
        try await emulator.eventually("store.recovered is logged", timeout: .seconds(30)) {
            LogLines(service.output).objects.contains { $0["message"]?.stringValue == "store.recovered" }
        }
        try await emulator.eventually("ready again", timeout: .seconds(60)) {
            try await OperationsProcessTests.get(address, "/health/ready").status == 200
        }
        let d = emulator.deployment
        try await emulator.eventually("both queues empty", timeout: .seconds(60)) {
            let events = try await d.queueDepth(d.eventsQueueURL)
            let requests = try await d.queueDepth(d.requestsQueueURL)
            return events == 0 && requests == 0
        }
        let errors = LogLines(service.output).atErrorOrAbove.filter { !outage.before.contains($0) }
        #expect(errors.count == 1, "still the one error line: \(errors)")
        let (status, _) = try await service.terminate()
        #expect(status == 0, "\(service.output.suffix(2000))")
        return took
    }

    func expectEveryExecutionSucceededOnce(_ some: [(arn: String, job: String)]? = nil) async throws {
        for (arn, _) in some ?? jobs {
            #expect(
                try await emulator.deployment.waitForExecution(arn, timeout: .seconds(120))["status"] == "SUCCEEDED", "\(service.output.suffix(3000))"
            )
            #expect(try await emulator.historyTypes(arn).filter { $0 == "TaskSucceeded" }.count == 1)
        }
    }

    /// A store gone for good: serve exits 69 by itself, its last line names `--database` and the
    /// store and says `problem`, and one line at error or above (`store.lost`) told it.
    func expectStoreLost(saying problem: String) async throws -> (status: Int32, last: String) {
        let status = try await service.waitForExit(timeout: .seconds(60))
        #expect(status == 69, "exit \(status): \(service.output.suffix(2000))")
        let last = service.output.split(separator: "\n").last.map(String.init) ?? ""
        let store = database ?? emulator.database
        #expect(last.hasPrefix("sagemaker-callback: --database: \(store)") && last.contains(problem), "the last line names the store: \(last)")
        let errors = LogLines(service.output).atErrorOrAbove
        #expect(errors.count == 1 && errors.first?.contains("store.lost") == true, "one error line: \(errors) ")
        return (status, last)
    }

    /// Error lines so far belong to an earlier phase, not to the next outage.
    func noteErrorsBefore() { outage.before = LogLines(service.output).atErrorOrAbove }

    /// A new serve on the same settings (the first has exited).
    mutating func restart() throws -> ServiceProcess {
        service = try ServiceProcess(["serve"], environment: environment, log: log)
        return service
    }

    /// The error line and how many lines at warning or above the outage cost, for the figures.
    var summary: String {
        let line =
            (try? JSONValue.parse(Array(outage.line.utf8))).map { "\($0["message"]?.stringValue ?? "") \($0["error"]?.stringValue ?? "")" }
            ?? outage.line
        return "error line \"\(line.prefix(200))\", \(outage.linesDuring) lines at warning or above, 0 lost"
    }
}

/// What an outage showed, kept across the rig's steps.
private final class OutageFigures: @unchecked Sendable {
    // Written and read by the one test task that owns the rig.
    var began: ContinuousClock.Instant?
    /// Error lines logged before the outage under test (a sporadic fault's), left out of its count.
    var before: [String] = []
    var line = ""
    var linesDuring = 0
}

/// The JSON log lines of a serve.
struct LogLines {
    let lines: [Substring]
    init(_ text: String) { lines = text.split(separator: "\n") }

    var objects: [JSONValue] { lines.compactMap { try? JSONValue.parse(Array($0.utf8)) }.filter { $0.objectValue != nil } }

    /// The log lines at error or critical, whole.
    var atErrorOrAbove: [String] {
        lines.filter { line in
            guard let level = (try? JSONValue.parse(Array(line.utf8)))?["level"]?.stringValue else { return false }
            return level == "error" || level == "critical"
        }.map(String.init)
    }
}

/// Makes a path unwritable by a real means: the immutable flag as root (mode bits do not bind
/// root), the mode bits otherwise. Each checks that a write is then refused, or throws.
enum ReadOnly {
    static func apply(to path: String) throws -> String { try apply(to: [path]) }

    static func apply(to paths: [String]) throws -> String {
        let means = geteuid() == 0 ? "chattr +i" : "chmod a-w"
        for path in paths {
            let ok =
                geteuid() == 0
                ? (try? ServiceProcess.commandSync("/usr/bin/chattr", ["+i", path]))?.status == 0
                : chmod(path, isDirectory(path) ? 0o555 : 0o444) == 0
            guard ok else { throw ReadOnlyUnavailable(message: "\(means) failed on \(path)") }
            let refused =
                isDirectory(path)
                ? open(path + "/probe-\(UUID().uuidString.prefix(6))", O_WRONLY | O_CREAT | O_EXCL, 0o600) < 0
                : open(path, O_WRONLY) < 0
            guard refused else { throw ReadOnlyUnavailable(message: "\(means) did not stop writes to \(path)") }
        }
        return means
    }

    static func undo(_ path: String, _ means: String) { undo([path], means) }

    static func undo(_ paths: [String], _ means: String) {
        for path in paths {
            if means.hasPrefix("chattr") {
                _ = try? ServiceProcess.commandSync("/usr/bin/chattr", ["-i", path])
            } else {
                chmod(path, isDirectory(path) ? 0o755 : 0o600)
            }
        }
    }

    /// Whether the first byte of an open file can be written back (unchanged) through `fd`.
    static func rewritesFirstByte(_ fd: Int32) -> Bool {
        var byte: UInt8 = 0
        guard pread(fd, &byte, 1, 0) == 1 else { return false }
        return pwrite(fd, &byte, 1, 0) == 1
    }

    static func isDirectory(_ path: String) -> Bool {
        var directory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &directory) && directory.boolValue
    }
}

struct ReadOnlyUnavailable: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// A loopback proxy in front of moto's DynamoDB that answers a share of requests (set while it
/// runs) with `ProvisionedThroughputExceededException`, as DynamoDB does, and passes the rest on.
final class ThrottlingProxy {
    private let process = Process()
    private let rateFile: URL
    private let countFile: URL
    let port: Int

    init(target: Int, directory: URL) throws {
        rateFile = directory.appendingPathComponent("throttle-rate")
        countFile = directory.appendingPathComponent("throttled")
        try "0".write(to: rateFile, atomically: true, encoding: .utf8)
        let script = """
            import http.client, http.server, random, signal, sys, threading
            signal.pthread_sigmask(signal.SIG_SETMASK, [])
            target, rate_file, count_file = int(sys.argv[1]), sys.argv[2], sys.argv[3]
            lock = threading.Lock()
            class Proxy(http.server.BaseHTTPRequestHandler):
                def log_message(self, *args): pass
                def do_POST(self):
                    body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                    try: rate = float(open(rate_file).read() or "0")
                    except Exception: rate = 0.0
                    if random.random() < rate:
                        with lock:
                            with open(count_file, "a") as f: f.write("x")
                        answer = b'{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"The level of configured provisioned throughput for the table was exceeded."}'
                        self.send_response(400)
                        self.send_header("Content-Type", "application/x-amz-json-1.0")
                        self.send_header("Content-Length", str(len(answer)))
                        self.end_headers()
                        self.wfile.write(answer)
                        return
                    upstream = http.client.HTTPConnection("127.0.0.1", target, timeout=30)
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
                    upstream.request("POST", self.path, body=body, headers=headers)
                    response = upstream.getresponse()
                    data = response.read()
                    self.send_response(response.status)
                    for k, v in response.getheaders():
                        if k.lower() not in ("connection", "content-length", "transfer-encoding", "server", "date"): self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    upstream.close()
            server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
            print(server.server_address[1], flush=True)
            server.serve_forever()
            """
        process.executableURL = URL(fileURLWithPath: try OperationsProcessTests.python())
        process.arguments = ["-c", script, "\(target)", rateFile.path, countFile.path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")), let byte = try output.fileHandleForReading.read(upToCount: 1), !byte.isEmpty { line.append(byte) }
        guard let port = Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            process.terminate()
            throw ReadOnlyUnavailable(message: "the throttling proxy did not start")
        }
        self.port = port
    }

    var endpoint: String { "http://127.0.0.1:\(port)" }

    /// Answers this share of requests (0–1) with throttling from now on.
    func throttle(_ rate: Double) throws { try "\(rate)".write(to: rateFile, atomically: true, encoding: .utf8) }

    /// Requests answered with throttling so far.
    var throttled: Int { ((try? Data(contentsOf: countFile)) ?? Data()).count }

    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

extension ServiceProcess {
    /// Waits for the process to exit by itself (killed after `timeout`); its status.
    func waitForExit(timeout: Duration) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        if process.isRunning { crash() }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Runs a system command to completion: its status and standard error.
    static func command(_ executable: String, _ arguments: [String]) async throws -> (status: Int32, err: String) {
        try commandSync(executable, arguments)
    }

    static func commandSync(_ executable: String, _ arguments: [String]) throws -> (status: Int32, err: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }
}
