import AWS
import BenchSupport
import FakeAWS
import Foundation
import HTTP
import JSON
import Logging
import SigV4

/// `make bench`, third part: the real `serve` binary at line rate against ``FakeAWS``.
///
/// For each workload: a fresh fake, queues and serve process (its own SQLite database); N
/// registrations loaded on the requests queue and consumed; then the N terminal events loaded on
/// the events queue while it is held, and released at once (or paced, for the latency workload);
/// measured until every token has its outcome at the fake. One line per workload.
///
/// Environment: `SAGEMAKER_CALLBACK_BINARY` (default `.build/release/sagemaker-callback`),
/// `BENCH_SCALE` (job counts × this, default 1), `BENCH_WORKLOADS` (`a,b,...`; default all),
/// `BENCH_TIMEOUT` (seconds a phase may take before what is missing counts as lost; default 120),
/// `BENCH_EVENTS_DIR` (the recorded events; default `events`), `SAGEMAKER_CALLBACK_MAX_IN_FLIGHT`
/// (passed to serve when set), `BENCH_LOG_LEVEL` (serve's `LOG_LEVEL`; default `info`),
/// `BENCH_LOG_FORMAT` (serve's `LOG_FORMAT`, passed when set).
@main
struct LoadBench {
    static func main() async {
        do {
            try await run()
        } catch {
            FileHandle.standardError.write(Data("loadbench failed: \(error)\n".utf8))
            exit(1)
        }
    }

    static func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let binary = environment["SAGEMAKER_CALLBACK_BINARY"] ?? ".build/release/sagemaker-callback"
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw BenchError("no serve binary at \(binary) (build it with swift build -c release, or set SAGEMAKER_CALLBACK_BINARY)")
        }
        let scale = environment["BENCH_SCALE"].flatMap(Double.init) ?? 1
        let chosen = Set((environment["BENCH_WORKLOADS"] ?? "a,b,c,d,e,f").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        let timeout = environment["BENCH_TIMEOUT"].flatMap(Double.init) ?? 120
        let eventsDirectory = environment["BENCH_EVENTS_DIR"] ?? "events"
        let started = Date()

        say(
            "load bench: \(binary) against FakeAWS (1 event loop), scale \(scale), max in flight \(environment["SAGEMAKER_CALLBACK_MAX_IN_FLIGHT"] ?? "serve's default")"
        )
        say(Report.header)
        var reports: [Report] = []
        var capacity = environment["BENCH_F_RATE"].flatMap(Double.init).map { $0 * 2 }
        for name in ["a", "b", "c", "d", "e", "f"] where chosen.contains(name) {
            guard let workload = Workload.all(scale: scale, capacity: capacity ?? 2000).first(where: { $0.name == name }) else { continue }
            let report = try await Run(workload: workload, binary: binary, eventsDirectory: eventsDirectory, timeout: timeout).measure()
            say(report.line)
            if name == "a", capacity == nil { capacity = report.callbacksPerSecond }
            reports.append(report)
        }
        say("")
        say("where serve's time goes (event phase): CPU user/sys, and requests per callback")
        for report in reports {
            say(report.breakdown)
            if let pacing = report.pacing { say(pacing) }
        }
        say(String(format: "total %.0f s", Date().timeIntervalSince(started)))
    }
}

/// One workload's run: the fake, the serve process, the phases, the figures.
struct Run {
    let workload: Workload
    let binary: String
    let eventsDirectory: String
    let timeout: Double

    func measure() async throws -> Report {
        let rig = try await FakeRig(
            run: workload.name, eventsDirectory: eventsDirectory,
            stepFunctions: StepFunctionsBehavior(
                latency: .milliseconds(workload.latencyMilliseconds),
                ratePerSecond: workload.quota, burst: workload.quota ?? 0
            ))
        let (fake, loader, catalog) = (rig.fake, rig.loader, rig.catalog)
        let (eventsQueue, requestsQueue, eventsURL, requestsURL) = (rig.eventsQueue, rig.requestsQueue, rig.eventsURL, rig.requestsURL)
        let serve = try await rig.startServeOrShutDown(binary: binary)
        var report = Report(workload: workload)
        do {
            try await until("serve to poll both queues", serve: serve, seconds: 30) { (fake.counters.requests["ReceiveMessage"] ?? 0) >= 2 }
            try await Task.sleep(for: .seconds(1))
            report.idleMB = serve.memory("VmRSS")

            let n = workload.jobs
            let early = Int(Double(n) * workload.earlyFraction)
            let copies = workload.copies
            // Copies of an event are spread through the load, as SageMaker's repeats would be.
            let shuffled = { (jobs: Range<Int>) -> [Int] in
                var generator = SeededGenerator(seed: UInt64(jobs.count))
                return jobs.flatMap { job in Array(repeating: job, count: copies) }.shuffled(using: &generator)
            }

            // Events that arrive before their registrations: stored as early events.
            let earlyItems = shuffled(0..<early)
            if early > 0 {
                _ = try await loader.send(earlyItems, to: eventsURL, body: catalog.event)
                try await until("early events consumed", serve: serve, seconds: timeout) {
                    fake.counts(queue: eventsQueue)?.deleted == earlyItems.count
                }
            }

            // Registrations.
            let registrationCPU = serve.cpu()
            let registrationStart = Date()
            _ = try await loader.send(count: n, to: requestsURL, body: catalog.registration)
            try await until("registrations consumed", serve: serve, seconds: timeout) { fake.counts(queue: requestsQueue)?.deleted == n }
            report.registrationSeconds = Date().timeIntervalSince(registrationStart)
            report.registrationCPU = serve.cpu().total - registrationCPU.total
            let logAfterRegistrations = serve.logLines()

            // Events: one backlog released at once, or paced.
            let lateItems = shuffled(early..<n)
            var lateIDs: [String]
            let before = fake.counters
            let eventCPU: CPUTime
            if let rate = workload.pacedRate {
                eventCPU = serve.cpu()
                report.startMB = serve.memory("VmRSS")
                lateIDs = []
                let begin = ContinuousClock.now
                for (batch, start) in stride(from: 0, to: lateItems.count, by: SQS.batchLimit).enumerated() {
                    try await Task.sleep(until: begin + .seconds(Double(batch * SQS.batchLimit) / rate))
                    let items = Array(lateItems[start..<min(lateItems.count, start + SQS.batchLimit)])
                    lateIDs += try await loader.sendBatch(items.map(catalog.event), to: eventsURL)
                }
            } else {
                fake.setHeld(true, queue: eventsQueue)
                lateIDs = try await loader.send(lateItems, to: eventsURL, body: catalog.event)
                eventCPU = serve.cpu()
                report.startMB = serve.memory("VmRSS")
                fake.setHeld(false, queue: eventsQueue)
            }
            let tokens = (0..<n).map(catalog.token)
            _ = try? await until("every outcome", serve: serve, seconds: timeout) { fake.counters.outcomes >= n }
            let after = fake.counters
            let cpu = serve.cpu()
            report.eventCPU = cpu - eventCPU
            report.endMB = serve.memory("VmRSS")
            report.peakMB = serve.memory("VmHWM")
            // Deletes follow the outcomes' commits: give the last batches a moment.
            _ = try? await until("events deleted", serve: serve, seconds: 5) {
                fake.counts(queue: eventsQueue)?.deleted == earlyItems.count + lateItems.count
            }

            // Latency: from an event's first delivery (any copy) to its token's accepted outcome.
            let outcomeTimes = fake.outcomeTimes(of: tokens)
            let deliveries = fake.firstDeliveries(ofMessageIDs: lateIDs)
            var firstDelivery = [UInt64](repeating: .max, count: n)
            for (item, delivered) in zip(lateItems, deliveries) {
                if let delivered { firstDelivery[item] = min(firstDelivery[item], delivered) }
            }
            var latencies: [Double] = []
            for job in early..<n {
                guard let outcome = outcomeTimes[job], firstDelivery[job] != .max else { continue }
                latencies.append(Double(Int64(outcome) - Int64(firstDelivery[job])) / 1e6)
            }
            let phaseStart = firstDelivery[early..<n].min() ?? 0
            let accepted = outcomeTimes[early..<n].compactMap { $0 }
            let phaseEnd = accepted.max() ?? phaseStart
            if workload.quota != nil { report.outcomesPerSecond = Report.perSecond(accepted, from: phaseStart) }
            report.callbacks = latencies.count
            report.callbacksPerSecond = phaseEnd > phaseStart ? Double(latencies.count) / (Double(phaseEnd - phaseStart) / 1e9) : 0
            report.latencies = latencies.sorted()
            report.lost = outcomeTimes.filter { $0 == nil }.count
            report.duplicates = after.duplicates
            report.throttled = after.throttled - before.throttled
            report.requests = after.requests.merging(before.requests) { $0 - $1 }
            report.exit = await serve.stop()
            report.logLinesPerJob = (registration: Double(logAfterRegistrations) / Double(n), total: Double(serve.logLines()) / Double(n))
            report.leftInQueue = rig.leftInQueues
        } catch {
            _ = await serve.stop()
            FileHandle.standardError.write(Data("workload \(workload.name): \(error); serve's log: \(serve.logFile.path)\n".utf8))
            try await rig.shutdown()
            throw error
        }
        serve.removeDirectory()
        try await rig.shutdown()
        return report
    }
}
