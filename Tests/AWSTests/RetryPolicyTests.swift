import Testing
import AWS

@Suite struct RetryPolicyTests {
    static let almostOne = 0.999_999_999_999

    @Test(
        arguments: [
            ("ThrottlingException", 400, RetryableFailure.throttling),
            ("com.amazonaws.swf.service.model#ThrottlingException", 400, .throttling),
            ("Throttling", 400, .throttling),
            ("TooManyRequestsException", 400, .throttling),
            ("RequestLimitExceeded", 400, .throttling),
            ("ProvisionedThroughputExceededException", 400, .throttling),
            ("RequestThrottled", 403, .throttling),
            ("SlowDown", 503, .throttling),
            ("ThrottlingException:http://internal.amazon.com/coral/com.amazon.coral.availability/", 400, .throttling),
            (nil, 429, .throttling),
            ("SomethingNew", 429, .throttling),
            (nil, 500, .serverError(status: 500)),
            (nil, 502, .serverError(status: 502)),
            (nil, 503, .serverError(status: 503)),
            ("SomethingNew", 504, .serverError(status: 504)),
            (nil, 501, .permanent),
            ("RequestTimeout", 400, .transient(code: "RequestTimeout")),
            ("com.amazonaws.sqs#InternalFailure", 500, .transient(code: "InternalFailure")),
            ("ServiceUnavailable", 503, .transient(code: "ServiceUnavailable")),
            ("IDPCommunicationError", 400, .transient(code: "IDPCommunicationError")),
            ("TaskTimedOut", 400, .permanent),
            ("InvalidToken", 400, .permanent),
            ("com.amazonaws.sqs#QueueDoesNotExist", 400, .permanent),
            ("AccessDeniedException", 403, .permanent),
            (nil, 404, .permanent),
            ("throttlingexception", 400, .permanent),
            ("com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException", 400, .throttling),
            ("com.amazonaws.dynamodb.v20120810#ThrottlingException", 400, .throttling),
            ("com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException", 400, .permanent),
            ("com.amazonaws.dynamodb.v20120810#TransactionCanceledException", 400, .permanent),
            ("com.amazonaws.dynamodb.v20120810#TransactionConflictException", 400, .permanent),
            // Even should a service send them with a 5xx status: the caller decides again.
            ("TransactionConflictException", 500, .permanent),
            ("TransactionCanceledException", 503, .permanent),
        ] as [(String?, Int, RetryableFailure)])
    func classification(code: String?, status: Int, expected: RetryableFailure) {
        #expect(RetryableFailure.classify(code: code, httpStatus: status) == expected)
    }

    @Test func ceilingDoublesFromBaseUntilTheCap() {
        let policy = RetryPolicy(maxAttempts: 100, base: .milliseconds(50), cap: .seconds(20))
        let waits = (1...12).map { policy.decide(.throttling, attempt: $0, random: { Self.almostOne }) }
        // base * 2^attempt, just below: 100 ms, 200 ms … 12.8 s, then the 20 s cap.
        let ceilings: [Duration] = (1...12).map { min(.milliseconds(50) * (1 << $0), .seconds(20)) }
        for (wait, ceiling) in zip(waits, ceilings) {
            guard case .retry(let after) = wait else {
                Issue.record("gave up")
                continue
            }
            #expect(after < ceiling)
            #expect(after >= ceiling - .microseconds(1))
        }
        #expect(ceilings.suffix(4) == Array(repeating: .seconds(20), count: 4))
    }

    @Test func hugeAttemptNumbersDoNotOverflow() {
        let policy = RetryPolicy(maxAttempts: .max)
        #expect(policy.decide(.connection, attempt: 10_000, random: { 0.5 }) == .retry(after: .seconds(10)))
    }

    @Test(arguments: [
        (0.0, Duration.zero),
        (0.5, .milliseconds(200)),
        (0.25, .milliseconds(100)),
    ])
    func fullJitterScalesTheWholeCeiling(random: Double, expected: Duration) {
        // Third failure: ceiling 50 ms * 2^3 = 400 ms.
        #expect(RetryPolicy().decide(.serverError(status: 503), attempt: 3, random: { random }) == .retry(after: expected))
    }

    @Test(arguments: [RetryableFailure.throttling, .serverError(status: 500), .transient(code: "RequestTimeout"), .connection])
    func givesUpAfterMaxAttempts(failure: RetryableFailure) {
        let policy = RetryPolicy(maxAttempts: 3)
        #expect(policy.decide(failure, attempt: 1, random: { 0 }) == .retry(after: .zero))
        #expect(policy.decide(failure, attempt: 2, random: { 0 }) == .retry(after: .zero))
        #expect(policy.decide(failure, attempt: 3, random: { 0 }) == .giveUp)
    }

    @Test func permanentFailuresAreNeverRetried() {
        var randomCalled = false
        #expect(
            RetryPolicy().decide(
                .permanent, attempt: 1, retryAfter: .seconds(1),
                random: {
                    randomCalled = true; return 0
                }) == .giveUp)
        #expect(!randomCalled)
    }

    @Test(arguments: [
        // (random, retryAfter, expected) on the first failure: ceiling 100 ms, cap 20 s.
        (0.5, Duration.seconds(2), Duration.seconds(2)), // the hint raises the wait
        (0.5, .milliseconds(10), .milliseconds(50)), // a smaller hint does not lower it
        (0.5, .seconds(3600), .seconds(20)), // never above the cap
        (0.5, .seconds(-5), .milliseconds(50)), // nonsense is ignored
    ])
    func retryAfterIsAFloorBoundedByTheCap(random: Double, retryAfter: Duration, expected: Duration) {
        #expect(RetryPolicy().decide(.throttling, attempt: 1, retryAfter: retryAfter, random: { random }) == .retry(after: expected))
    }

    @Test func retryAfterDoesNotExtendMaxAttempts() {
        #expect(RetryPolicy(maxAttempts: 2).decide(.throttling, attempt: 2, retryAfter: .seconds(1), random: { 0 }) == .giveUp)
    }

    @Test func defaults() {
        let policy = RetryPolicy()
        #expect(policy.maxAttempts == 5)
        #expect(policy.base == .milliseconds(50))
        #expect(policy.cap == .seconds(20))
    }
}
