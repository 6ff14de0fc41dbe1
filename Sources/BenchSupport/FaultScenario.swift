public import FakeAWS

/// One run of `make faults`: which faults the fake injects, per service, over how many jobs.
public struct FaultScenario: Sendable {
    public var name: String
    public var plan: FaultPlan
    public var jobs: Int

    public init(name: String, plan: FaultPlan, jobs: Int) {
        self.name = name
        self.plan = plan
        self.jobs = jobs
    }

    /// The modes a request can meet (redelivery is per message, SQS only).
    public static let requestModes: [FaultMode] = FaultMode.allCases.filter { $0 != .earlyRedelivery }

    /// How long a stalled answer is held: longer than serve's timeout for the calls that can stall
    /// (``AWS/StepFunctions/callTimeout`` and SQS deletes, 10 s).
    public static let stall: Duration = .seconds(11)

    /// The stall scenarios leave ReceiveMessage alone: a stalled long poll is found out only when
    /// its timeout (the 20 s wait plus 15 s) runs out, and the one receive loop per queue would
    /// wait that long every time, turning a 5,000-job run into many minutes of waiting for
    /// nothing. ``receiveStalls(_:rate:jobs:seed:)`` stalls receives alone, a few times.
    static let unstalled: Set<String> = ["ReceiveMessage"]

    /// ReceiveMessage alone meets stalls, at `rate`, at most `count` times: each answer (its
    /// messages in flight) is held past serve's receive timeout, then its connection closed.
    /// The consumer must give up on it, receive again, and get the messages back once their
    /// visibility lapses. Each stall holds its queue's intake for the 35 s of the timeout.
    public static func receiveStalls(_ count: Int, rate: Double, jobs: Int, seed: UInt64 = 1) -> FaultScenario {
        let sqs = ServiceFaults([.stall: rate], exempt: ServiceFaults.allButReceive, limits: [.stall: count])
        return FaultScenario(name: "stall receive ×\(count)", plan: FaultPlan(sqs: sqs, stall: stall, seed: seed), jobs: jobs)
    }

    /// `mode` at `rate` on both services (redelivery on SQS only).
    public static func single(_ mode: FaultMode, rate: Double, jobs: Int, seed: UInt64 = 1) -> FaultScenario {
        let faults = ServiceFaults([mode: rate], neverStalled: unstalled)
        return FaultScenario(
            name: "\(mode.rawValue) \(Int(rate * 100))%",
            plan: FaultPlan(sqs: faults, stepFunctions: mode == .earlyRedelivery ? ServiceFaults() : faults, stall: stall, seed: seed),
            jobs: jobs
        )
    }

    /// Every mode at once, each at `rate`, on both services.
    public static func everything(rate: Double, jobs: Int, seed: UInt64 = 1) -> FaultScenario {
        var sqs = ServiceFaults.all(FaultMode.allCases, at: rate)
        sqs.neverStalled = unstalled
        let stepFunctions = ServiceFaults.all(requestModes, at: rate)
        return FaultScenario(
            name: "all \(Int(rate * 100))%", plan: FaultPlan(sqs: sqs, stepFunctions: stepFunctions, stall: stall, seed: seed), jobs: jobs)
    }

    /// `make faults`: no faults (the baseline), a few ReceiveMessage stalls (first: the longest
    /// to wait out), each mode at 5 % and 20 %, all at once at 5 %.
    public static func standard(jobs: Int) -> [FaultScenario] {
        [FaultScenario(name: "none", plan: .none, jobs: jobs), receiveStalls(3, rate: 0.02, jobs: jobs)]
            + FaultMode.allCases.flatMap { mode in [0.05, 0.2].map { single(mode, rate: $0, jobs: jobs) } }
            + [everything(rate: 0.05, jobs: jobs)]
    }
}
