import CallbackStore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import JSON
import Logging
import ServiceLifecycle

/// The status `serve` writes for `sagemaker-callback health`: who wrote it, when, and what each
/// loop last reported. It holds no state of the service (losing it loses nothing) and no secrets.
///
/// The file is one JSON object; times are epoch milliseconds, durations milliseconds:
/// `{"pid", "startedAt", "writtenAt", "intervalMs", "state": "running"|"stopping",
///   "loops": [{"name", "since", "workingSince", "lastFinished", "silentAfterMs", "stopped"}]}`.
public struct HealthReport: Sendable, Equatable {
    /// Whether the writer still runs or has begun its graceful shutdown.
    public enum State: String, Sendable {
        case running, stopping
    }

    /// The report cannot be understood: not JSON, or a field missing or out of range.
    public struct Garbled: Error, Sendable, Equatable, CustomStringConvertible {
        public var reason: String
        public var description: String { reason }
    }

    public var pid: Int32
    public var startedAt: Int64
    public var writtenAt: Int64
    /// How often the writer rewrites the report.
    public var interval: Duration
    public var state: State
    public var loops: [Liveness.LoopState]

    public init(pid: Int32, startedAt: Int64, writtenAt: Int64, interval: Duration, state: State, loops: [Liveness.LoopState]) {
        self.pid = pid
        self.startedAt = startedAt
        self.writtenAt = writtenAt
        self.interval = interval
        self.state = state
        self.loops = loops
    }

    /// The report as the file holds it.
    public func serializedBytes() -> [UInt8] {
        let loops = self.loops.map { loop -> JSONValue in
            .object([
                "name": .string(loop.name),
                "since": JSONValue(loop.since),
                "workingSince": loop.workingSince.map { JSONValue($0) } ?? .null,
                "lastFinished": loop.lastFinished.map { JSONValue($0) } ?? .null,
                "silentAfterMs": loop.silentAfter.map { JSONValue($0.milliseconds) } ?? .null,
                "stopped": .bool(loop.stopped),
            ])
        }
        let object: JSONObject = [
            "pid": JSONValue(Int(pid)), "startedAt": JSONValue(startedAt), "writtenAt": JSONValue(writtenAt),
            "intervalMs": JSONValue(interval.milliseconds), "state": .string(state.rawValue), "loops": .array(loops),
        ]
        return JSONValue.object(object).serializedBytes()
    }

    /// Reads a report from the file's bytes.
    public init(parsing bytes: [UInt8]) throws(Garbled) {
        let value: JSONValue
        do {
            value = try JSONValue.parse(bytes)
        } catch {
            throw Garbled(reason: "not JSON (\(error))")
        }
        func number(_ field: String, in object: JSONValue) throws(Garbled) -> Int64 {
            guard let number = object[field]?.int64Value else { throw Garbled(reason: "no number '\(field)'") }
            return number
        }
        func optional(_ field: String, in object: JSONValue) throws(Garbled) -> Int64? {
            guard let member = object[field], !member.isNull else { return nil }
            guard let number = member.int64Value else { throw Garbled(reason: "'\(field)' is not a number") }
            return number
        }
        let pid = try number("pid", in: value)
        guard pid > 0, pid <= Int64(Int32.max) else { throw Garbled(reason: "pid \(pid) is not a process id") }
        let interval = try number("intervalMs", in: value)
        guard interval > 0 else { throw Garbled(reason: "intervalMs \(interval) is not positive") }
        guard let stateName = value["state"]?.stringValue, let state = State(rawValue: stateName) else {
            throw Garbled(reason: "no state 'running' or 'stopping'")
        }
        guard let entries = value["loops"]?.arrayValue else { throw Garbled(reason: "no array 'loops'") }
        var loops: [Liveness.LoopState] = []
        for entry in entries {
            guard let name = entry["name"]?.stringValue else { throw Garbled(reason: "a loop without a name") }
            loops.append(Liveness.LoopState(
                name: name, since: try number("since", in: entry),
                workingSince: try optional("workingSince", in: entry), lastFinished: try optional("lastFinished", in: entry),
                silentAfter: try optional("silentAfterMs", in: entry).map { .milliseconds($0) },
                stopped: entry["stopped"]?.boolValue ?? false
            ))
        }
        self.init(
            pid: Int32(pid), startedAt: try number("startedAt", in: value), writtenAt: try number("writtenAt", in: value),
            interval: .milliseconds(interval), state: state, loops: loops
        )
    }
}

/// The report file on disk: written whole or not at all, read without surprises.
public enum HealthFile {
    /// The default path, overridden by `--health-file` or `SAGEMAKER_CALLBACK_HEALTH_FILE`.
    public static let defaultPath = "/tmp/sagemaker-callback.health"

    /// What reading the file found.
    public enum Contents: Sendable, Equatable {
        case missing
        case unreadable(String)
        case bytes([UInt8])
    }

    /// A report is a few hundred bytes; anything much larger is not one.
    static let maximumSize = 1 << 20

    /// Writes `bytes` to a temporary file beside `path`, mode 0644, then renames it over `path`,
    /// so a reader sees the old report or the new one, never half of one.
    public static func write(_ bytes: [UInt8], to path: String) throws(WriteError) {
        // Unique per write: two writers of one path (tests run several) must not share a temporary.
        let temporary = "\(path).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw WriteError(description: "cannot create \(temporary): \(lastError())") }
        // The umask must not narrow it: the health check may run as another user.
        _ = fchmod(fd, 0o644)
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else {
                let reason = lastError()
                close(fd)
                unlink(temporary)
                throw WriteError(description: "cannot write \(temporary): \(reason)")
            }
            written += count
        }
        close(fd)
        guard rename(temporary, path) == 0 else {
            let reason = lastError()
            unlink(temporary)
            throw WriteError(description: "cannot rename \(temporary) to \(path): \(reason)")
        }
    }

    /// Reads the file at `path`.
    public static func read(_ path: String) -> Contents {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return errno == ENOENT ? .missing : .unreadable(lastError()) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while bytes.count <= maximumSize {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            if count < 0 { return .unreadable(lastError()) }
            if count == 0 { return .bytes(bytes) }
            bytes.append(contentsOf: chunk[..<count])
        }
        return .unreadable("larger than \(maximumSize) bytes")
    }

    /// Removes the file; a file already gone is fine.
    public static func remove(_ path: String) {
        unlink(path)
    }

    /// A failure to write the file, with the call and the system's reason.
    public struct WriteError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    private static func lastError() -> String { String(cString: strerror(errno)) }
}

/// Writes the health report every `interval` while `serve` runs; on graceful shutdown it writes
/// a last report marked `stopping`, then removes the file. It is early in the service group, so
/// it stops late: the report covers the other loops' shutdown.
public final class HealthReporter: Service, Sendable {
    private let path: String
    private let liveness: Liveness
    private let interval: Duration
    private let startedAt: Int64
    private let logger: Logger

    public init(path: String, liveness: Liveness, interval: Duration = .seconds(5), logger: Logger) {
        self.path = path
        self.liveness = liveness
        self.interval = interval
        self.startedAt = WallClock.millisecondsNow()
        var logger = logger
        logger[metadataKey: "health.file"] = "\(path)"
        self.logger = logger
    }

    public func run() async throws {
        var failing = false
        while true {
            do {
                try write(.running)
                if failing { logger.notice("health.report_written") }
                failing = false
            } catch {
                // Once per outage: the health check itself will say the report is missing or stale.
                if !failing { logger.warning("health.report_failed", metadata: ["error": "\(error)"]) }
                failing = true
            }
            guard !Task.isShuttingDownGracefully, !Task.isCancelled else { break }
            do {
                try await cancelWhenGracefulShutdown { [interval] in try await Task.sleep(for: interval) }
            } catch {
                break
            }
        }
        try? write(.stopping)
        HealthFile.remove(path)
    }

    /// Writes the report of this moment.
    func write(_ state: HealthReport.State, now: Int64 = WallClock.millisecondsNow()) throws(HealthFile.WriteError) {
        let report = HealthReport(
            pid: getpid(), startedAt: startedAt, writtenAt: now, interval: interval, state: state, loops: liveness.snapshot()
        )
        try HealthFile.write(report.serializedBytes(), to: path)
    }
}
