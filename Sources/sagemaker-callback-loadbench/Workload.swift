/// One run of the load bench: how many jobs, how Step Functions behaves, how events arrive.
struct Workload: Sendable {
    var name: String
    var summary: String
    var jobs: Int
    var latencyMilliseconds = 0
    /// The SendTask* quota (calls per second, burst the same), if any.
    var quota: Double?
    /// The share of jobs whose events are sent (and consumed) before their registrations.
    var earlyFraction = 0.0
    /// Copies of each event sent (SageMaker may send several per state change).
    var copies = 1
    /// Events per second when events are paced instead of loaded as one backlog.
    var pacedRate: Double?

    /// The workloads of a default run, job counts scaled by `scale`; (f) is paced at half of
    /// `capacity` events/s for about ten seconds.
    static func all(scale: Double, capacity: Double) -> [Workload] {
        let n = { (count: Int) in max(10, Int((Double(count) * scale).rounded())) }
        let paced = max(capacity / 2, 10)
        return [
            Workload(name: "a", summary: "no latency", jobs: n(20_000)),
            Workload(name: "b", summary: "sfn 50 ms", jobs: n(20_000), latencyMilliseconds: 50),
            Workload(name: "c", summary: "50 ms, 500/s quota", jobs: n(20_000), latencyMilliseconds: 50, quota: 500),
            Workload(name: "d", summary: "no latency, 100k", jobs: n(100_000)),
            Workload(name: "e", summary: "30% early, 3 copies", jobs: n(20_000), earlyFraction: 0.3, copies: 3),
            Workload(name: "f", summary: "paced \(Int(paced))/s", jobs: max(10, Int(paced * 10 * min(scale, 1))), pacedRate: paced),
        ]
    }
}
