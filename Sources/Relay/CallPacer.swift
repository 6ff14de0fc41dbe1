import Synchronization

/// Keeps one kind of call under a quota it learns from throttling, so that hundreds of calls in
/// flight converge on the quota instead of hammering it.
///
/// Unlimited until throttling shows a quota: at least ``minThrottled`` throttled answers, and
/// ``quotaShare`` or more of the calls answered over the last second. Then the rate is set just
/// below what the service accepted per second over that second (the quota, as the service
/// enforces it; measured over the part of the second since answers began, so a burst's first
/// tenth is not taken for a quiet second), at most once a second however many calls in flight are
/// throttled together. Each accepted call raises the rate by a hundredth of a call per second
/// (about 1 % a second at any rate), so that a raised quota is found again.
///
/// Sporadic throttling (a few calls, or a steady small share however slow we go) is only retried:
/// lowering the rate would not stop it, and each 5 % taken off takes long to win back at 1 % a
/// second, so a steady 5 % of throttled answers would wear the rate down to one call a second. The
/// share is checked at every throttled answer, so it must be high: a quarter is crossed within
/// seconds by a random fifth; a half lets sending creep to twice a real quota (the load bench's
/// quota workload then holds 62 % of it; at a third, 96 %).
///
/// Calls wait their turn in ``admit()``, spaced evenly at the rate: waiting here costs nothing,
/// while a throttled call costs a round trip and a place in flight.
final class CallPacer: Sendable {
    struct State {
        /// Calls per second; nil while unlimited.
        var rate: Double?
        /// When the next call may go (nanoseconds on the monotonic clock).
        var nextSlot: Int64 = 0
        /// When the rate was last lowered.
        var lastDecrease: Int64?
        /// Accepted calls in the last second.
        var accepted = LastSecond()
        /// Throttled calls in the last second.
        var throttled = LastSecond()
    }

    /// Calls counted over the last second, by tenth of a second: a ring of the last ten tenths.
    struct LastSecond {
        private var counts = [Int](repeating: 0, count: 10)
        /// The tenth each slot counts (since the clock's origin); -1 for none yet.
        private var tenths = [Int64](repeating: -1, count: 10)

        /// Counts one call at `now`.
        mutating func count(now: Int64) {
            let tenth = CallPacer.tenth(now)
            let index = Int(tenth % 10)
            if tenths[index] != tenth {
                tenths[index] = tenth
                counts[index] = 0
            }
            counts[index] += 1
        }

        /// The calls counted in the second before `now`.
        func total(now: Int64) -> Int {
            let tenth = CallPacer.tenth(now)
            return (0..<10).reduce(0) { sum, index in tenth - tenths[index] < 10 ? sum + counts[index] : sum }
        }

        /// The earliest tenth of the second before `now` with a call in it.
        func oldestTenth(now: Int64) -> Int64? {
            let tenth = CallPacer.tenth(now)
            return tenths.filter { $0 >= 0 && tenth - $0 < 10 }.min()
        }
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
        state.accepted.count(now: now)
        if let rate = state.rate { state.rate = rate + increase }
    }

    static func throttled(_ state: inout State, now: Int64) {
        state.throttled.count(now: now)
        if let last = state.lastDecrease, now - last < second { return }
        let accepted = state.accepted.total(now: now)
        let throttled = state.throttled.total(now: now)
        guard throttled >= minThrottled, Double(throttled) >= quotaShare * Double(accepted + throttled) else { return }
        state.lastDecrease = now
        // Per second of answers: a burst that began a tenth of a second ago is measured over that
        // tenth, not as if the whole second had been as quiet as before it.
        let oldest = [state.accepted.oldestTenth(now: now), state.throttled.oldestTenth(now: now)].compactMap { $0 }.min() ?? tenth(now)
        let span = Double(tenth(now) - oldest + 1) / 10
        let measured = max(slowest, Double(accepted) / span * backoff)
        state.rate = min(state.rate ?? measured, measured)
        state.nextSlot = max(state.nextSlot, now)
    }

    /// The tenth of a second `now` falls in.
    static func tenth(_ now: Int64) -> Int64 { now / (second / 10) }

    private static func now() -> Int64 {
        let elapsed = ContinuousClock.now - Self.origin
        return elapsed.components.seconds * second + elapsed.components.attoseconds / 1_000_000_000
    }
    private static let origin = ContinuousClock.now
}
