import Logging

/// How one attempt of a request ended, as the retry loop needs to know it.
enum AttemptOutcome<Value: Sendable>: Sendable {
    /// The other end answered with what the caller wanted.
    case success(Value)
    /// The other end answered with an error: `error` is what the caller sees if no retry follows.
    case failure(any Error, RetryableFailure, retryAfter: Duration?)
}

extension RetryPolicy {
    /// Waits `duration` (or throws when the task is cancelled): what a loop sleeps with, unless a
    /// test injects another.
    public typealias Sleep = @Sendable (Duration) async throws -> Void

    /// `Task.sleep`.
    public static let taskSleep: Sleep = { try await Task.sleep(for: $0) }

    /// Runs `attempt` until it succeeds or this policy gives up, sleeping between attempts with `sleep`.
    ///
    /// `attempt` is called afresh each time, so it signs (and fetches credentials) every time. A
    /// failure of the transport it throws (``AWSTransportError``, `HTTPError`) is retried as
    /// ``RetryableFailure/classify(_:)`` says, and so is a success status whose body is unusable
    /// (``AWSResponseError``: cut short or not JSON, as a proxy or a dying connection may leave it):
    /// like a connection dropped before the answer, the request may or may not have been applied,
    /// and the caller's own idempotence settles a repeat. Any other error it throws (credentials,
    /// cancellation) ends the loop at once.
    func run<Value: Sendable>(
        service: String,
        operation: String,
        logger: Logger?,
        metrics: AWSCallMetrics? = nil,
        sleep: Sleep = RetryPolicy.taskSleep,
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
                    metrics?.attempt(
                        service: service, operation: operation, outcome: .init(kind, httpStatus: status), elapsed: ContinuousClock.now - started)
                }
            } catch let error where RetryableFailure.isTransport(error) {
                failure = RetryableFailure.classify(error)
                thrown = error
                metrics?.attempt(service: service, operation: operation, outcome: .connectionError, elapsed: ContinuousClock.now - started)
            }
            switch decide(failure, attempt: number, retryAfter: retryAfter, random: { Double.random(in: 0..<1) }) {
            case .giveUp:
                throw thrown
            case .retry(let wait):
                metrics?.retry(service: service)
                logger?.debug(
                    "aws.retry",
                    metadata: [
                        "aws.service": "\(service)", "aws.operation": "\(operation)",
                        "aws.attempt": "\(number)", "aws.error": "\(thrown)",
                        "aws.wait_ms": "\(wait.components.seconds * 1000 + wait.components.attoseconds / 1_000_000_000_000_000)",
                    ]
                )
                try await sleep(wait)
            }
        }
    }
}
