/// One change to the store that a decision asks for. A backend applies a decision's effects
/// atomically: an outcome is queued in the same commit that removes the callback it completes.
public enum Effect: Sendable, Equatable {
    case insertPending(PendingCallback)
    case removePending(tokenHash: String)
    case updateStatus(tokenHash: String, status: String, at: Int64)
    case enqueue(NewOutboxEntry)
    /// Drops a token's queued entries of these actions (an outcome supersedes its heartbeats; a
    /// newer heartbeat replaces an older one; an ended execution cancels a Create not yet made).
    /// The engine drops only heartbeats and job creations: the SQLite store indexes no other
    /// action by token.
    case dropQueued(tokenHash: String, actions: [OutboxAction])
    case noteHeartbeat(tokenHash: String, at: Int64)
    case recordSweep(tokenHash: String, SweepState)
    case rememberExecutionEnd(EndedExecution)
    case markClosed(tokenHash: String, result: String, at: Int64)
    case rememberTerminal(EarlyEvent)
    case recordRejected(RejectedMessage)
    case deleteOutbox(id: Int64)
    case rescheduleOutbox(id: Int64, attempts: Int, nextAttemptAt: Int64, lastError: String)
}
