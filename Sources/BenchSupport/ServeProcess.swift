public import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The real `sagemaker-callback serve`, started for one workload with its own database, health
/// file and log file in a fresh temporary directory (or, restarted, in the directory of the
/// process it follows: the same store, the log appended), and read through /proc while it runs.
public final class ServeProcess: @unchecked Sendable {
    // @unchecked: `process` is only started in init; its other members are thread-safe reads and signals.
    let process = Process()
    public let directory: URL
    public let logFile: URL

    /// Starts serve. `directory`: an existing one to run in again (its database, its log), nil
    /// for a fresh one. `environment` adds to (or overrides) what serve is given.
    public init(
        binary: String, endpoint: String, eventsQueueURL: String, requestsQueueURL: String,
        directory: URL? = nil, environment extra: [String: String] = [:]
    ) throws {
        self.directory = directory ?? FileManager.default.temporaryDirectory.appendingPathComponent("loadbench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
        // Under the test run's log directory when there is one, for make test's scan of secrets.
        logFile = TestLogs.placed(self.directory.appendingPathComponent("serve.log"))
        if !FileManager.default.fileExists(atPath: logFile.path) {
            _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        }
        let log = try FileHandle(forWritingTo: logFile)
        try log.seekToEnd()
        let directory = self.directory
        var environment: [String: String] = [
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
            "HOME": directory.path,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "AKIDLOADBENCH",
            "AWS_SECRET_ACCESS_KEY": "loadbench-secret",
            "AWS_REGION": "us-east-1",
            "SAGEMAKER_CALLBACK_EVENTS_QUEUE_URL": eventsQueueURL,
            "SAGEMAKER_CALLBACK_REQUESTS_QUEUE_URL": requestsQueueURL,
            "SAGEMAKER_CALLBACK_DATABASE": directory.appendingPathComponent("callbacks.sqlite").path,
            // info unless BENCH_LOG_LEVEL says otherwise (what a line per callback costs).
            "LOG_LEVEL": ProcessInfo.processInfo.environment["BENCH_LOG_LEVEL"] ?? "info",
        ]
        // Passed through only when set: older binaries know no such setting.
        if let maxInFlight = ProcessInfo.processInfo.environment["SAGEMAKER_CALLBACK_MAX_IN_FLIGHT"] {
            environment["SAGEMAKER_CALLBACK_MAX_IN_FLIGHT"] = maxInFlight
        }
        // `BENCH_LOG_FORMAT=json`: what a JSON line per callback costs beside a text line.
        if let format = ProcessInfo.processInfo.environment["BENCH_LOG_FORMAT"] {
            environment["LOG_FORMAT"] = format
        }
        environment.merge(extra) { $1 }
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["serve"]
        process.environment = environment
        process.currentDirectoryURL = directory
        process.standardOutput = log
        process.standardError = log
        try process.run()
    }

    public var pid: Int32 { process.processIdentifier }

    /// User and system CPU time so far, in microseconds (from /proc/PID/stat).
    public func cpu() -> CPUTime {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return CPUTime() }
        // Fields after the command name: state is field 3; utime and stime are fields 14 and 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let user = Double(fields[11]) ?? 0, system = Double(fields[12]) ?? 0
        return CPUTime(user: user / ticks * 1e6, system: system / ticks * 1e6)
    }

    /// A field of /proc/PID/status in MB (VmRSS: resident now, VmHWM: the peak).
    public func memory(_ field: String) -> Double {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") }),
            let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ Double($0) })
        else { return 0 }
        return kilobytes / 1024
    }

    /// Whether the process is still running.
    public var isRunning: Bool { process.isRunning }

    /// SIGTERM, then waits up to `timeout` seconds; the exit status (nil if it had to be killed).
    public func stop(timeout: Double = 15) async -> Int32? {
        process.terminate()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning, Date() < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning {
            Glibc.kill(pid, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        return process.terminationStatus
    }

    /// SIGKILL, and waits until the process is gone.
    public func kill() {
        if process.isRunning { Glibc.kill(pid, SIGKILL) }
        process.waitUntilExit()
    }

    /// The process's exit status, once it has ended.
    public var terminationStatus: Int32 { process.terminationStatus }

    /// Lines serve has written to its log so far.
    public func logLines() -> Int {
        guard let data = try? Data(contentsOf: logFile) else { return 0 }
        return data.reduce(0) { $1 == 0x0A ? $0 + 1 : $0 }
    }

    /// Lines of its log (every run in this directory) that contain `text`.
    public func logLines(containing text: String) -> Int {
        guard let log = try? String(contentsOf: logFile, encoding: .utf8) else { return 0 }
        return log.split(separator: "\n").filter { $0.contains(text) }.count
    }

    public func removeDirectory() { try? FileManager.default.removeItem(at: directory) }
}

/// CPU time of a process, in microseconds.
public struct CPUTime: Sendable {
    public var user = 0.0
    public var system = 0.0
    public var total: Double { user + system }

    public init(user: Double = 0, system: Double = 0) {
        self.user = user
        self.system = system
    }

    public static func - (lhs: CPUTime, rhs: CPUTime) -> CPUTime {
        CPUTime(user: lhs.user - rhs.user, system: lhs.system - rhs.system)
    }
}
