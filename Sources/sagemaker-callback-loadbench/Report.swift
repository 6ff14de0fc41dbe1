import BenchSupport
import Foundation

/// One workload's figures, printed as one line of the table and one line of the breakdown.
struct Report {
    let workload: Workload
    var callbacks = 0
    var callbacksPerSecond = 0.0
    /// Milliseconds from an event's first delivery to its token's accepted outcome, sorted.
    var latencies: [Double] = []
    var registrationSeconds = 0.0
    var registrationCPU = 0.0
    var eventCPU = CPUTime()
    var idleMB = 0.0, startMB = 0.0, endMB = 0.0, peakMB = 0.0
    var logLinesPerJob = (registration: 0.0, total: 0.0)
    var lost = 0, duplicates = 0, leftInQueue = 0, throttled = 0
    var requests: [String: Int] = [:]
    /// Outcomes accepted in each whole second of the event phase (quota workloads only).
    var outcomesPerSecond: [Int] = []
    /// serve's exit status after SIGTERM; nil if it had to be killed.
    var exit: Int32? = nil

    func percentile(_ p: Double) -> Double {
        guard !latencies.isEmpty else { return .nan }
        return latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))]
    }

    static let header =
        "wl  workload              jobs    cb/s   p50ms   p99ms   maxms  µs/cb  µs/reg  reg/s  idleMB startMB  endMB peakMB  log/job  lost  dup  left  notes"

    var line: String {
        var notes: [String] = []
        if let quota = workload.quota {
            notes.append(String(format: "%.0f%% of quota, %d throttled", callbacksPerSecond / quota * 100, throttled))
        } else if throttled > 0 {
            notes.append("\(throttled) throttled")
        }
        if exit != 0 { notes.append(exit.map { "serve exited \($0)" } ?? "serve killed after SIGTERM") }
        let jobs = Double(workload.jobs)
        return String(
            format: "%@   %@ %6d %7.0f %7.1f %7.1f %7.1f %6.0f %7.0f %6.0f %7.1f %7.1f %6.1f %6.1f  %3.1f/%3.1f %5d %4d %5d  %@",
            workload.name, workload.summary.padding(toLength: 20, withPad: " ", startingAt: 0), workload.jobs,
            callbacksPerSecond, percentile(0.5), percentile(0.99), latencies.last ?? .nan,
            callbacks > 0 ? eventCPU.total / Double(callbacks) : .nan, registrationCPU / jobs,
            registrationSeconds > 0 ? jobs / registrationSeconds : 0,
            idleMB, startMB, endMB, peakMB, logLinesPerJob.registration, logLinesPerJob.total - logLinesPerJob.registration,
            lost, duplicates, leftInQueue, notes.joined(separator: "; ")
        )
    }

    var breakdown: String {
        let perCallback = { (operation: String) in String(format: "%.2f", Double(requests[operation] ?? 0) / Double(max(callbacks, 1))) }
        let total = max(eventCPU.total, 1)
        return String(
            format:
                "%@: user %.0f%% sys %.0f%% (%.2f s CPU over %d callbacks); per callback: ReceiveMessage %@, DeleteMessageBatch %@, DeleteMessage %@, SendTask* %@",
            workload.name, eventCPU.user / total * 100, eventCPU.system / total * 100, eventCPU.total / 1e6, callbacks,
            perCallback("ReceiveMessage"), perCallback("DeleteMessageBatch"), perCallback("DeleteMessage"),
            String(format: "%.2f", Double((requests["SendTaskSuccess"] ?? 0) + (requests["SendTaskFailure"] ?? 0)) / Double(max(callbacks, 1)))
        )
    }

    /// How many of `times` (monotonic nanoseconds) fall in each whole second after `start`.
    static func perSecond(_ times: [UInt64], from start: UInt64) -> [Int] {
        var counts: [Int] = []
        for time in times where time >= start {
            let second = Int((time - start) / 1_000_000_000)
            if second >= counts.count { counts += Array(repeating: 0, count: second + 1 - counts.count) }
            counts[second] += 1
        }
        return counts
    }

    /// For a quota workload: the outcomes accepted in each second, and how the steady seconds
    /// (all but the first, which the full bucket's burst inflates, and the last, partial one)
    /// compare with the quota: whether pacing converges on it or hovers below.
    var pacing: String? {
        guard let quota = workload.quota, outcomesPerSecond.count > 2 else { return nil }
        let steady = outcomesPerSecond.dropFirst().dropLast().sorted()
        let share = { (count: Int) in String(format: "%.0f%%", Double(count) / quota * 100) }
        return "\(workload.name): outcomes per second: "
            + outcomesPerSecond.map(String.init).joined(separator: " ")
            + "; seconds 2 to \(outcomesPerSecond.count - 1) against the quota: min \(share(steady.first!)), "
            + "median \(share(steady[steady.count / 2])), max \(share(steady.last!))"
    }
}
