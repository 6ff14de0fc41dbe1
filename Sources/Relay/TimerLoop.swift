import AWS
import Logging
import ServiceLifecycle

/// The loop of a service that works in passes: run a pass, wait as long as the pass says (or, with
/// a doorbell, until it rings), and repeat until graceful shutdown. A pass that throws (the store
/// was unavailable) is logged (at warning the first time, then at debug) and retried after a
/// growing pause, so a passing problem never ends the service.
enum TimerLoop {
    /// The pause after consecutive store failures: 1 s doubling to 30 s, never given up.
    static let storeBackoff = RetryPolicy(maxAttempts: .max, base: .milliseconds(500), cap: .seconds(30), jitter: .none)

    /// - Parameters:
    ///   - doorbell: ends a wait early when new work is committed; nil for a plain timer.
    ///   - liveness: told when each pass begins and ends, and when the loop stops.
    ///   - sleep: waits between passes and after failures (a test's clock records them).
    ///   - pass: does the work due; returns how long to wait for the next (nil: until rung, or a
    ///     minute without a doorbell).
    static func run(
        failureEvent: Logger.Message, logger: Logger, doorbell: Doorbell? = nil, liveness: Liveness.Loop? = nil,
        sleep: @escaping RetryPolicy.Sleep = RetryPolicy.taskSleep, pass: () async throws -> Duration?
    ) async {
        defer { liveness?.stop() }
        var failures = 0
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            do {
                liveness?.begin()
                let pause = try await pass()
                liveness?.end()
                failures = 0
                if let doorbell {
                    await cancelWhenGracefulShutdown { await doorbell.wait(timeout: pause) }
                    continue
                }
                try await cancelWhenGracefulShutdown { try await sleep(pause ?? .seconds(60)) }
            } catch is CancellationError {
                return
            } catch {
                liveness?.end()
                failures += 1
                // The outage itself is told once at error (`store.unavailable`); each loop says
                // what it could not do once, and its retries at debug.
                logger.log(level: failures == 1 ? .warning : .debug, failureEvent, metadata: ["error": "\(error)", "failures": "\(failures)"])
                let pause = storeBackoff.backoff(attempt: failures, random: 0)
                do {
                    try await cancelWhenGracefulShutdown { try await sleep(pause) }
                } catch {
                    return
                }
            }
        }
    }
}
