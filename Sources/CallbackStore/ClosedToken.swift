/// A task token we completed, or found already closed, remembered so that duplicate and
/// repeated events for it stay no-ops (effectively once).
public struct ClosedToken: Sendable, Equatable {
    /// Hex SHA-256 of the task token.
    public var tokenHash: String
    /// When it was closed (ms since the Unix epoch); drives TTL pruning.
    public var closedAt: Int64
    /// How it was closed: `"succeeded"` or `"failed"` (the outcome was accepted), `"queued"`
    /// (the outcome waits in the outbox), `"already closed: CODE"` (Step Functions had closed the
    /// task), `"expired"`, or `"execution STATUS"` / `"execution STATUS before registration"`
    /// (its execution ended first).
    public var result: String

    /// A closed-token record.
    public init(tokenHash: String, closedAt: Int64, result: String) {
        self.tokenHash = tokenHash
        self.closedAt = closedAt
        self.result = result
    }
}

/// Row counts of each table, for `list` and metrics.
public struct StoreCounts: Sendable, Equatable {
    /// Pending callbacks.
    public var pending: Int
    /// Early (terminal) events.
    public var earlyEvents: Int
    /// Outcomes not yet delivered.
    public var outbox: Int
    /// Rejected messages logged.
    public var rejected: Int
    /// Closed tokens remembered.
    public var closed: Int

    /// Counts as given.
    public init(pending: Int, earlyEvents: Int, outbox: Int, rejected: Int, closed: Int) {
        self.pending = pending
        self.earlyEvents = earlyEvents
        self.outbox = outbox
        self.rejected = rejected
        self.closed = closed
    }
}
