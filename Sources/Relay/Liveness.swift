public import CallbackStore
import Synchronization

/// What each loop of `serve` last said about itself: whether it is in the middle of a piece of
/// work (and since when), and when it last finished one. The loops report; the health reporter
/// reads a snapshot and writes it where `sagemaker-callback health` can judge it.
///
/// Times are wall-clock milliseconds since the Unix epoch, the unit the report file carries
/// across processes.
public final class Liveness: Sendable {
    /// One loop as last reported.
    public struct LoopState: Sendable, Equatable {
        /// What the loop is, in words an operator reads: `outbox dispatcher`, `events consumer`.
        public var name: String
        /// When the loop began reporting: the baseline of its silence before a first cycle.
        public var since: Int64
        /// When the current piece of work began; nil while the loop waits or sleeps.
        public var workingSince: Int64?
        /// When the loop last finished a piece of work (or a cycle); nil before the first.
        public var lastFinished: Int64?
        /// How long the loop may go without finishing a cycle before it counts as silent; nil
        /// for loops that may legitimately sleep for long (the timers).
        public var silentAfter: Duration?
        /// Set when the loop has ended (graceful shutdown).
        public var stopped = false

        public init(
            name: String, since: Int64, workingSince: Int64? = nil, lastFinished: Int64? = nil, silentAfter: Duration? = nil, stopped: Bool = false
        ) {
            self.name = name
            self.since = since
            self.workingSince = workingSince
            self.lastFinished = lastFinished
            self.silentAfter = silentAfter
            self.stopped = stopped
        }
    }

    /// One loop's handle on the shared record, given to the loop that reports through it.
    public struct Loop: Sendable {
        let liveness: Liveness
        let index: Int

        /// A piece of work begins.
        public func begin(at now: Int64 = WallClock.millisecondsNow()) {
            liveness.update(index) { $0.workingSince = now }
        }

        /// The piece of work (or cycle) in hand is finished; the loop now waits.
        public func end(at now: Int64 = WallClock.millisecondsNow()) {
            liveness.update(index) {
                $0.workingSince = nil
                $0.lastFinished = now
            }
        }

        /// One piece of work finished and the next begins at once (a long pass made of many).
        public func progress(at now: Int64 = WallClock.millisecondsNow()) {
            liveness.update(index) {
                $0.workingSince = now
                $0.lastFinished = now
            }
        }

        /// The loop has ended.
        public func stop() {
            liveness.update(index) {
                $0.workingSince = nil
                $0.stopped = true
            }
        }
    }

    private let loops = Mutex<[LoopState]>([])

    public init() {}

    /// Starts tracking a loop named `name`; `silentAfter` bounds the time between its cycles.
    public func loop(_ name: String, silentAfter: Duration? = nil, at now: Int64 = WallClock.millisecondsNow()) -> Loop {
        let index = loops.withLock { loops in
            loops.append(LoopState(name: name, since: now, silentAfter: silentAfter))
            return loops.count - 1
        }
        return Loop(liveness: self, index: index)
    }

    /// Every loop, in the order they began reporting.
    public func snapshot() -> [LoopState] {
        loops.withLock { $0 }
    }

    private func update(_ index: Int, _ change: (inout LoopState) -> Void) {
        loops.withLock { change(&$0[index]) }
    }
}
