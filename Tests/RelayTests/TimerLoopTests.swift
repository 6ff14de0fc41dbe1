import Logging
@testable import Relay
import TestSupport
import Testing

/// The loop of the heartbeat schedule and the sweep, on a recording clock.
@Suite("Timer loop", .timeLimit(.minutes(1)))
struct TimerLoopTests {
    /// Counts the passes; each after the fifth waits until cancelled.
    actor Passes {
        private(set) var count = 0
        func next() -> Int {
            count += 1
            return count
        }
    }

    struct Unavailable: Error {}

    @Test("a pass that fails is retried after 1 s, 2 s, 4 s; a pass that works resets that and its pause is slept")
    func failuresBackOff() async throws {
        let clock = ManualClock()
        let passes = Passes()
        let loop = Task {
            await TimerLoop.run(failureEvent: "test.failed", logger: Logger(label: "test"), sleep: clock.clock.sleep) {
                switch await passes.next() {
                case 1...3, 5: throw Unavailable()
                case 4: return .seconds(42)
                default:
                    try await Task.sleep(for: .seconds(600))
                    return nil
                }
            }
        }
        try await eventually("six passes", timeout: .seconds(60)) { await passes.count == 6 }
        loop.cancel()
        await loop.value
        #expect(clock.sleeps == [.seconds(1), .seconds(2), .seconds(4), .seconds(42), .seconds(1)])
    }
}
