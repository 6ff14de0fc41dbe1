import AWS
import CallbackStore
import DynamoStore
import Foundation
import JSON
import Logging
import Moto
import Relay
import Store

/// `make bench`, second part: what the DynamoDB backend costs per job, against the SQLite one.
///
/// N jobs (`BENCH_JOBS`, default 200) go through the real store path in process: each job's
/// registration (`{"TaskToken", "ProcessingJobName"}`, half with an `ExecutionArn`) and its
/// terminal Completed event (from `events/processing-completed-epoch-millis.json`, delivered twice)
/// through ``MessageIntake``, in batches of 10 as SQS hands them over; a quarter of the jobs
/// register only after their event (early events). Then the outbox is drained as
/// ``OutboxDispatcher`` does, with `claimDueOutbox` and one unit per delivery decided by the
/// engine, the Step Functions call itself taken as succeeded: it costs no DynamoDB units, and
/// moto's task tokens exist only inside running executions. No heartbeats.
///
/// Units are computed by DynamoDB's documented rules (``DynamoCapacityRules``) from what is sent
/// and received; moto's own figures are printed beside them, labelled (it reports bare
/// `CapacityUnits`, and nothing for transactions).
@main
struct Bench {
    /// us-east-1 on-demand prices, USD per million request units (after the November 2024 cut).
    static let writePrice = 0.625
    static let readPrice = 0.125
    static let batch = 10

    static func main() async {
        do {
            try await run()
        } catch {
            FileHandle.standardError.write(Data("bench failed: \(error)\n".utf8))
            exit(1)
        }
    }

    enum Step: String, CaseIterable { case registration, event, delivery }

    struct Job {
        var name: String
        var token: String
        var executionArn: String?
        var late: Bool
    }

    static func jobs(_ count: Int) -> [Job] {
        (0..<count).map { i in
            // Real task tokens are long opaque strings (hundreds of characters); 680 here.
            var generator = SystemRandomNumberGenerator()
            let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
            let token = String((0..<680).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] })
            return Job(
                name: "bench-features-\(i)", token: token,
                executionArn: i % 2 == 0 ? "arn:aws:states:us-east-1:123456789012:execution:bench-pipeline:run-\(i)" : nil,
                late: i % 4 == 3
            )
        }
    }

    static func registration(_ job: Job) -> IncomingMessage {
        var body: JSONObject = ["TaskToken": .string(job.token), "ProcessingJobName": .string(job.name)]
        if let arn = job.executionArn { body["ExecutionArn"] = .string(arn) }
        return IncomingMessage(messageID: UUID().uuidString, body: JSONValue.object(body).serialized())
    }

    /// What one run through a backend measured, per step.
    struct Run {
        var steps: [Step: DynamoCapacityMeter.Snapshot] = [:]
        var commits: [Step: Int] = [:]
        var delivered = 0
    }

    static func run() async throws {
        let count = Int(ProcessInfo.processInfo.environment["BENCH_JOBS"] ?? "") ?? 200
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let template = try String(contentsOf: root.appendingPathComponent("events/processing-completed-epoch-millis.json"), encoding: .utf8)
        let templateName = "churn-features-2024-05-19-09-02-11-604"
        let jobs = jobs(count)
        let events = jobs.map { IncomingMessage(messageID: UUID().uuidString, body: template.replacingOccurrences(of: templateName, with: $0.name)) }
        var logger = Logger(label: "bench")
        logger.logLevel = .error

        let moto = try await MotoServer.start(serializeRequests: true)
        defer { moto.stop() }
        let client = try moto.client(logger: logger)
        let table = "bench-state-\(getpid())"
        try await Infra.createStateTable(named: table, on: client)
        let meter = DynamoCapacityMeter()
        let dynamo = try await DynamoStore.open(table: table, client: client, meter: meter, logger: logger)
        let started = Date()
        let dynamoRun = try await drive(dynamo, jobs: jobs, events: events, meter: meter)
        let dynamoSeconds = Date().timeIntervalSince(started)
        dynamo.close()

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sagemaker-callback-bench-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let sqlite = try Store.open(path: directory.appendingPathComponent("bench.sqlite").path)
        let sqliteRun = try await drive(sqlite, jobs: jobs, events: events, meter: nil)
        sqlite.close()

        report(dynamo: dynamoRun, sqlite: sqliteRun, jobs: count, seconds: dynamoSeconds)
    }

    /// The jobs through `store`: registrations first (all but the late quarter), every event
    /// twice, the late registrations, then the deliveries.
    static func drive(_ store: any CallbackStore, jobs: [Job], events: [IncomingMessage], meter: DynamoCapacityMeter?) async throws -> Run {
        let intake = MessageIntake(store: store)
        var run = Run()
        func measure(_ step: Step, _ body: () async throws -> Int) async throws {
            let before = meter?.snapshot() ?? .init()
            let commits = try await body()
            run.steps[step, default: .init()] = (run.steps[step] ?? .init()) + ((meter?.snapshot() ?? .init()) - before)
            run.commits[step, default: 0] += commits
        }
        func feed(_ messages: [IncomingMessage], role: MessageRole) async throws -> Int {
            var commits = 0
            for start in stride(from: 0, to: messages.count, by: batch) {
                _ = try await intake.process(Array(messages[start..<min(start + batch, messages.count)]), role: role, source: "bench")
                commits += 1
            }
            return commits
        }
        try await measure(.registration) { try await feed(jobs.filter { !$0.late }.map(registration), role: .requests) }
        // Each event twice, the second copy a while later (another batch), as SageMaker may send it.
        try await measure(.event) { try await feed(events, role: .events) + feed(events, role: .events) }
        try await measure(.registration) { try await feed(jobs.filter(\.late).map(registration), role: .requests) }
        try await measure(.delivery) {
            var commits = 0
            while true {
                let now = WallClock.millisecondsNow()
                let due = try await store.claimDueOutbox(now: now, limit: 100)
                if due.isEmpty { return commits }
                for start in stride(from: 0, to: due.count, by: batch) {
                    let correlator = Correlator(now: WallClock.millisecondsNow())
                    let units = due[start..<min(start + batch, due.count)].map { entry in
                        StoreUnit<Decision>(reads: [.token(hash: entry.tokenHash)]) { _ in
                            let decision = correlator.decide(entry, result: .delivered, jitter: 0.5)
                            return (decision, decision.effects)
                        }
                    }
                    let decisions = try await store.commit(units)
                    commits += 1
                    run.delivered += decisions.filter { if case .delivered = $0.verdict { true } else { false } }.count
                }
            }
        }
        guard run.delivered == jobs.count else {
            throw StoreError(.corruptRow, "\(run.delivered) outcomes delivered for \(jobs.count) jobs")
        }
        return run
    }

    static func report(dynamo: Run, sqlite: Run, jobs: Int, seconds: Double) {
        let n = Double(jobs)
        let total = dynamo.steps.values.reduce(DynamoCapacityMeter.Snapshot()) { $0 + $1 }
        func f(_ value: Double) -> String { String(format: "%.2f", value) }
        func cost(write: Double, read: Double) -> Double { (write * writePrice + read * readPrice) / 1_000_000 * 10_000 }
        print(
            "dynamodb cost: \(jobs) jobs (registration, Completed event delivered twice, outcome delivered; half with ExecutionArn, a quarter registered after their event; no heartbeats) on moto in \(String(format: "%.1f", seconds)) s"
        )
        print("  round trips per job: \(f(Double(total.calls) / n))")
        print(
            "  WRU per job: \(f(total.computedWriteUnits / n)) computed by AWS's rules (moto reported: \(f(total.writeUnits / n)), nothing for TransactWriteItems)  goal <= 40"
        )
        print("  RRU per job: \(f(total.computedReadUnits / n)) computed by AWS's rules (moto reported: \(f(total.readUnits / n)))  goal <= 10")
        print(
            "  cost per 10,000 jobs: $\(String(format: "%.4f", cost(write: total.computedWriteUnits / n, read: total.computedReadUnits / n))) on-demand us-east-1 ($\(writePrice)/M WRU, $\(readPrice)/M RRU)"
        )
        for step in Step.allCases {
            let usage = dynamo.steps[step] ?? .init()
            print(
                "  \(step.rawValue): \(f(Double(usage.calls) / n)) round trips, \(f(usage.computedWriteUnits / n)) WRU, \(f(usage.computedReadUnits / n)) RRU per job"
            )
        }
        print("  where the units go, per job (writes and reads of each kind of item, average size):")
        let names = [
            "T": "token items T#", "J": "job items J#", "X": "execution items X#", "O": "outbox items O#", "R": "rejected R#", "L": "leases L#",
        ]
        for (kind, usage) in total.byKind.sorted(by: { ($0.value.writeUnits + $0.value.readUnits) > ($1.value.writeUnits + $1.value.readUnits) }) {
            let written = usage.writes > 0 ? usage.writeBytes / usage.writes : 0
            let read = usage.reads > 0 ? usage.readBytes / usage.reads : 0
            print(
                "    \(names[kind] ?? kind): \(f(usage.writeUnits / n)) WRU for \(f(Double(usage.writes) / n)) writes of ~\(written) B; \(f(usage.readUnits / n)) RRU for \(f(Double(usage.reads) / n)) reads of ~\(read) B"
            )
        }
        if total.writesWithoutPrevious > 0 || total.countPages > 0 {
            print("  estimated: \(total.writesWithoutPrevious) writes without the item before them, \(total.countPages) COUNT/filtered pages")
        }
        let commits = sqlite.commits.values.reduce(0, +)
        print(
            "sqlite for comparison: \(f(Double(commits) / n)) commits per job (one WAL fsync each, synchronous=FULL; batches of \(batch) messages); cost n/a: local disk"
        )
        for step in Step.allCases {
            print("  \(step.rawValue): \(f(Double(sqlite.commits[step] ?? 0) / n)) commits per job")
        }
    }
}
