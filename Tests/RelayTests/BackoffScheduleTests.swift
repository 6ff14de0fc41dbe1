import AWS
import Testing
@testable import Relay

/// Each loop's backoff is a `RetryPolicy` value now; these pin the numbers the loops had when each
/// wrote its own formula.
@Suite("Backoff schedules")
struct BackoffScheduleTests {
    @Test("a consumer waits 1 s doubling to 30 s after failed receives, the upper half jittered", arguments: 1...9)
    func receive(failures: Int) {
        let ceiling = min(30_000, 1_000 << min(failures - 1, 5))
        let policy = QueueConsumer.receiveBackoff
        #expect(policy.backoff(attempt: failures, random: 0) == .milliseconds(ceiling / 2))
        #expect(policy.backoff(attempt: failures, random: 0.5) == .milliseconds(ceiling / 2 + ceiling / 4))
        #expect(policy.backoff(attempt: failures, random: 1) == .milliseconds(ceiling))
    }

    @Test("a timer loop pauses 1 s doubling to 30 s after store failures, without jitter", arguments: 1...9)
    func store(failures: Int) {
        let expected = Duration.milliseconds(min(30_000, 500 << min(failures, 6)))
        #expect(TimerLoop.storeBackoff.backoff(attempt: failures, random: 0) == expected)
        #expect(TimerLoop.storeBackoff.backoff(attempt: failures, random: 0.9) == expected)
    }

    @Test("the outbox retries transient failures from 1 s to 5 min, permanent ones from 30 s to 10 min", arguments: [0, 1, 2, 5, 8, 9, 12, 25])
    func outbox(attempts: Int) {
        for (transient, base, cap) in [(true, 1_000.0, 300_000.0), (false, 30_000.0, 600_000.0)] {
            let ceiling = min(cap, base * Double(1 << min(attempts, 20)))
            for jitter in [0, 0.25, 0.5, 0.75, 1] {
                #expect(Correlator.backoff(attempts: attempts, transient: transient, jitter: jitter) == Int64(ceiling / 2 + ceiling / 2 * jitter))
            }
        }
    }
}
