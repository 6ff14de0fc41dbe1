import Synchronization

/// Wakes a waiting loop when there is new work, or when a deadline passes: the outbox dispatcher
/// sleeps on it instead of polling, and the services that queue its work ring it. Rings are
/// coalesced; a ring with nobody waiting is kept for the next wait.
public final class Doorbell: Sendable {
    private struct State {
        var rung = false
        var waiter: CheckedContinuation<Void, Never>?
        var generation = 0
    }
    private let state = Mutex(State())

    public init() {}

    /// Wakes the waiter, or the next one.
    public func ring() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.rung = true
            return nil
        }
        waiter?.resume()
    }

    /// Returns after a ring, after `timeout` (nil: no deadline), or when the task is cancelled.
    /// One waiter at a time.
    public func wait(timeout: Duration?) async {
        let generation = state.withLock { state -> Int? in
            if state.rung {
                state.rung = false
                return nil
            }
            state.generation += 1
            return state.generation
        }
        guard let generation else { return }
        await withTaskCancellationHandler {
            await withTaskGroup(of: Void.self) { group in
                if let timeout {
                    group.addTask { [weak self] in
                        try? await Task.sleep(for: timeout)
                        self?.wake(generation)
                    }
                }
                await withCheckedContinuation { continuation in
                    let resumeNow = state.withLock { state -> Bool in
                        if state.rung || state.generation != generation || Task.isCancelled {
                            state.rung = false
                            return true
                        }
                        state.waiter = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
                group.cancelAll()
            }
        } onCancel: {
            wake(generation)
        }
    }

    /// Whether a ring is kept for the next wait (nobody waited when it rang).
    var isRung: Bool { state.withLock { $0.rung } }

    /// Resumes the waiter of `generation` if it still waits.
    private func wake(_ generation: Int) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard state.generation == generation else { return nil }
            guard let waiter = state.waiter else {
                // Not installed yet: expire this generation so the install resumes at once.
                state.generation += 1
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }
}
