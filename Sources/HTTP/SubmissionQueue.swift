import CCurl
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A request handed from an async caller to the transfer thread.
struct Submission: Sendable {
    let id: UInt64
    let request: HTTPRequest
    let continuation: CheckedContinuation<HTTPResponse, any Error>
}

/// What the transfer thread takes from the queue each time round its loop.
struct Intake: Sendable {
    var submissions: [Submission] = []
    var cancellations: [UInt64] = []
    /// Requests still wait for a free slot.
    var moreWaiting = false
    var isShutdown = false
}

/// The only state shared between async callers and the transfer thread: requests waiting for a
/// slot, cancellations to carry out, and whether the client has shut down.
final class SubmissionQueue: Sendable {
    private struct State {
        var waiting: [Submission] = []
        var cancellations: [UInt64] = []
        var isShutdown = false
        /// A wakeup has been sent that the transfer thread has not yet drained: one is enough.
        var wakeupPending = false
    }

    private let state = Mutex(State())
    private let lastID = Atomic<UInt64>(0)
    /// Wakeups claimed under the lock and not yet sent.
    private let wakeupsInFlight = Atomic<Int>(0)
    let multi: MultiHandle

    init(multi: MultiHandle) {
        self.multi = multi
    }

    /// A fresh, non-zero transfer id.
    func makeID() -> UInt64 {
        lastID.wrappingAdd(1, ordering: .relaxed).newValue
    }

    /// Queues a request for the transfer thread, or fails it at once if the client is shut down
    /// or the calling task is already cancelled.
    func submit(_ submission: Submission) {
        let (rejection, wake) = state.withLock { state -> ((any Error)?, Bool) in
            if state.isShutdown { return (HTTPError.shutdown, false) }
            // Checked under the lock: a cancellation handler that ran before this point found
            // nothing to cancel, but the task's cancelled flag was set before it ran.
            if Task.isCancelled { return (CancellationError(), false) }
            state.waiting.append(submission)
            return (nil, claimWakeup(&state))
        }
        sendWakeup(if: wake)
        if let rejection {
            submission.continuation.resume(throwing: rejection)
        }
    }

    /// Cancels a request: at once if it still waits for a slot, else by asking the transfer thread.
    func cancel(_ id: UInt64) {
        let (removed, wake) = state.withLock { state -> (Submission?, Bool) in
            if state.isShutdown { return (nil, false) }
            if let index = state.waiting.firstIndex(where: { $0.id == id }) {
                return (state.waiting.remove(at: index), false)
            }
            state.cancellations.append(id)
            return (nil, claimWakeup(&state))
        }
        sendWakeup(if: wake)
        removed?.continuation.resume(throwing: CancellationError())
    }

    /// Marks the queue shut down and fails every request still waiting for a slot.
    /// Returns false if it was already shut down.
    func shutdown() -> Bool {
        let (waiting, first, wake) = state.withLock { state -> ([Submission], Bool, Bool) in
            if state.isShutdown { return ([], false, false) }
            state.isShutdown = true
            defer { state.waiting = [] }
            // A wakeup already pending will do: the thread has yet to look at the queue.
            return (state.waiting, true, claimWakeup(&state))
        }
        sendWakeup(if: wake)
        for submission in waiting {
            submission.continuation.resume(throwing: HTTPError.shutdown)
        }
        return first
    }

    /// Under the lock: whether this caller must wake the transfer thread (one pending wakeup is
    /// enough). Never true once the thread may have seen the shutdown.
    private func claimWakeup(_ state: inout State) -> Bool {
        guard !state.wakeupPending else { return false }
        state.wakeupPending = true
        wakeupsInFlight.add(1, ordering: .relaxed)
        return true
    }

    /// Sent outside the lock, so the woken thread never finds the lock held by its waker.
    private func sendWakeup(if claimed: Bool) {
        guard claimed else { return }
        multi.wakeup()
        wakeupsInFlight.subtract(1, ordering: .releasing)
    }

    /// Called by the transfer thread once it has seen the shutdown: no wakeup can be claimed any
    /// more, so when those under way have been sent the multi handle may be cleaned up.
    func waitForWakeupsInFlight() {
        while wakeupsInFlight.load(ordering: .acquiring) != 0 {
            sched_yield()
        }
    }

    /// Called by the transfer thread: takes cancellations and up to `limit` waiting requests.
    func take(limit: Int) -> Intake {
        state.withLock { state in
            state.wakeupPending = false
            var intake = Intake(isShutdown: state.isShutdown)
            if !state.cancellations.isEmpty {
                swap(&intake.cancellations, &state.cancellations)
            }
            let count = min(max(limit, 0), state.waiting.count)
            if count == state.waiting.count {
                swap(&intake.submissions, &state.waiting)
            } else if count > 0 {
                intake.submissions = Array(state.waiting[..<count])
                state.waiting.removeFirst(count)
            }
            intake.moreWaiting = !state.waiting.isEmpty
            return intake
        }
    }
}

/// Owns the curl multi handle, with its connection cache.
///
/// `@unchecked Sendable`: other threads only call `wakeup()`, which libcurl documents as safe from
/// any thread, and the submission queue lets the transfer thread `close()` only after the last
/// wakeup; every other use happens on the transfer thread. `deinit` cleans up only a handle no
/// thread ever ran.
final class MultiHandle: @unchecked Sendable {
    let raw: UnsafeMutableRawPointer
    private var isClosed = false

    init(maxTotalConnections: Int, maxConnectionsPerHost: Int) throws(HTTPError) {
        guard let raw = curl_multi_init() else {
            throw HTTPError(kind: .other, curlCode: 0, message: "curl_multi_init failed")
        }
        self.raw = raw
        for (option, value) in [
            (CURLMOPT_MAX_TOTAL_CONNECTIONS, maxTotalConnections),
            (CURLMOPT_MAX_HOST_CONNECTIONS, maxConnectionsPerHost),
            // Keep as many idle connections as could be busy at once, for reuse.
            (CURLMOPT_MAXCONNECTS, maxTotalConnections),
        ] {
            let code = ccurl_multi_setopt_long(raw, option, value)
            guard code == CURLM_OK else {
                throw HTTPError(
                    kind: .other, curlCode: Int32(code.rawValue),
                    message: "curl_multi_setopt: \(String(cString: curl_multi_strerror(code)))")
            }
        }
    }

    deinit {
        close()
    }

    func wakeup() {
        _ = curl_multi_wakeup(raw)
    }

    /// Closes every cached connection and frees the handle; every easy handle must be removed first.
    func close() {
        guard !isClosed else { return }
        isClosed = true
        curl_multi_cleanup(raw)
    }
}
