import Testing
import AWS
@testable import Relay

@Suite("Call pacer")
struct CallPacerTests {
    static let second: Int64 = 1_000_000_000

    @Test("unlimited until a quota shows; then just below what was accepted in the last second, spaced evenly")
    func learnsTheQuota() {
        var state = CallPacer.State()
        #expect(CallPacer.reserve(&state, now: 0) == 0)
        // 500 accepted over the second before the throttle (and 300 more, older, that do not count).
        for n in 0..<300 { CallPacer.accepted(&state, now: Int64(n) * 1_000_000) }
        for n in 0..<500 { CallPacer.accepted(&state, now: 2 * Self.second + Int64(n) * 2_000_000) }
        #expect(state.rate == nil)
        let throttledAt = 3 * Self.second - 1
        // 500 throttled beside 500 accepted: over a third of the answers, a quota.
        for _ in 0..<500 { CallPacer.throttled(&state, now: throttledAt) }
        #expect(state.rate == 475)
        // Evenly spaced at 475 a second: the second call waits one gap, the third two.
        let gap = Int64(Double(Self.second) / 475)
        #expect(CallPacer.reserve(&state, now: throttledAt) == 0)
        #expect(CallPacer.reserve(&state, now: throttledAt) == gap)
        #expect(CallPacer.reserve(&state, now: throttledAt) == 2 * gap)
    }

    @Test("many calls throttled together lower the rate once a second at most; accepted calls raise it by 1 % a second")
    func lowersOnceAndRecovers() {
        var state = CallPacer.State()
        for n in 0..<1_000 { CallPacer.accepted(&state, now: Int64(n) * 1_000_000) }
        for _ in 0..<1_000 { CallPacer.throttled(&state, now: Self.second - 1) }
        #expect(state.rate == 950)
        // Half a second later, 200 accepted in the window: still too soon to lower again.
        CallPacer.throttled(&state, now: Self.second + Self.second / 2)
        #expect(state.rate == 950)
        // 950 accepted calls over a second raise 950/s by 9.5 calls a second: 1 %.
        for n in 0..<950 { CallPacer.accepted(&state, now: 2 * Self.second + Int64(n) * 1_000_000) }
        #expect(abs((state.rate ?? 0) - 959.5) < 0.001)
        // A throttle after that learns the new figure: 950 in the last second, so 902.5.
        for _ in 0..<950 { CallPacer.throttled(&state, now: 3 * Self.second - 1) }
        #expect(abs((state.rate ?? 0) - 902.5) < 0.001)
    }

    @Test("throttling with nothing accepted lately slows to one call a second, not to zero")
    func neverStops() {
        var state = CallPacer.State()
        for _ in 0..<CallPacer.minThrottled { CallPacer.throttled(&state, now: 5 * Self.second) }
        #expect(state.rate == CallPacer.slowest)
    }

    @Test("sporadic throttling (a fifth of the answers, or a few at a low rate) is retried, never lowers the rate")
    func sporadicThrottlingLeavesTheRate() {
        // A fifth of 1,000 answers a second throttled, for ten seconds: the share stays below a third,
        // checked at each of the 2,000 throttled answers.
        var state = CallPacer.State()
        for n in 0..<10_000 {
            let now = Int64(n) * 1_000_000
            if n % 5 == 4 { CallPacer.throttled(&state, now: now) } else { CallPacer.accepted(&state, now: now) }
        }
        #expect(state.rate == nil)
        // A few throttled calls while little else was answered: too few to tell a quota.
        var quiet = CallPacer.State()
        for n in 0..<(CallPacer.minThrottled - 1) { CallPacer.throttled(&quiet, now: 20 * Self.second + Int64(n) * 100_000_000) }
        #expect(quiet.rate == nil)
        // Once paced, the same sporadic share does not wear the rate down second after second.
        var paced = CallPacer.State()
        for _ in 0..<CallPacer.minThrottled { CallPacer.throttled(&paced, now: 0) }
        let start = paced.rate ?? 0
        for n in 0..<2_000 {
            let now = Self.second + Int64(n) * 5_000_000
            if n % 10 == 9 { CallPacer.throttled(&paced, now: now) } else { CallPacer.accepted(&paced, now: now) }
        }
        #expect((paced.rate ?? 0) > start)
    }

    @Test("a burst's first tenth of a second is measured as a rate, not as a quiet second: its throttling does not slow to a crawl")
    func burstIsMeasuredOverItsSpan() {
        var state = CallPacer.State()
        // 200 accepted and 200 throttled within 100 ms of a quiet start: 2,000 accepted a second.
        for n in 0..<200 { CallPacer.accepted(&state, now: 10 * Self.second + Int64(n) * 100_000) }
        for _ in 0..<200 { CallPacer.throttled(&state, now: 10 * Self.second + 50_000_000) }
        #expect(state.rate == 1_900)
    }

    @Test("a policy that leaves throttling to its caller gives up on it at once and still retries the rest")
    func retryPolicyLeavesThrottlingToThePacer() {
        let policy = RetryPolicy(maxAttempts: 3, retriesThrottling: false)
        #expect(policy.decide(.throttling, attempt: 1, random: { 0.5 }) == .giveUp)
        #expect(policy.decide(.connection, attempt: 1, random: { 0.5 }) != .giveUp)
        #expect(policy.decide(.serverError(status: 503), attempt: 1, random: { 0.5 }) != .giveUp)
        #expect(RetryPolicy(maxAttempts: 3).decide(.throttling, attempt: 1, random: { 0.5 }) != .giveUp)
    }
}
