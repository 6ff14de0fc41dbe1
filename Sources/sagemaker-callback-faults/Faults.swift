import BenchSupport
import FakeAWS
import Foundation
import Moto

/// `make faults`: the real `serve` against ``FakeAWS`` with faults injected (one line per
/// scenario), then the kill loops (one line per loop). Exits 1 if any line breaks a guarantee.
///
/// Environment: `SAGEMAKER_CALLBACK_BINARY` (default `.build/release/sagemaker-callback`),
/// `FAULTS_JOBS` (jobs per scenario, default 5000), `FAULTS_SCENARIOS` (names to run, comma
/// separated, each a prefix such as `500` or `all`; default all), `FAULTS_TIMEOUT` (seconds a
/// phase may take, default 120), `FAULTS_KILLS` (kills per kill loop, default 8; 0 skips the
/// loops), `FAULTS_DYNAMO_JOBS` (jobs per DynamoDB kill loop, default 200: moto's DynamoDB, one
/// request at a time, is far slower than the fake and slows as its table grows; its loops may
/// take 300 s, or `FAULTS_TIMEOUT` if longer), `FAULTS_REPLICAS` (replicas on the
/// table, default 3), `FAULTS_PARALLEL` (scenarios run at once, default 3: most of a stalled
/// scenario is waiting out timeouts), `BENCH_EVENTS_DIR` (default `events`), `MOTO_SERVER`
/// (default `.venv/bin/moto_server`).
@main
struct Faults {
    static func main() async {
        do {
            exit(try await run() ? 0 : 1)
        } catch {
            FileHandle.standardError.write(Data("faults failed: \(error)\n".utf8))
            exit(1)
        }
    }

    static func run() async throws -> Bool {
        let environment = ProcessInfo.processInfo.environment
        let binary = environment["SAGEMAKER_CALLBACK_BINARY"] ?? ".build/release/sagemaker-callback"
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw BenchError("no serve binary at \(binary) (build it with swift build -c release, or set SAGEMAKER_CALLBACK_BINARY)")
        }
        let jobs = environment["FAULTS_JOBS"].flatMap(Int.init) ?? 5000
        let timeout = environment["FAULTS_TIMEOUT"].flatMap(Double.init) ?? 120
        let kills = environment["FAULTS_KILLS"].flatMap(Int.init) ?? 8
        let dynamoJobs = environment["FAULTS_DYNAMO_JOBS"].flatMap(Int.init) ?? 200
        let replicas = max(1, environment["FAULTS_REPLICAS"].flatMap(Int.init) ?? 3)
        let eventsDirectory = environment["BENCH_EVENTS_DIR"] ?? "events"
        let parallel = max(1, environment["FAULTS_PARALLEL"].flatMap(Int.init) ?? 3)
        let chosen = environment["FAULTS_SCENARIOS"].map { $0.split(separator: ",").map(String.init) }
        let started = Date()
        var passed = true

        say("fault scenarios: \(binary) against FakeAWS, \(jobs) jobs each, \(parallel) at once; the fault mode on both services (redelivery: SQS)")
        say(FaultReport.header)
        let scenarios = FaultScenario.standard(jobs: jobs).filter { scenario in chosen.map { $0.contains { scenario.name.hasPrefix($0) } } ?? true }
        // Several at once: a stalled scenario mostly waits out timeouts. Lines come in order.
        var reports = [FaultReport?](repeating: nil, count: scenarios.count)
        var printed = 0
        try await withThrowingTaskGroup(of: (Int, FaultReport).self) { group in
            var next = 0
            func start() {
                let (index, scenario) = (next, scenarios[next])
                next += 1
                group.addTask {
                    (index, try await FaultRun(scenario: scenario, binary: binary, eventsDirectory: eventsDirectory, timeout: timeout).measure())
                }
            }
            while next < min(parallel, scenarios.count) { start() }
            while let (index, report) = try await group.next() {
                reports[index] = report
                while printed < reports.count, let ready = reports[printed] {
                    say(ready.line)
                    passed = passed && ready.passed
                    printed += 1
                }
                if next < scenarios.count { start() }
            }
        }
        if kills > 0 {
            let allFaults = FaultScenario.everything(rate: 0.05, jobs: 0).plan
            say("")
            say("kill loops: serve SIGKILLed \(kills) times during a burst, restarted on the same store: one serve on SQLite (\(jobs) jobs),")
            say(
                "\(replicas) replicas on one DynamoDB table on moto (\(dynamoJobs) jobs; a killed replica's outbox entries are taken over after a 10 s lease)"
            )
            say(KillReport.header)
            var loops = [
                KillLoop(name: "sqlite", jobs: jobs, kills: kills, binary: binary, eventsDirectory: eventsDirectory, timeout: timeout),
                KillLoop(
                    name: "sqlite, all 5%", jobs: jobs, kills: kills, plan: allFaults, binary: binary, eventsDirectory: eventsDirectory,
                    timeout: timeout),
            ]
            let moto = dynamoJobs > 0 ? try await MotoServer.start(serializeRequests: true) : nil
            defer { moto?.stop() }
            if let moto {
                let store = KillLoop.Store.dynamoDB(replicas: replicas, moto: moto)
                let slower = max(timeout, 300)
                loops += [
                    KillLoop(
                        name: "dynamodb ×\(replicas)", jobs: dynamoJobs, kills: kills, store: store, binary: binary, eventsDirectory: eventsDirectory,
                        timeout: slower),
                    KillLoop(
                        name: "dynamodb ×\(replicas), all 5%", jobs: dynamoJobs, kills: kills, plan: allFaults, store: store,
                        binary: binary, eventsDirectory: eventsDirectory, timeout: slower),
                ]
            }
            for loop in loops {
                let report = try await loop.run()
                say(report.line)
                passed = passed && report.passed
            }
        }
        say(String(format: "total %.0f s", Date().timeIntervalSince(started)))
        return passed
    }
}
