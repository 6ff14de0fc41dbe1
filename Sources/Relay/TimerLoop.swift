import Logging
import ServiceLifecycle

/// The loop of a service that works on a timer: run a pass, sleep as long as the pass says, and
/// repeat until graceful shutdown. A pass that throws (the store was unavailable) is logged and
/// retried after a growing pause, so a passing problem never ends the service.
enum TimerLoop {
    static func run(failureEvent: Logger.Message, logger: Logger, pass: () async throws -> Duration) async {
        var failures = 0
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            let pause: Duration
            do {
                pause = try await pass()
                failures = 0
            } catch is CancellationError {
                return
            } catch {
                failures += 1
                logger.error(failureEvent, metadata: ["error": "\(error)"])
                pause = .milliseconds(min(30_000, 500 << min(failures, 6)))
            }
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: pause) }
            } catch {
                return
            }
        }
    }
}
