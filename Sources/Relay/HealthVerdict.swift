import CallbackStore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// What `sagemaker-callback health` concludes from the report file: healthy or not, with one
/// line of reason. Liveness only: every loop of `serve` still cycles. AWS being unreachable is
/// not a reason (the consumers count a failed receive as a cycle), or an outage would turn into
/// a restart loop.
public struct HealthVerdict: Sendable, Equatable, CustomStringConvertible {
    public var healthy: Bool
    public var reason: String

    public init(healthy: Bool, reason: String) {
        self.healthy = healthy
        self.reason = reason
    }

    /// `healthy: …` or `unhealthy: …`, the one line the command prints.
    public var description: String { "\(healthy ? "healthy" : "unhealthy"): \(reason)" }

    /// The bounds the judge holds the report to.
    public struct Limits: Sendable, Equatable {
        /// Longest one piece of work may last: well above the store's and AWS's call timeouts
        /// (a delivery's three 30 s attempts included).
        public var stuckAfter: Duration
        /// A report older than this many write intervals is stale.
        public var staleAfterIntervals: Int

        public init(stuckAfter: Duration = .seconds(180), staleAfterIntervals: Int = 3) {
            self.stuckAfter = stuckAfter
            self.staleAfterIntervals = staleAfterIntervals
        }
    }

    /// Judges what reading `path` found at `now` (epoch milliseconds). `processExists` answers
    /// whether the writer's pid still runs; it is the only look outside the bytes.
    public static func judge(
        _ contents: HealthFile.Contents, path: String, now: Int64, limits: Limits = Limits(),
        processExists: (Int32) -> Bool = HealthVerdict.processExists
    ) -> HealthVerdict {
        let bytes: [UInt8]
        switch contents {
        case .missing: return unhealthy("no health report at \(path): serve is not running here")
        case .unreadable(let reason): return unhealthy("cannot read the health report at \(path): \(reason)")
        case .bytes(let read): bytes = read
        }
        let report: HealthReport
        do {
            report = try HealthReport(parsing: bytes)
        } catch {
            return unhealthy("the health report at \(path) is garbled: \(error)")
        }
        if report.state == .stopping { return unhealthy("serve (pid \(report.pid)) is stopping") }
        guard processExists(report.pid) else {
            return unhealthy("serve (pid \(report.pid)) is not running; its last report at \(path) is stale")
        }
        let age = now - report.writtenAt
        if age > report.interval.milliseconds * Int64(limits.staleAfterIntervals) {
            return unhealthy("serve has not reported for \(seconds(age))")
        }
        var problems: [String] = []
        for loop in report.loops {
            if loop.stopped {
                problems.append("\(loop.name) has stopped")
            } else if let since = loop.workingSince {
                if now - since > limits.stuckAfter.milliseconds { problems.append("\(loop.name) busy for \(seconds(now - since))") }
            } else if let silentAfter = loop.silentAfter {
                // Waiting, as in a long poll: it must come back within its bound.
                let quiet = now - (loop.lastFinished ?? loop.since)
                if quiet > silentAfter.milliseconds { problems.append("\(loop.name) silent for \(seconds(quiet))") }
            }
        }
        if !problems.isEmpty { return unhealthy(problems.joined(separator: "; ")) }
        let count = report.loops.count
        return HealthVerdict(
            healthy: true,
            reason: "serve (pid \(report.pid)) reported \(seconds(max(age, 0))) ago; \(count) loop\(count == 1 ? "" : "s") cycling"
        )
    }

    /// Reads the report at `path` and judges it at `now`.
    public static func check(path: String, now: Int64 = WallClock.millisecondsNow(), limits: Limits = Limits()) -> HealthVerdict {
        judge(HealthFile.read(path), path: path, now: now, limits: limits)
    }

    /// Whether a process with `pid` exists (`kill(pid, 0)`; one of another user's counts).
    public static func processExists(_ pid: Int32) -> Bool {
        guard pid > 0 else { return false }
        return kill(pid, 0) == 0 || errno == EPERM
    }

    private static func unhealthy(_ reason: String) -> HealthVerdict {
        HealthVerdict(healthy: false, reason: reason)
    }

    /// Whole seconds, rounded down: `40 s`.
    private static func seconds(_ milliseconds: Int64) -> String { "\(milliseconds / 1000) s" }
}
