import Foundation

/// The real `sagemaker-callback serve`, started for one workload with its own database, health
/// file and log file in a fresh temporary directory, and read through /proc while it runs.
final class ServeProcess {
    let process = Process()
    let directory: URL
    let logFile: URL

    init(binary: String, endpoint: String, eventsQueueURL: String, requestsQueueURL: String) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("loadbench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        logFile = directory.appendingPathComponent("serve.log")
        _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        let log = try FileHandle(forWritingTo: logFile)
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
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["serve"]
        process.environment = environment
        process.currentDirectoryURL = directory
        process.standardOutput = log
        process.standardError = log
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }

    /// User and system CPU time so far, in microseconds (from /proc/PID/stat).
    func cpu() -> CPUTime {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return CPUTime() }
        // Fields after the command name: state is field 3; utime and stime are fields 14 and 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let user = Double(fields[11]) ?? 0, system = Double(fields[12]) ?? 0
        return CPUTime(user: user / ticks * 1e6, system: system / ticks * 1e6)
    }

    /// A field of /proc/PID/status in MB (VmRSS: resident now, VmHWM: the peak).
    func memory(_ field: String) -> Double {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") }),
              let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ Double($0) }) else { return 0 }
        return kilobytes / 1024
    }

    /// Whether the process is still running.
    var isRunning: Bool { process.isRunning }

    /// SIGTERM, then waits up to `timeout` seconds; the exit status (nil if it had to be killed).
    func stop(timeout: Double = 15) async -> Int32? {
        process.terminate()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning, Date() < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning {
            kill(pid, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        return process.terminationStatus
    }

    /// Lines serve has written to its log so far.
    func logLines() -> Int {
        guard let data = try? Data(contentsOf: logFile) else { return 0 }
        return data.reduce(0) { $1 == 0x0A ? $0 + 1 : $0 }
    }

    func removeDirectory() { try? FileManager.default.removeItem(at: directory) }
}

/// CPU time of a process, in microseconds.
struct CPUTime {
    var user = 0.0
    var system = 0.0
    var total: Double { user + system }

    static func - (lhs: CPUTime, rhs: CPUTime) -> CPUTime {
        CPUTime(user: lhs.user - rhs.user, system: lhs.system - rhs.system)
    }
}
