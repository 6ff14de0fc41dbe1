public import FakeAWS
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What one kill loop ended with: one line of `make faults`.
public struct KillReport: Sendable {
    public var name: String
    public var jobs = 0
    public var kills = 0
    /// Kills while a SendTaskSuccess/Failure was held at the fake, unanswered (certainly inside a delivery).
    public var killsInDelivery = 0
    /// Kills after a ReceiveMessage handed serve a batch and before any of its messages was
    /// deleted (inside the window where the batch is parsed and committed, not yet deleted).
    public var killsInCommit = 0
    public var tally = Tally()
    public var wallSeconds = 0.0
    public var error: String?

    public var passed: Bool { error == nil && tally.kept(jobs: jobs) }

    public static let header = "kill loop          jobs  kills  in-delivery  in-commit  completed  lost  2nd-outcomes  repeats  left  wall s"

    public var line: String {
        String(
            format: "%@ %5d  %5d  %11d  %9d  %9d %5d %13d %8d %5d %7.1f%@",
            name.padding(toLength: 17, withPad: " ", startingAt: 0), jobs, kills, killsInDelivery, killsInCommit, tally.completed, tally.lost,
            tally.secondOutcomes, tally.repeats, tally.leftInQueues, wallSeconds, error.map { "  \($0)" } ?? ""
        )
    }
}

/// SIGKILLs serve `kills` times during a burst of `jobs` registrations and events, restarting it
/// on the same database each time, with `plan`'s faults on. The kills cycle through three
/// moments: with a SendTask* call held at the fake (inside a delivery; the call is then applied
/// or not, alternately, as a real one may or may not have been), a moment after a
/// ReceiveMessage answer carrying messages (inside the batch's commit window), and at random.
public struct KillLoop: Sendable {
    public var name: String
    public var jobs: Int
    public var kills: Int
    public var plan: FaultPlan
    public var binary: String
    public var eventsDirectory: String
    public var timeout: Double
    public var seed: UInt64

    public init(name: String, jobs: Int, kills: Int, plan: FaultPlan = .none, binary: String, eventsDirectory: String, timeout: Double, seed: UInt64 = 7) {
        self.name = name
        self.jobs = jobs
        self.kills = kills
        self.plan = plan
        self.binary = binary
        self.eventsDirectory = eventsDirectory
        self.timeout = timeout
        self.seed = seed
    }

    /// The armed "kill after a receive" moment: the pid to kill, how long after the answer.
    private struct Trigger {
        var pid: Int32 = 0
        var delayMicroseconds = 0
        var handles: [String] = []
        /// Whether the batch was still wholly undeleted when the kill was sent.
        var undeleted = false
        var fired = false
    }

    public func run() async throws -> KillReport {
        let started = Date()
        let rig = try await FakeRig(run: "kill", eventsDirectory: eventsDirectory, visibilityTimeout: FakeRig.shortVisibilityTimeout)
        let fake = rig.fake
        var report = KillReport(name: name, jobs: jobs)
        var random = SeededGenerator(seed: seed)
        var serve = try await rig.startServeOrShutDown(binary: binary)
        let directory = serve.directory
        let trigger = Mutex(Trigger())
        fake.observeReceives { handles in
            guard !handles.isEmpty else { return }
            let armed: (pid: Int32, delay: Int)? = trigger.withLock { state in
                guard state.pid != 0, !state.fired else { return nil }
                state.fired = true
                state.handles = handles
                return (state.pid, state.delayMicroseconds)
            }
            guard let armed else { return }
            // After the answer is written (this runs just before), while serve parses and commits.
            DispatchQueue.global().asyncAfter(deadline: .now() + .microseconds(armed.delay)) {
                let undeleted = fake.inFlight(receiptHandles: handles) == handles.count
                trigger.withLock { $0.undeleted = undeleted }
                Glibc.kill(armed.pid, SIGKILL)
            }
        }
        do {
            try await waitUntil("serve to poll both queues", seconds: 30) { (fake.counters.requests["ReceiveMessage"] ?? 0) >= 2 }
            fake.setFaults(plan)
            let load = Task { [rig, jobs] in
                _ = try await rig.loader.send(count: jobs, to: rig.requestsURL, body: rig.catalog.registration)
                _ = try await rig.loader.send(count: jobs, to: rig.eventsURL, body: rig.catalog.event)
            }
            defer { load.cancel() }
            for k in 0..<kills {
                try await Task.sleep(for: .milliseconds(100 + Int(random.next() % 400)))
                switch k % 3 {
                case 0:
                    // Inside a delivery: the next SendTask* is held unanswered while serve dies.
                    fake.holdClosingCalls(1)
                    let held = (try? await waitUntil("a SendTask* call", seconds: 5) { fake.heldCalls > 0 }) != nil
                    serve.kill()
                    if held, fake.releaseHeld(applying: k % 2 == 0) > 0 { report.killsInDelivery += 1 }
                    fake.holdClosingCalls(0)
                case 1:
                    // Inside a commit: 0.2–2 ms after messages are handed over, before their delete.
                    trigger.withLock { $0 = Trigger(pid: serve.pid, delayMicroseconds: 200 + Int(random.next() % 1800)) }
                    let fired = (try? await waitUntil("a ReceiveMessage with messages", seconds: 5) {
                        trigger.withLock { $0.fired } && !serve.isRunning
                    }) != nil
                    if !fired { trigger.withLock { $0.fired = true } }
                    serve.kill()
                    if fired, trigger.withLock({ $0.undeleted }) { report.killsInCommit += 1 }
                    trigger.withLock { $0 = Trigger() }
                default:
                    serve.kill()
                }
                report.kills += 1
                serve = try rig.startServe(binary: binary, directory: directory)
            }
            try await load.value
            try await waitUntil("every outcome and empty queues", seconds: timeout) {
                guard serve.isRunning else { return true }
                return fake.counters.outcomes >= jobs && rig.leftInQueues == 0
            }
            if !serve.isRunning { report.error = "serve exited (status \(serve.terminationStatus))" }
            try await Task.sleep(for: .milliseconds(500))
        } catch {
            report.error = "\(error)"
        }
        fake.observeReceives(nil)
        report.tally = rig.tally(jobs)
        let exit = await serve.stop()
        if exit != 0, report.error == nil { report.error = "serve exited \(exit.map(String.init) ?? "only when killed") after SIGTERM" }
        report.wallSeconds = Date().timeIntervalSince(started)
        if report.passed { serve.removeDirectory() } else { report.error = (report.error ?? "") + " (serve's log: \(serve.logFile.path))" }
        try await rig.shutdown()
        return report
    }
}
