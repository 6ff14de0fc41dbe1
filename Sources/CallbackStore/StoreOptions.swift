/// How a ``Store`` opens its database and how far its bounded tables may grow.
///
/// The defaults are the production settings: every commit is fsynced (`FULL`), a locked
/// database is waited on for at most five seconds, and the early-event store and
/// rejected-message log are capped.
public struct StoreOptions: Sendable {
    /// SQLite's `PRAGMA synchronous` level for the WAL.
    ///
    /// `full` syncs the WAL on every commit, so a committed transaction survives power loss;
    /// `normal` syncs only at checkpoints: still safe against a process crash (kill -9), but the
    /// last commits may be lost if the machine itself goes down.
    public enum Synchronous: String, Sendable {
        case full = "FULL"
        case normal = "NORMAL"
    }

    /// Durability of each commit; `FULL` unless the operator chose otherwise.
    public var synchronous: Synchronous = .full
    /// How long a statement waits for another connection's lock before failing with `SQLITE_BUSY`.
    public var busyTimeout: Duration = .seconds(5)
    /// How long a terminal event is kept for a registration that has not arrived yet (SQS max retention).
    public var earlyEventTTL: Duration = .seconds(14 * 86_400)
    /// Most early events kept; the oldest (by `receivedAt`) are evicted first.
    public var earlyEventCap: Int = 100_000
    /// How long a closed token is remembered, so duplicates of its events stay no-ops.
    public var closedTokenTTL: Duration = .seconds(15 * 86_400)
    /// Most rejected messages kept; the oldest (by `receivedAt`) are evicted first.
    public var rejectedMessageCap: Int = 1_000
    /// Bytes kept of a rejected message's body, cut on a UTF-8 character boundary.
    public var rejectedBodyLimit: Int = 8_192

    /// The production defaults described on each property.
    public init() {}
}
