public import CallbackStore
import JSON
import Synchronization

/// What `/health/live` and `/health/ready` answer, from what the loops report.
///
/// Liveness: every loop of `serve` still cycles (none stopped, none stuck in one piece of work,
/// none silent past its bound). AWS being unreachable is not a reason (the consumers count a
/// failed receive as a cycle), or an outage would turn into a restart loop.
///
/// Readiness: the store answered a write probe recently, no store call has failed since the last
/// commit, each queue was received from
/// successfully within ``Limits/receiveWindow``, and the process is not shutting down.
public final class HealthChecks: Sendable {
    /// The bounds the checks hold the loops to.
    public struct Limits: Sendable, Equatable {
        /// Longest one piece of work may last: well above the store's and AWS's call timeouts
        /// (a delivery's three 30 s attempts included).
        public var stuckAfter: Duration
        /// How recent a queue's last successful receive must be.
        public var receiveWindow: Duration
        /// How recent the store's last successful probe must be.
        public var storeWindow: Duration

        public init(stuckAfter: Duration = .seconds(180), receiveWindow: Duration, storeWindow: Duration = .seconds(35)) {
            self.stuckAfter = stuckAfter
            self.receiveWindow = receiveWindow
            self.storeWindow = storeWindow
        }

        /// Twice the long poll's wait, and no less than 10 s: a receive that found nothing
        /// returns after the wait, so two missed in a row mean the queue is out of reach.
        public static func receiveWindow(waitSeconds: Int) -> Duration {
            .seconds(max(10, 2 * waitSeconds))
        }
    }

    /// One check's result, as the JSON body names it.
    public struct Check: Sendable, Equatable {
        public var name: String
        public var ok: Bool
        public var detail: String
    }

    /// The checks' conclusion: healthy or not, and each check.
    public struct Report: Sendable, Equatable {
        public var checks: [Check]
        public var healthy: Bool { checks.allSatisfy(\.ok) }

        /// `{"status":"ok"|"failing","checks":{"NAME":{"ok":…,"detail":…}}}`.
        public func body() -> [UInt8] {
            var object = JSONObject()
            for check in checks {
                _ = object.updateValue(.object(["ok": .bool(check.ok), "detail": .string(check.detail)]), forKey: check.name)
            }
            var bytes = JSONValue.object(["status": .string(healthy ? "ok" : "failing"), "checks": .object(object)]).serializedBytes()
            bytes.append(UInt8(ascii: "\n"))
            return bytes
        }
    }

    public let liveness: Liveness
    public let limits: Limits
    private struct State {
        var received: [String: Int64] = [:]
        var queues: [String] = []
        var storeOK: Int64?
        var storeError: String?
        /// The last store failure not yet followed by a commit (any loop's, not only the probe's).
        var commitError: String?
        var stopping = false
    }
    private let state = Mutex(State())

    public init(liveness: Liveness, limits: Limits) {
        self.liveness = liveness
        self.limits = limits
    }

    /// A queue readiness waits for: not ready until a first receive from it succeeds.
    public func expectQueue(_ name: String) {
        state.withLock { state in
            state.queues.append(name)
            state.received[name] = nil
        }
    }

    /// A receive from `queue` succeeded.
    public func received(from queue: String, at now: Int64 = WallClock.millisecondsNow()) {
        state.withLock { $0.received[queue] = now }
    }

    /// The store's probe answered (nil) or failed (its error).
    public func storeProbed(error: String?, at now: Int64 = WallClock.millisecondsNow()) {
        state.withLock { state in
            if let error { state.storeError = error } else { (state.storeOK, state.storeError) = (now, nil) }
        }
    }

    /// A store call of any loop failed: not ready until a write commits again.
    public func storeCommitFailed(error: String) {
        state.withLock { $0.commitError = error }
    }

    /// A write committed.
    public func storeCommitted() {
        state.withLock { $0.commitError = nil }
    }

    /// Graceful shutdown began: not ready any more.
    public func stopping() {
        state.withLock { $0.stopping = true }
    }

    /// `/health/live`.
    public func live(at now: Int64 = WallClock.millisecondsNow()) -> Report {
        Report(
            checks: liveness.snapshot().map { loop in
                if loop.stopped { return Check(name: loop.name, ok: false, detail: "stopped") }
                if let since = loop.workingSince, now - since > limits.stuckAfter.milliseconds {
                    return Check(name: loop.name, ok: false, detail: "busy for \(Self.seconds(now - since))")
                }
                if loop.workingSince == nil, let silentAfter = loop.silentAfter {
                    // Waiting, as in a long poll: it must come back within its bound.
                    let quiet = now - (loop.lastFinished ?? loop.since)
                    if quiet > silentAfter.milliseconds { return Check(name: loop.name, ok: false, detail: "silent for \(Self.seconds(quiet))") }
                }
                return Check(name: loop.name, ok: true, detail: loop.workingSince == nil ? "waiting" : "working")
            })
    }

    /// `/health/ready`.
    public func ready(at now: Int64 = WallClock.millisecondsNow()) -> Report {
        let state = self.state.withLock { $0 }
        var checks: [Check] = []
        if state.stopping { checks.append(Check(name: "process", ok: false, detail: "shutting down")) }
        let storeFresh = state.storeOK.map { now - $0 <= limits.storeWindow.milliseconds } ?? false
        checks.append(
            Check(
                name: "store", ok: state.storeError == nil && state.commitError == nil && storeFresh,
                detail: state.storeError ?? state.commitError.map { "cannot commit: \($0)" }
                    ?? (storeFresh ? "writable" : state.storeOK == nil ? "not probed yet" : "no answer for \(Self.seconds(now - state.storeOK!))")
            ))
        for queue in state.queues {
            guard let last = state.received[queue] else {
                checks.append(Check(name: "\(queue) queue", ok: false, detail: "not received from yet"))
                continue
            }
            let age = now - last
            let ok = age <= limits.receiveWindow.milliseconds
            checks.append(
                Check(
                    name: "\(queue) queue", ok: ok,
                    detail: ok ? "received \(Self.seconds(age)) ago" : "no successful receive for \(Self.seconds(age))"))
        }
        return Report(checks: checks)
    }

    /// Whole seconds, rounded down: `40 s`.
    private static func seconds(_ milliseconds: Int64) -> String { "\(max(0, milliseconds) / 1000) s" }
}
