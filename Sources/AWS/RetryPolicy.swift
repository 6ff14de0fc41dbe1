import HTTP

/// A backoff schedule and the retry decision for a failed attempt: pure, so it is tested without
/// a clock. Every loop that waits after a failure waits by one of these: AWS requests, the
/// credential endpoints, the queue consumers, the timer loops and the outbox.
///
/// After failure `attempt` the ceiling is `min(cap, base * 2^attempt)`; the wait is drawn below
/// it as ``jitter`` says (by default anywhere in `0 ..< ceiling`: full jitter). A server's
/// `Retry-After` hint raises the wait to at least the hint, but never above `cap`: the hint is
/// honoured as a floor (the server knows when it will recover) while `cap` stays a hard bound, so
/// a hostile or mistaken header cannot stall a caller for longer than the policy allows.
public struct RetryPolicy: Sendable {
    /// Attempts in all, the first included: after failure number `maxAttempts`, give up.
    public var maxAttempts: Int = 5
    /// The backoff unit: the first retry waits below `base * 2`.
    public var base: Duration = .milliseconds(50)
    /// The longest wait.
    public var cap: Duration = .seconds(20)
    /// Whether throttling is retried here; false for a caller that paces its own calls and must
    /// see every throttled answer.
    public var retriesThrottling = true
    /// How a wait is drawn below the ceiling.
    public var jitter: Jitter = .full

    /// How a wait is drawn below the ceiling, for a random value `r` in `[0, 1)`.
    public enum Jitter: Sendable, Equatable {
        /// `ceiling * r`: spreads retries the most (the AWS SDKs' choice).
        case full
        /// `ceiling / 2 + ceiling / 2 * r`: spreads a burst without ever retrying at once.
        case equal
        /// The ceiling itself: a fixed schedule.
        case none
    }

    /// A policy; the defaults are the AWS SDKs' standard mode, with a higher cap.
    public init(
        maxAttempts: Int = 5, base: Duration = .milliseconds(50), cap: Duration = .seconds(20), retriesThrottling: Bool = true,
        jitter: Jitter = .full
    ) {
        self.maxAttempts = maxAttempts
        self.base = base
        self.cap = cap
        self.retriesThrottling = retriesThrottling
        self.jitter = jitter
    }

    /// What to do after a failure.
    public enum Decision: Sendable, Equatable {
        /// Send the request again (signed afresh) after this wait.
        case retry(after: Duration)
        /// Report the failure.
        case giveUp
    }

    /// Whether and when to retry after `failure`, the `attempt`-th failure of this request (1 for
    /// the first). `retryAfter` is the server's hint, if any. `random` returns a value in
    /// `[0, 1)`; it is injected so tests are exact.
    public func decide(_ failure: RetryableFailure, attempt: Int, retryAfter: Duration? = nil, random: () -> Double) -> Decision {
        guard failure != .permanent, attempt < maxAttempts, retriesThrottling || failure != .throttling else { return .giveUp }
        var wait = Self.nanoseconds(backoff(attempt: max(attempt, 1), random: random()))
        if let retryAfter {
            wait = max(wait, min(Self.nanoseconds(retryAfter), Self.nanoseconds(cap)))
        }
        return .retry(after: .nanoseconds(wait))
    }

    /// The wait after failure `attempt` (1 for the first; 0 waits below `base`), whatever the
    /// failure, for `random` in `[0, 1]`: the schedule alone, for loops that never give up.
    public func backoff(attempt: Int, random: Double) -> Duration {
        let ceiling = Self.ceiling(base: Self.nanoseconds(base), attempt: max(attempt, 0), cap: Self.nanoseconds(cap))
        let fraction = min(max(random, 0), 1)
        let wait =
            switch jitter {
            case .full: Int64((Double(ceiling) * fraction).rounded(.down))
            case .equal: ceiling / 2 + Int64((Double(ceiling - ceiling / 2) * fraction).rounded(.down))
            case .none: ceiling
            }
        return .nanoseconds(wait)
    }

    /// `min(cap, base * 2^attempt)` without overflowing for large attempts.
    private static func ceiling(base: Int64, attempt: Int, cap: Int64) -> Int64 {
        guard base > 0 else { return 0 }
        var ceiling = base
        for _ in 0..<attempt {
            if ceiling >= cap { break }
            ceiling *= 2
        }
        return min(ceiling, cap)
    }

    /// A duration in whole nanoseconds, clamped at zero below and `Int64.max` above.
    private static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0 else { return 0 }
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return .max }
        return scaled + attoseconds / 1_000_000_000
    }
}

/// What failed, reduced to what the retry decision needs.
public enum RetryableFailure: Sendable, Equatable {
    /// The service asked us to slow down (a throttling error code, or HTTP 429).
    case throttling
    /// The service failed (HTTP 5xx other than 501).
    case serverError(status: Int)
    /// An error code the SDKs treat as transient, whatever the status.
    case transient(code: String)
    /// The request did not complete: connect, timeout, send or receive failure, or an answer cut
    /// short.
    case connection
    /// Anything else: retrying would give the same answer.
    case permanent

    /// The codes the AWS SDKs treat as throttling.
    static let throttlingCodes: Set<String> = [
        "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
        "TooManyRequestsException", "ProvisionedThroughputExceededException",
        "TransactionInProgressException", "RequestLimitExceeded", "BandwidthLimitExceeded",
        "LimitExceededException", "RequestThrottled", "SlowDown", "PriorRequestNotComplete",
        "EC2ThrottledException",
    ]

    /// Codes that answer the request's own logic (DynamoDB: a condition did not hold, a
    /// transaction was cancelled or collided with another): sending it again unchanged is not
    /// what the caller wants, it must read again and decide again. Never retried, whatever the status.
    static let callerDecidesCodes: Set<String> = [
        "ConditionalCheckFailedException", "TransactionCanceledException", "TransactionConflictException",
    ]

    /// Codes that mean the service had a passing problem, even when sent with a 4xx status.
    static let transientCodes: Set<String> = [
        "RequestTimeout", "RequestTimeoutException", "InternalFailure", "InternalError",
        "InternalServerError", "InternalServerException", "ServiceUnavailable",
        "ServiceUnavailableException", "IDPCommunicationError",
    ]

    /// Classifies an AWS error code and HTTP status the way the SDKs do: codes the caller must
    /// decide on again (a failed DynamoDB condition or transaction) are `permanent`, throttling
    /// codes and 429 `throttling`, transient codes `transient`, other 5xx `serverError`, the rest
    /// `permanent`. The code may carry a `namespace#` prefix (JSON `__type`) or a `:…` suffix
    /// (the `x-amzn-ErrorType` header); both are stripped.
    public static func classify(code: String?, httpStatus: Int) -> RetryableFailure {
        let name = code.map(AWSError.normalizedCode)
        if let name, callerDecidesCodes.contains(name) { return .permanent }
        if let name, throttlingCodes.contains(name) { return .throttling }
        if httpStatus == 429 { return .throttling }
        if let name, transientCodes.contains(name) { return .transient(code: name) }
        // 501 Not Implemented will not change on a retry.
        if (500...599).contains(httpStatus), httpStatus != 501 { return .serverError(status: httpStatus) }
        return .permanent
    }

    /// Classifies whatever an AWS call or a credentials endpoint threw: a service's answer by its
    /// code and status; a transport failure (``AWSTransportError``, or a bare `HTTPError`) and an
    /// unusable success body as `connection` when the request may simply not have got through
    /// (connect, timeout, send, receive), `permanent` when it never could (TLS refused, a bad
    /// request, the transport shut down); anything else, cancellation included, `permanent`.
    public static func classify(_ error: any Error) -> RetryableFailure {
        switch error {
        case let error as AWSError: classify(code: error.code, httpStatus: error.httpStatus)
        case let error as AWSTransportError: classify(error.underlying)
        case let error as HTTPError:
            switch error.kind {
            case .connect, .timeout, .send, .receive: .connection
            case .tls, .invalidRequest, .shutdown, .other: .permanent
            }
        case is AWSResponseError: .connection
        default: .permanent
        }
    }
}
