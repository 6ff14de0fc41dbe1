public import FakeAWS
import Foundation
public import Moto
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
    /// DynamoDB: outbox entries a replica took over from another's lapsed lease (`outbox.taken_over`
    /// lines in the replicas' logs); each may be delivered again, and be a repeat.
    public var takenOver = 0
    public var tally = Tally()
    public var wallSeconds = 0.0
    public var error: String?

    public var passed: Bool { error == nil && tally.kept(jobs: jobs) }

    public static let header =
        "kill loop              jobs  kills  in-delivery  in-commit  completed  lost  2nd-outcomes  repeats  taken over  left  wall s"

    public var line: String {
        String(
            format: "%@ %5d  %5d  %11d  %9d  %9d %5d %13d %8d %11d %5d %7.1f%@",
            name.padding(toLength: 21, withPad: " ", startingAt: 0), jobs, kills, killsInDelivery, killsInCommit, tally.completed, tally.lost,
            tally.secondOutcomes, tally.repeats, takenOver, tally.leftInQueues, wallSeconds, error.map { "  \($0)" } ?? ""
        )
    }
}

/// SIGKILLs serve `kills` times during a burst of `jobs` registrations and events, restarting it
/// on the same store each time, with `plan`'s faults on: one serve on a SQLite database, or
/// several replicas on one DynamoDB table (on moto; the fake serves SQS and Step Functions). The
/// kills cycle through three moments: with a SendTask* call held at the fake (inside a delivery;
/// the replica that made it is killed, and the call is then applied or not, alternately, as a
/// real one may or may not have been), a moment after a ReceiveMessage answer carrying messages
/// (the replica that received them, inside the batch's commit window), and a replica at random.
/// Each replica talks to the fake through a listener of its own, so the port a request
/// arrives at names its replica.
public struct KillLoop: Sendable {
    /// Where the replicas keep their state.
    public enum Store: Sendable {
        /// One serve on a SQLite file.
        case sqlite
        /// `replicas` serve processes on a fresh table on `moto` (its DynamoDB requests
        /// serialized: moto does not isolate concurrent transactions), outbox leases of `lease`
        /// seconds, so a killed replica's entries are taken over within seconds. Not much shorter:
        /// on a loaded machine a live replica's writes wait seconds in moto's queue, and at 3 s
        /// its entries were taken over and over (182 takeovers for 200 jobs) and delivered late.
        case dynamoDB(replicas: Int, moto: MotoServer, lease: Int = 10)

        /// The queues' visibility timeout: short on SQLite, so a killed serve's batch comes back
        /// soon; SQS's default 30 s on moto's DynamoDB, whose serialized requests make a batch's
        /// commit take seconds (at 2 s, batches came back while still being committed, every
        /// replica took them up again, and a 200-job loop on a loaded machine did not finish in
        /// two minutes; production queues have 60 s, from infra/).
        var visibilityTimeout: Int {
            switch self {
            case .sqlite: FakeRig.shortVisibilityTimeout
            case .dynamoDB: 30
            }
        }
    }

    public var name: String
    public var jobs: Int
    public var kills: Int
    public var plan: FaultPlan
    public var store: Store
    public var binary: String
    public var eventsDirectory: String
    public var timeout: Double
    public var seed: UInt64

    public init(
        name: String, jobs: Int, kills: Int, plan: FaultPlan = .none, store: Store = .sqlite, binary: String, eventsDirectory: String,
        timeout: Double,
        seed: UInt64 = 7
    ) {
        self.name = name
        self.jobs = jobs
        self.kills = kills
        self.plan = plan
        self.store = store
        self.binary = binary
        self.eventsDirectory = eventsDirectory
        self.timeout = timeout
        self.seed = seed
    }

    /// The armed "kill after a receive" moment: the replicas' pids by listener port, how long
    /// after the answer to kill.
    private struct Trigger {
        var pids: [Int: Int32] = [:]
        var delayMicroseconds = 0
        /// The port of the replica killed, once the trigger fired.
        var firedPort: Int?
        /// Whether the batch was still wholly undeleted when the kill was sent.
        var undeleted = false
        var armed: Bool { !pids.isEmpty && firedPort == nil }
    }

    /// One replica: its listener at the fake, and the process now running there.
    private struct Replica {
        var endpoint: String
        var port: Int
        var serve: ServeProcess
    }

    public func run() async throws -> KillReport {
        let started = Date()
        let rig = try await FakeRig(run: "kill", eventsDirectory: eventsDirectory, visibilityTimeout: store.visibilityTimeout)
        let fake = rig.fake
        var report = KillReport(name: name, jobs: jobs)
        var random = SeededGenerator(seed: seed)
        var replicas: [Replica] = []
        let trigger = Mutex(Trigger())
        do {
            let (count, environment) = try await storeEnvironment()
            func start(_ endpoint: String, in directory: URL? = nil) throws -> Replica {
                let port = Int(endpoint.split(separator: ":").last ?? "") ?? 0
                return Replica(
                    endpoint: endpoint, port: port,
                    serve: try rig.startServe(binary: binary, directory: directory, endpoint: endpoint, environment: environment))
            }
            replicas.append(try start(fake.endpoint))
            for _ in 1..<count { replicas.append(try start(try await fake.addListener())) }
            func restart(_ index: Int) throws {
                replicas[index].serve.kill()
                replicas[index] = try start(replicas[index].endpoint, in: replicas[index].serve.directory)
            }
            func replica(port: Int?) -> Int? { replicas.firstIndex { $0.port == port } }
            fake.observeReceives { handles, port in
                guard !handles.isEmpty else { return }
                let armed: (pid: Int32, delay: Int)? = trigger.withLock { state in
                    guard state.armed, let pid = state.pids[port] else { return nil }
                    state.firedPort = port
                    return (pid, state.delayMicroseconds)
                }
                guard let armed else { return }
                // After the answer is written (this runs just before), while serve parses and commits.
                DispatchQueue.global().asyncAfter(deadline: .now() + .microseconds(armed.delay)) {
                    let undeleted = fake.inFlight(receiptHandles: handles) == handles.count
                    trigger.withLock { $0.undeleted = undeleted }
                    Glibc.kill(armed.pid, SIGKILL)
                }
            }
            try await waitUntil("serve to poll both queues", seconds: 30) { (fake.counters.requests["ReceiveMessage"] ?? 0) >= 2 * count }
            fake.setFaults(plan)
            let load = Task { [rig, jobs] in
                _ = try await rig.loader.send(count: jobs, to: rig.requestsURL, body: rig.catalog.registration)
                _ = try await rig.loader.send(count: jobs, to: rig.eventsURL, body: rig.catalog.event)
            }
            defer { load.cancel() }
            for k in 0..<kills {
                try await Task.sleep(for: .milliseconds(100 + Int(random.next() % 400)))
                var victim = Int(random.next() % UInt64(replicas.count))
                switch k % 3 {
                case 0:
                    // Inside a delivery: the next SendTask* is held unanswered while its replica dies.
                    fake.holdClosingCalls(1)
                    let held = (try? await waitUntil("a SendTask* call", seconds: 5) { fake.heldCalls > 0 }) != nil
                    if held, let caller = replica(port: fake.heldCallPorts.first) { victim = caller }
                    replicas[victim].serve.kill()
                    if held, fake.releaseHeld(applying: k % 2 == 0) > 0 { report.killsInDelivery += 1 }
                    fake.holdClosingCalls(0)
                case 1:
                    // Inside a commit: 0.2–2 ms after messages are handed to a replica, before their delete.
                    let pids = Dictionary(uniqueKeysWithValues: replicas.map { ($0.port, $0.serve.pid) })
                    trigger.withLock { $0 = Trigger(pids: pids, delayMicroseconds: 200 + Int(random.next() % 1800)) }
                    let fired =
                        (try? await waitUntil("a ReceiveMessage with messages", seconds: 5) {
                            guard let port = trigger.withLock({ $0.firedPort }), let index = replica(port: port) else { return false }
                            return !replicas[index].serve.isRunning
                        }) != nil
                    let firedPort = trigger.withLock { state in
                        defer { state = Trigger() }
                        return (state.firedPort, state.undeleted)
                    }
                    if let index = replica(port: firedPort.0) { victim = index }
                    replicas[victim].serve.kill()
                    if fired, firedPort.1 { report.killsInCommit += 1 }
                default:
                    replicas[victim].serve.kill()
                }
                report.kills += 1
                try restart(victim)
            }
            try await load.value
            try await waitUntil("every outcome and empty queues", seconds: timeout) {
                guard replicas.allSatisfy(\.serve.isRunning) else { return true }
                return fake.counters.outcomes >= jobs && rig.leftInQueues == 0
            }
            if let dead = replicas.first(where: { !$0.serve.isRunning }) { report.error = "serve exited (status \(dead.serve.terminationStatus))" }
            try await Task.sleep(for: .milliseconds(500))
        } catch {
            report.error = "\(error)"
        }
        fake.observeReceives(nil)
        report.tally = rig.tally(jobs)
        for replica in replicas {
            let exit = await replica.serve.stop()
            if exit != 0, report.error == nil { report.error = "serve exited \(exit.map(String.init) ?? "only when killed") after SIGTERM" }
        }
        report.wallSeconds = Date().timeIntervalSince(started)
        report.takenOver = replicas.reduce(0) { $0 + $1.serve.logLines(containing: "outbox.taken_over") }
        for replica in replicas {
            if report.passed {
                replica.serve.removeDirectory()
            } else {
                report.error = (report.error ?? "") + " (serve's log: \(replica.serve.logFile.path))"
            }
        }
        try await rig.shutdown()
        return report
    }

    /// How many replicas run, and what points them at their store: nothing for SQLite (each
    /// directory has its database), a fresh table for DynamoDB.
    private func storeEnvironment() async throws -> (replicas: Int, environment: [String: String]) {
        switch store {
        case .sqlite:
            return (1, [:])
        case .dynamoDB(let replicas, let moto, let lease):
            let table = "kill-\(UUID().uuidString.prefix(8).lowercased())"
            try await Infra.createStateTable(named: table, on: try moto.client())
            return (
                max(1, replicas),
                [
                    "SAGEMAKER_CALLBACK_DATABASE": "dynamodb://\(table)",
                    "AWS_ENDPOINT_URL_DYNAMODB": moto.endpoint,
                    "SAGEMAKER_CALLBACK_DYNAMODB_LEASE": "\(lease)",
                ]
            )
        }
    }
}
