public import AWS
import CallbackStore

/// What a service reads the time from, sleeps with and draws its jitter from: the wall clock,
/// `Task.sleep` and the system's random numbers in service, a test's own in a test, so that a
/// pass or a backoff is checked without waiting.
public struct ServiceClock: Sendable {
    /// The time now, in epoch milliseconds (the store's unit).
    public var now: @Sendable () -> Int64
    /// Waits; throws when the task is cancelled.
    public var sleep: RetryPolicy.Sleep
    /// A random value in `[0, 1)`.
    public var random: @Sendable () -> Double

    public init(now: @escaping @Sendable () -> Int64, sleep: @escaping RetryPolicy.Sleep, random: @escaping @Sendable () -> Double) {
        self.now = now
        self.sleep = sleep
        self.random = random
    }

    /// The wall clock, `Task.sleep` and `Double.random`.
    public static let system = ServiceClock(now: WallClock.millisecondsNow, sleep: RetryPolicy.taskSleep, random: { .random(in: 0..<1) })
}
