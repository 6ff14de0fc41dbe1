import CallbackStore
import Logging
import Testing
@testable import Relay

/// The consumers, the dispatcher and the sweep write their one line per input, delivery or check
/// at the level the verdict chooses, in one place.
@Suite("Verdict log lines")
struct VerdictLogTests {
    @Test(
        "each verdict's level and event",
        arguments: [
            (Verdict.rejected("bad"), false, Logger.Level.warning, "message.rejected"),
            (.unsupported("not ours"), false, .notice, "message.ignored"),
            (.executionEnded(.aborted, callbacks: 1, stops: 0), false, .info, "message.processed"),
            (.registered, false, .debug, "message.processed"),
            (.delivered(.heartbeat), false, .debug, "callback.heartbeat"),
            (.delivered(.stopJob), false, .info, "job.stop_requested"),
            (.delivered(.success), false, .info, "callback.delivered"),
            (.alreadyClosed("TaskTimedOut"), false, .notice, "callback.closed"),
            (.heartbeatRefused("InvalidToken"), false, .warning, "callback.heartbeat_refused"),
            (.retryLater(.success, "ThrottlingException"), false, .warning, "callback.retry_later"),
            (.retryLater(.success, "AccessDeniedException"), true, .error, "callback.refused"),
            (.sweptMissing(failed: 1, waiting: 0), false, .notice, "sweep.resolved"),
            (.sweepDeferred("Describe failed (ThrottlingException)"), false, .info, "sweep.deferred"),
            (.sweepDeferred("Describe failed (AccessDeniedException)"), true, .warning, "sweep.deferred"),
            (.sweptRunning(.inProgress, callbacks: 1), false, .info, "sweep.checked"),
        ] as [(Verdict, Bool, Logger.Level, String)])
    func line(verdict: Verdict, refused: Bool, level: Logger.Level, event: String) {
        let line = verdict.logLine(refused: refused)
        #expect(line.level == level)
        #expect(line.event.description == event)
    }
}
