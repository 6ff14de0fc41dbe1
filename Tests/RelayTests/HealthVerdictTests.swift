import Foundation
import Relay
import Testing

@Suite("Health verdict")
struct HealthVerdictTests {
    static let path = "/tmp/test.health"
    static let now: Int64 = 1_800_000_000_000
    static let pid: Int32 = 4242

    /// A report just written by a healthy serve: every loop idle, the consumers just cycled.
    static func report(
        writtenAgo: Int64 = 1_000, state: HealthReport.State = .running, change: (inout [Liveness.LoopState]) -> Void = { _ in }
    ) -> HealthReport {
        let start = now - 3_600_000
        var loops = [
            Liveness.LoopState(name: "store maintenance", since: start, lastFinished: now - 500_000),
            Liveness.LoopState(name: "outbox dispatcher", since: start, lastFinished: now - 2_000),
            Liveness.LoopState(name: "heartbeat schedule", since: start, lastFinished: now - 30_000),
            Liveness.LoopState(name: "safety sweep", since: start, lastFinished: now - 3_500_000),
            Liveness.LoopState(name: "requests consumer", since: start, lastFinished: now - 10_000, silentAfter: .seconds(95)),
            Liveness.LoopState(name: "events consumer", since: start, workingSince: now - 50, lastFinished: now - 20_000, silentAfter: .seconds(95)),
        ]
        change(&loops)
        return HealthReport(pid: pid, startedAt: start, writtenAt: now - writtenAgo, interval: .seconds(5), state: state, loops: loops)
    }

    static func judge(_ report: HealthReport, alive: Bool = true) -> HealthVerdict {
        HealthVerdict.judge(.bytes(report.serializedBytes()), path: path, now: now) { $0 == pid && alive }
    }

    static func judge(_ text: String) -> HealthVerdict {
        HealthVerdict.judge(.bytes(Array(text.utf8)), path: path, now: now) { _ in true }
    }

    @Test("the report survives its own file format")
    func roundTrip() throws {
        let report = Self.report()
        #expect(try HealthReport(parsing: report.serializedBytes()) == report)
    }

    @Test("healthy: a fresh report, every loop cycling; a sweep asleep for an hour is fine")
    func healthy() {
        let verdict = Self.judge(Self.report())
        #expect(verdict.healthy)
        #expect(verdict.description == "healthy: serve (pid 4242) reported 1 s ago; 6 loops cycling")
    }

    @Test("no file: serve is not running here")
    func missing() {
        let verdict = HealthVerdict.judge(.missing, path: Self.path, now: Self.now) { _ in true }
        #expect(verdict == HealthVerdict(healthy: false, reason: "no health report at /tmp/test.health: serve is not running here"))
        #expect(verdict.description.hasPrefix("unhealthy: "))
    }

    @Test("a file that cannot be read")
    func unreadable() {
        let verdict = HealthVerdict.judge(.unreadable("Permission denied"), path: Self.path, now: Self.now) { _ in true }
        #expect(verdict.reason == "cannot read the health report at /tmp/test.health: Permission denied")
        #expect(!verdict.healthy)
    }

    @Test("garbled reports", arguments: [
        "", "{\"pid\": 4242", "[]", "{\"pid\": 0, \"startedAt\": 1, \"writtenAt\": 1, \"intervalMs\": 5000, \"state\": \"running\", \"loops\": []}",
        "{\"pid\": 4242, \"startedAt\": 1, \"writtenAt\": 1, \"intervalMs\": 5000, \"state\": \"dancing\", \"loops\": []}",
        "{\"pid\": 4242, \"startedAt\": 1, \"writtenAt\": 1, \"intervalMs\": 0, \"state\": \"running\", \"loops\": []}",
        "{\"pid\": 4242, \"startedAt\": 1, \"writtenAt\": 1, \"intervalMs\": 5000, \"state\": \"running\", \"loops\": [{\"since\": 1}]}",
    ])
    func garbled(text: String) {
        let verdict = Self.judge(text)
        #expect(!verdict.healthy)
        #expect(verdict.reason.hasPrefix("the health report at /tmp/test.health is garbled: "), "\(verdict)")
    }

    @Test("the writer's process is gone (kill -9 leaves its last report behind)")
    func deadProcess() {
        let verdict = Self.judge(Self.report(), alive: false)
        #expect(verdict.reason == "serve (pid 4242) is not running; its last report at /tmp/test.health is stale")
    }

    @Test("a report older than three write intervals: serve has not reported")
    func stale() {
        #expect(Self.judge(Self.report(writtenAgo: 40_000)).reason == "serve has not reported for 40 s")
        #expect(Self.judge(Self.report(writtenAgo: 14_000)).healthy, "within 3 × 5 s")
    }

    @Test("a report marked stopping")
    func stopping() {
        #expect(Self.judge(Self.report(state: .stopping)).reason == "serve (pid 4242) is stopping")
    }

    @Test("a loop stuck in one piece of work")
    func stuck() {
        let verdict = Self.judge(Self.report { $0[1].workingSince = Self.now - 300_000 })
        #expect(verdict.reason == "outbox dispatcher busy for 300 s")
        #expect(Self.judge(Self.report { $0[1].workingSince = Self.now - 100_000 }).healthy, "within the bound")
    }

    @Test("a consumer that has not completed a cycle for longer than its bound")
    func silent() {
        let verdict = Self.judge(Self.report { $0[4].lastFinished = Self.now - 200_000 })
        #expect(verdict.reason == "requests consumer silent for 200 s")
        let never = Self.judge(Self.report { $0[4].lastFinished = nil })
        #expect(never.reason == "requests consumer silent for 3600 s", "never cycled since it began")
    }

    @Test("a loop that has stopped, and every problem on one line")
    func stoppedAndSeveral() {
        let verdict = Self.judge(Self.report {
            $0[5].stopped = true
            $0[5].workingSince = nil
            $0[3].workingSince = Self.now - 200_000
        })
        #expect(verdict.reason == "safety sweep busy for 200 s; events consumer has stopped")
        #expect(!verdict.description.contains("\n"))
    }

    @Test("processExists: this process exists, pid 0 and a pid beyond the maximum do not")
    func processExists() {
        #expect(HealthVerdict.processExists(getpid()))
        #expect(!HealthVerdict.processExists(0))
        #expect(!HealthVerdict.processExists(Int32.max))
    }
}
