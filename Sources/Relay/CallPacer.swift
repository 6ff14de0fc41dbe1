import Synchronization

/// Keeps one kind of call under a quota it learns from throttling, so that hundreds of calls in
/// flight converge on the quota instead of hammering it.
///
/// Unlimited until throttling shows a quota: at least ``minThrottled`` throttled answers, a
/// third or more of the calls answered over the last second. Then the rate is set just below
/// what the service accepted per second over that second (or over the part of it since answers
/// began: a burst's first tenth is not taken for a quiet second; the quota, as the service
/// enforces it), at most
/// once a second however many calls in flight are throttled together; each accepted call raises
/// the rate by a hundredth of a call per second (about 1 % a second at any rate), so that a raised
/// quota is found again. Sporadic throttling (a backend's hiccup: a few calls, or a steady small
/// share of them however slow we go) is only retried: lowering the rate would not make it stop,
/// and each lowering costs 5 % that the 1 % a second takes long to win back, so a steady 5 %
/// of throttled answers used to wear the rate down to one call a second. The share is high
/// because it is checked at every throttled answer: at a quarter, a random fifth crossed it
/// within seconds (at a half, sending crept to twice a real quota before it was lowered again,
/// and the load bench's quota workload fell to 62 % of it; at a third, 96 %). Past a real quota,
/// sending creeps up to half as much again before the rate is lowered, the service refusing
/// (cheaply) what is beyond it. Calls wait their turn in ``admit()``, spaced evenly at the rate: waiting here costs nothing,
/// while a throttled call costs a round trip and a place in flight.
final class CallPacer: Sendable {
    struct State {
        /// Calls per second; nil while unlimited.
        var rate: Double?
        /// When the next call may go (nanoseconds on the monotonic clock).
        var nextSlot: Int64 = 0
        /// When the rate was last lowered.
        var lastDecrease: Int64?
        /// Accepted calls in the last second, by tenth of a second.
        var accepted = [Int](repeating: 0, count: 10)
        var acceptedTenth = [Int64](repeating: -1, count: 10)
        /// Throttled calls in the last second, by tenth of a second.
        var throttled = [Int](repeating: 0, count: 10)
        var throttledTenth = [Int64](repeating: -1, count: 10)
    }

    private let state = Mutex(State())
    /// Below what was accepted: the last second may have included a burst the bucket allowed.
    static let backoff = 0.95
    /// Added to the rate per accepted call.
    static let increase = 0.01
    static let slowest = 1.0
    /// Throttled answers in a second below which throttling is sporadic, whatever their share.
    static let minThrottled = 16
    /// The share of a second's answers that must be throttled for the rate to be lowered.
    static let quotaShare = 1.0 / 3

    private static let second: Int64 = 1_000_000_000

    /// The rate in force, nil while unlimited.
    var rate: Double? { state.withLock { $0.rate } }

    /// Waits for this call's turn.
    func admit() async {
        let wait = state.withLock { Self.reserve(&$0, now: Self.now()) }
        if wait > 0 { try? await Task.sleep(for: .nanoseconds(wait)) }
    }

    /// The service accepted a call.
    func accepted() {
        state.withLock { Self.accepted(&$0, now: Self.now()) }
    }

    /// The service throttled a call.
    func throttled() {
        state.withLock { Self.throttled(&$0, now: Self.now()) }
    }

    // The arithmetic, on an explicit clock, so that tests are exact.

    /// Reserves the next slot; returns how long to wait for it (ns).
    static func reserve(_ state: inout State, now: Int64) -> Int64 {
        guard let rate = state.rate else { return 0 }
        let slot = max(now, state.nextSlot)
        state.nextSlot = slot + Int64(Double(second) / rate)
        return slot - now
    }

    static func accepted(_ state: inout State, now: Int64) {
        count(&state.accepted, &state.acceptedTenth, now: now)
        if let rate = state.rate { state.rate = rate + increase }
    }

    static func throttled(_ state: inout State, now: Int64) {
        count(&state.throttled, &state.throttledTenth, now: now)
        if let last = state.lastDecrease, now - last < second { return }
        let accepted = lastSecond(state.accepted, state.acceptedTenth, now: now)
        let throttled = lastSecond(state.throttled, state.throttledTenth, now: now)
        guard throttled >= minThrottled, Double(throttled) >= quotaShare * Double(accepted + throttled) else { return }
        state.lastDecrease = now
        // Per second of answers: a burst that began a tenth of a second ago is measured over that
        // tenth, not as if the whole second had been as quiet as before it.
        let measured = max(slowest, Double(accepted) / answeringSpan(state, now: now) * backoff)
        state.rate = min(state.rate ?? measured, measured)
        state.nextSlot = max(state.nextSlot, now)
    }

    /// Counts one call in its tenth of a second (a ring of the last ten).
    private static func count(_ counts: inout [Int], _ tenths: inout [Int64], now: Int64) {
        let tenth = now / (second / 10)
        let index = Int(tenth % 10)
        if tenths[index] != tenth {
            tenths[index] = tenth
            counts[index] = 0
        }
        counts[index] += 1
    }

    /// The part of the last second (in seconds, by tenths) since the first answer in it.
    private static func answeringSpan(_ state: State, now: Int64) -> Double {
        let tenth = now / (second / 10)
        let oldest = (state.acceptedTenth + state.throttledTenth).filter { tenth - $0 < 10 && $0 >= 0 }.min() ?? tenth
        return Double(tenth - oldest + 1) / 10
    }

    /// Calls counted over the last second.
    private static func lastSecond(_ counts: [Int], _ tenths: [Int64], now: Int64) -> Int {
        let tenth = now / (second / 10)
        return (0..<10).reduce(0) { sum, index in tenth - tenths[index] < 10 ? sum + counts[index] : sum }
    }

    private static func now() -> Int64 {
        let elapsed = ContinuousClock.now - Self.origin
        return elapsed.components.seconds * second + elapsed.components.attoseconds / 1_000_000_000
    }
    private static let origin = ContinuousClock.now
}
