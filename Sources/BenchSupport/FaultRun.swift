import FakeAWS
import Foundation

/// What one fault scenario ended with: one line of `make faults`.
public struct FaultReport: Sendable {
    public var scenario: String
    public var jobs = 0
    public var tally = Tally()
    public var faultsInjected = 0
    public var cpuMicrosecondsPerCallback = 0.0
    public var wallSeconds = 0.0
    /// Whether serve was still running at the end, and its status after SIGTERM (nil: killed).
    public var serveRunning = false
    public var exit: Int32?
    /// Requests serve made per callback (retries show here).
    public var requestsPerCallback = 0.0
    public var error: String?

    /// Whether the scenario kept every guarantee.
    public var passed: Bool {
        error == nil && tally.kept(jobs: jobs) && serveRunning && exit == 0
    }

    public static let header = "scenario           jobs  completed  lost  2nd-outcomes  repeats  left  faults   req/cb  µs CPU/cb  wall s  serve"

    public var line: String {
        String(
            format: "%@ %5d  %9d %5d %13d %8d %5d %7d %8.2f %10.0f %7.1f  %@",
            scenario.padding(toLength: 17, withPad: " ", startingAt: 0), jobs, tally.completed, tally.lost, tally.secondOutcomes, tally.repeats,
            tally.leftInQueues,
            faultsInjected, requestsPerCallback, cpuMicrosecondsPerCallback, wallSeconds,
            (serveRunning ? (exit == 0 ? "ok, exit 0" : "exit \(exit.map(String.init) ?? "killed")") : "NOT RUNNING")
                + (error.map { "; \($0)" } ?? "")
        )
    }
}

/// Runs one fault scenario: a fresh fake and serve; the faults switched on once serve polls;
/// the registrations loaded and consumed, then the events; done when every token has its outcome
/// and both queues are empty (or when `timeout` runs out: what is missing then is reported).
public struct FaultRun: Sendable {
    public let scenario: FaultScenario
    public let binary: String
    public let eventsDirectory: String
    public let timeout: Double

    public init(scenario: FaultScenario, binary: String, eventsDirectory: String, timeout: Double) {
        self.scenario = scenario
        self.binary = binary
        self.eventsDirectory = eventsDirectory
        self.timeout = timeout
    }

    public func measure() async throws -> FaultReport {
        let started = Date()
        let rig = try await FakeRig(run: "faults", eventsDirectory: eventsDirectory, visibilityTimeout: FakeRig.shortVisibilityTimeout)
        let fake = rig.fake
        let n = scenario.jobs
        var report = FaultReport(scenario: scenario.name, jobs: n)
        let serve = try await rig.startServeOrShutDown(binary: binary)
        do {
            try await until("serve to poll both queues", serve: serve, seconds: 30) { (fake.counters.requests["ReceiveMessage"] ?? 0) >= 2 }
            let cpuBefore = serve.cpu()
            let requestsBefore = fake.counters.requests
            fake.setFaults(scenario.plan)
            _ = try await rig.loader.send(count: n, to: rig.requestsURL, body: rig.catalog.registration)
            try await until("registrations consumed", serve: serve, seconds: timeout) {
                rig.fake.counts(queue: rig.requestsQueue).map { $0.visible + $0.inFlight == 0 } ?? false
            }
            _ = try await rig.loader.send(count: n, to: rig.eventsURL, body: rig.catalog.event)
            try await until("every outcome and empty queues", serve: serve, seconds: timeout) { fake.counters.outcomes >= n && rig.leftInQueues == 0 }
            // Repeats still on their way (a delivery retried after a stall) land in this moment.
            try await Task.sleep(for: .milliseconds(500))
            report.cpuMicrosecondsPerCallback = (serve.cpu() - cpuBefore).total / Double(n)
            let requests = fake.counters.requests.merging(requestsBefore) { $0 - $1 }
            let loads = (requests["SendMessageBatch"] ?? 0)
            report.requestsPerCallback = Double(requests.values.reduce(0, +) - loads) / Double(n)
        } catch {
            report.error = "\(error)"
        }
        report.serveRunning = serve.isRunning
        report.faultsInjected = fake.faultCounts.total
        fake.setFaults(.none)
        report.tally = rig.tally(n)
        report.exit = await serve.stop()
        report.wallSeconds = Date().timeIntervalSince(started)
        if report.passed { serve.removeDirectory() } else { report.error = (report.error ?? "") + " (serve's log: \(serve.logFile.path))" }
        try await rig.shutdown()
        return report
    }
}
