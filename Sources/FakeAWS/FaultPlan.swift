/// A way the fake can fail one request, as AWS and the network between do in production.
public enum FaultMode: String, Sendable, CaseIterable {
    /// HTTP 500 `InternalFailure` in the JSON error shape; the request is not applied.
    case internalFailure = "500"
    /// HTTP 503 `ServiceUnavailable` in the JSON error shape; the request is not applied.
    case serviceUnavailable = "503"
    /// HTTP 400 `ThrottlingException`; the request is not applied.
    case throttling = "throttle"
    /// The connection is closed once the request is read, without an answer; not applied.
    case dropBeforeApplying = "drop-unapplied"
    /// The request is applied, then the connection is closed without an answer.
    case dropAfterApplying = "drop-applied"
    /// The request is applied and its answer held for ``FaultPlan/stall`` (a ReceiveMessage's
    /// for ``FaultPlan/receiveStall``; longer than the client's timeout), then the connection is
    /// closed without it.
    case stall = "stall"
    /// The request is applied and answered 200 with its body cut in half.
    case truncatedBody = "truncated"
    /// The request is applied and answered 200 with a body that is not JSON.
    case nonJSONBody = "non-json"
    /// SQS only: a delivered message's visibility lapses at once, so it is delivered again while
    /// the first receiver still works on it (per message delivered, not per request).
    case earlyRedelivery = "redeliver"

    /// Whether the fake applies the request before it fails it (the client cannot tell).
    var applies: Bool {
        switch self {
        case .internalFailure, .serviceUnavailable, .throttling, .dropBeforeApplying: false
        case .dropAfterApplying, .stall, .truncatedBody, .nonJSONBody, .earlyRedelivery: true
        }
    }
}

/// Which faults one service's requests meet, each with the fraction of requests it takes.
public struct ServiceFaults: Sendable, Equatable {
    /// The fraction of requests (0...1) each mode takes; their sum is at most 1.
    public var rates: [FaultMode: Double]
    /// Operations never faulted: what the bench and tests call to set a run up (sending the
    /// load), not what `serve` calls.
    public var exempt: Set<String>
    /// Operations a stall draw leaves alone (the request is served as if no fault was drawn).
    public var neverStalled: Set<String>
    /// The most requests a mode fails in a run; past it, its draws are served as if no fault was
    /// drawn (a mode without a limit has none).
    public var limits: [FaultMode: Int]

    public init(
        _ rates: [FaultMode: Double] = [:], exempt: Set<String> = ServiceFaults.fixtureOperations, neverStalled: Set<String> = [],
        limits: [FaultMode: Int] = [:]
    ) {
        self.rates = rates
        self.exempt = exempt
        self.neverStalled = neverStalled
        self.limits = limits
    }

    /// Every SQS operation serve calls but ReceiveMessage, and the fixture's: exempt them to
    /// fault receives alone.
    public static let allButReceive: Set<String> = fixtureOperations.union(["DeleteMessage", "DeleteMessageBatch", "ChangeMessageVisibility"])

    /// The SQS calls the bench makes to set a run up.
    public static let fixtureOperations: Set<String> = ["CreateQueue", "GetQueueUrl", "SendMessage", "SendMessageBatch", "GetQueueAttributes"]

    /// Every mode in `modes` at `rate` (the redelivery mode is left out for Step Functions by the caller).
    public static func all(_ modes: [FaultMode], at rate: Double) -> ServiceFaults {
        ServiceFaults(Dictionary(uniqueKeysWithValues: modes.map { ($0, rate) }))
    }
}

/// The faults of a run, per service, drawn from a seeded generator so a scenario is the same
/// sequence of draws every time (which request meets a fault also depends on the order
/// requests arrive in, which the client's timing decides).
public struct FaultPlan: Sendable, Equatable {
    public var sqs: ServiceFaults
    public var stepFunctions: ServiceFaults
    /// How long a stalled answer is held before its connection is closed.
    public var stall: Duration
    /// How long a stalled ReceiveMessage answer is held, from when its long poll is answered:
    /// longer than a receive's own timeout (serve's is the long poll plus 15 s, 35 s in all).
    public var receiveStall: Duration
    public var seed: UInt64

    public init(
        sqs: ServiceFaults = .init(), stepFunctions: ServiceFaults = .init(), stall: Duration = .seconds(11), receiveStall: Duration = .seconds(36),
        seed: UInt64 = 1
    ) {
        self.sqs = sqs
        self.stepFunctions = stepFunctions
        self.stall = stall
        self.receiveStall = receiveStall
        self.seed = seed
    }

    /// How long `operation`'s stalled answer is held.
    func stall(of operation: String) -> Duration { operation == "ReceiveMessage" ? receiveStall : stall }

    /// No faults at all.
    public static let none = FaultPlan()
}

/// What the fake has done under its fault plan, read by the bench and the tests.
public struct FaultCounts: Sendable, Equatable {
    /// Requests failed, by service (`AmazonSQS`, `AWSStepFunctions`) and mode.
    public var injected: [String: [FaultMode: Int]] = [:]
    /// Messages whose visibility lapsed at once (``FaultMode/earlyRedelivery``).
    public var redelivered = 0

    public init() {}

    /// Faults injected of `mode`, over both services.
    public func count(_ mode: FaultMode) -> Int {
        injected.values.reduce(0) { $0 + ($1[mode] ?? 0) }
    }

    /// Faults injected in all, redeliveries included.
    public var total: Int { injected.values.reduce(0) { $0 + $1.values.reduce(0, +) } + redelivered }
}

/// The plan with its generator, inside the fake's state.
struct FaultDraws {
    var plan = FaultPlan.none
    var random = SeededGenerator(seed: 1)
    var counts = FaultCounts()

    mutating func reset(_ plan: FaultPlan) {
        self.plan = plan
        random = SeededGenerator(seed: plan.seed)
        counts = FaultCounts()
    }

    /// The fault `operation` of `service` meets, if any (one draw per request not exempt).
    mutating func draw(service: String, operation: String) -> FaultMode? {
        let faults = service == "AmazonSQS" ? plan.sqs : plan.stepFunctions
        guard !faults.rates.isEmpty, !faults.exempt.contains(operation) else { return nil }
        let roll = random.nextUnit()
        var bound = 0.0
        // A fixed order, so a seed means the same thing from run to run.
        for mode in FaultMode.allCases where mode != .earlyRedelivery {
            bound += faults.rates[mode] ?? 0
            if roll < bound {
                if mode == .stall, faults.neverStalled.contains(operation) { return nil }
                if let limit = faults.limits[mode], counts.injected[service]?[mode] ?? 0 >= limit { return nil }
                counts.injected[service, default: [:]][mode, default: 0] += 1
                return mode
            }
        }
        return nil
    }

    /// Whether one delivered SQS message's visibility lapses at once.
    mutating func redeliversEarly() -> Bool {
        guard let rate = plan.sqs.rates[.earlyRedelivery], rate > 0, random.nextUnit() < rate else { return false }
        counts.redelivered += 1
        return true
    }
}

/// SplitMix64: a small deterministic generator, the same sequence for the same seed on every
/// platform, so a fault scenario's draws and a bench workload's order repeat from run to run.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A value in [0, 1).
    public mutating func nextUnit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
