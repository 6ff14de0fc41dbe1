/// How the fake's Step Functions answers: its latency, its throttle, which tokens it knows.
public struct StepFunctionsBehavior: Sendable {
    /// How long each SendTask* call takes to be answered (scheduled on the event loop).
    public var latency: Duration
    /// The token bucket's refill rate in calls per second; nil for no quota.
    public var ratePerSecond: Double?
    /// The token bucket's size (the burst allowed after a quiet spell).
    public var burst: Double
    /// Whether a token the bench never announced is accepted (and tracked from its first call);
    /// otherwise it answers `TaskDoesNotExist`.
    public var acceptsAnyToken: Bool

    /// No latency, no quota, any token: the fastest Step Functions there is.
    public init(latency: Duration = .zero, ratePerSecond: Double? = nil, burst: Double = 0, acceptsAnyToken: Bool = true) {
        self.latency = latency
        self.ratePerSecond = ratePerSecond
        self.burst = burst
        self.acceptsAnyToken = acceptsAnyToken
    }
}

/// The per-account token bucket SendTask* calls share.
struct TokenBucket {
    var rate: Double
    var capacity: Double
    var tokens: Double
    var refilledAt: UInt64

    init(rate: Double, burst: Double, now: UInt64) {
        self.rate = rate
        self.capacity = max(burst, 1)
        self.tokens = capacity
        self.refilledAt = now
    }

    /// Takes one token if there is one.
    mutating func take(now: UInt64) -> Bool {
        if now > refilledAt {
            tokens = min(capacity, tokens + Double(now - refilledAt) * rate / 1e9)
            refilledAt = now
        }
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }
}
