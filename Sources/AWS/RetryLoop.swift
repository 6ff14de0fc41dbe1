import HTTP
import Logging

/// How one attempt of an AWS request ended, as the retry loop needs to know it.
enum AttemptOutcome<Value: Sendable>: Sendable {
    /// The service answered with what the caller wanted.
    case success(Value)
    /// The service answered with an error: `error` is what the caller sees if no retry follows.
    case failure(any Error, RetryableFailure, retryAfter: Duration?)
}

extension RetryPolicy {
    /// Runs `attempt` until it succeeds or this policy gives up, sleeping between attempts.
    ///
    /// `attempt` is called afresh each time, so it signs (and fetches credentials) every time. A
    /// transport failure (`HTTPError`) thrown by it is retried when it is a connection-level
    /// failure, and so is a success status whose body is unusable (`AWSResponseError`: cut short
    /// or not JSON, as a proxy or a dying connection may leave it): like a connection dropped
    /// before the answer, the request may or may not have been applied, and the caller's own
    /// idempotence settles a repeat. Any other error it throws ends the loop at once.
    func run<Value: Sendable>(
        service: String,
        operation: String,
        logger: Logger,
        metrics: AWSCallMetrics? = nil,
        _ attempt: () async throws -> AttemptOutcome<Value>
    ) async throws -> Value {
        var number = 0
        while true {
            number += 1
            let failure: RetryableFailure
            let thrown: any Error
            var retryAfter: Duration?
            let started = ContinuousClock.now
            do {
                switch try await attempt() {
                case .success(let value):
                    metrics?.attempt(service: service, operation: operation, outcome: .success, elapsed: ContinuousClock.now - started)
                    return value
                case .failure(let error, let kind, let hint):
                    (thrown, failure, retryAfter) = (error, kind, hint)
                    let status = (error as? AWSError)?.httpStatus
                    metrics?.attempt(service: service, operation: operation, outcome: .init(kind, httpStatus: status), elapsed: ContinuousClock.now - started)
                }
            } catch let error as HTTPError {
                switch error.kind {
                case .connect, .timeout, .send, .receive: failure = .connection
                default: failure = .permanent
                }
                thrown = error
                metrics?.attempt(service: service, operation: operation, outcome: .connectionError, elapsed: ContinuousClock.now - started)
            } catch let error as AWSResponseError {
                failure = .connection
                thrown = error
                metrics?.attempt(service: service, operation: operation, outcome: .connectionError, elapsed: ContinuousClock.now - started)
            }
            switch decide(failure, attempt: number, retryAfter: retryAfter, random: { Double.random(in: 0..<1) }) {
            case .giveUp:
                throw thrown
            case .retry(let wait):
                metrics?.retry(service: service)
                logger.debug(
                    "aws.retry",
                    metadata: [
                        "aws.service": "\(service)", "aws.operation": "\(operation)",
                        "aws.attempt": "\(number)", "aws.error": "\(thrown)",
                        "aws.wait_ms": "\(wait.components.seconds * 1000 + wait.components.attoseconds / 1_000_000_000_000_000)",
                    ]
                )
                try await Task.sleep(for: wait)
            }
        }
    }
}
