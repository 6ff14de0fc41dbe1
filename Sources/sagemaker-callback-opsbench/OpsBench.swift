import AWS
import CallbackStore
import Logging
import Relay

/// `make bench`, last part: what the operator surface adds to one callback, in a release build.
/// The metrics `serve` records for a callback (its share of a received batch of 10 and of its
/// commit, its outcome's delivery, its share of a results commit, and its AWS attempts:
/// SendTaskSuccess plus a tenth of a ReceiveMessage and of a DeleteMessageBatch), and one
/// `callback.delivered` line as text and as JSON, written to standard error (run it with
/// `2>/dev/null`: the write is counted, the terminal is not). Prints nanoseconds per callback.
@main
struct OpsBench {
    static let rounds = 200_000

    static func main() {
        let operations = Operations()
        let metrics = operations.metrics
        let batch = 10
        let entries = (0..<batch).map { i in
            NewOutboxEntry(
                tokenHash: "hash-\(i)", taskToken: "token-\(i)", jobKind: "ProcessingJob", jobName: "job-\(i)", action: .success, payload: "{}",
                notBefore: 0)
        }
        let decisions = entries.map { Decision(.completed(.completed, callbacks: 1), effects: [.enqueue($0)]) }
        let stored = entries.enumerated().map { i, entry in
            OutboxEntry(
                id: Int64(i), tokenHash: entry.tokenHash, taskToken: entry.taskToken, jobKind: entry.jobKind, jobName: entry.jobName,
                action: .success, payload: "{}", errorName: nil, attempts: 0, nextAttemptAt: 0, createdAt: 0, lastError: nil)
        }
        let sentAt = [Int64?](repeating: 1_000, count: batch)
        let clock = ContinuousClock()
        let recording = clock.measure {
            for _ in 0..<(rounds / batch) {
                let started = ContinuousClock.now
                metrics.received(batch, from: .events)
                metrics.aws.attempt(service: "sqs", operation: "ReceiveMessage", outcome: .success, elapsed: ContinuousClock.now - started)
                metrics.committed(decisions, role: .events, sentAt: sentAt, elapsed: ContinuousClock.now - started)
                metrics.aws.attempt(service: "sqs", operation: "DeleteMessageBatch", outcome: .success, elapsed: ContinuousClock.now - started)
                for _ in stored {
                    let call = ContinuousClock.now
                    metrics.aws.attempt(service: "states", operation: "SendTaskSuccess", outcome: .success, elapsed: ContinuousClock.now - call)
                }
                metrics.recorded(elapsed: ContinuousClock.now - started)
                for entry in stored { metrics.delivery(entry, verdict: .delivered(.success), permanent: false, now: 2_000) }
            }
        }
        let metadata: Logger.Metadata = [
            "outbox.action": "success", "token.hash": "0123456789ab", "outcome": "delivered: success",
            "job.name": "training-job-000123", "outbox.age_ms": "12",
        ]
        func lines(_ handler: any LogHandler) -> Duration {
            var handler = handler
            handler.logLevel = .info
            handler[metadataKey: "sqs.queue"] = "events"
            let logger = Logger(label: "sagemaker-callback") { _ in handler }
            return clock.measure {
                for _ in 0..<rounds { logger.info("callback.delivered", metadata: metadata) }
            }
        }
        let text = lines(StreamLogHandler.standardError(label: "sagemaker-callback"))
        let json = lines(JSONLogHandler(label: "sagemaker-callback"))
        func perCallback(_ duration: Duration) -> Int {
            let (seconds, attoseconds) = duration.components
            return Int((seconds * 1_000_000_000 + attoseconds / 1_000_000_000) / Int64(rounds))
        }
        print(
            "ops bench, \(rounds) callbacks: metrics \(perCallback(recording)) ns per callback; log line text \(perCallback(text)) ns, json \(perCallback(json)) ns"
        )
    }
}
