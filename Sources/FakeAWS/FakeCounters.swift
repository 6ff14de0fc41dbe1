/// What the fake has seen so far, read in process by the bench and the tests.
public struct FakeCounters: Sendable, Equatable {
    /// Requests received, by operation (`ReceiveMessage`, `SendTaskSuccess`, ...), throttled and faulted ones included.
    public var requests: [String: Int] = [:]
    /// SendTask* calls answered `ThrottlingException`.
    public var throttled = 0
    /// SendTaskSuccess/SendTaskFailure calls for a token already closed (answered `TaskTimedOut`).
    public var duplicates = 0
    /// Of those, the calls whose outcome differs from the first one's (another operation, output,
    /// error or cause): a second outcome for the same task, which must never happen.
    public var conflicting = 0
    /// Tokens closed by their first accepted SendTaskSuccess or SendTaskFailure.
    public var succeeded = 0
    public var failed = 0
    /// Accepted SendTaskHeartbeat calls.
    public var heartbeats = 0
    /// Messages handed out by ReceiveMessage (redeliveries included).
    public var deliveries = 0

    /// Tokens closed, by success or failure.
    public var outcomes: Int { succeeded + failed }

    public init() {}
}

/// One queue's counts, as GetQueueAttributes would give them, plus what was sent and deleted.
public struct FakeQueueCounts: Sendable, Equatable {
    public var visible: Int
    public var inFlight: Int
    public var sent: Int
    public var deleted: Int

    public init(visible: Int, inFlight: Int, sent: Int, deleted: Int) {
        self.visible = visible
        self.inFlight = inFlight
        self.sent = sent
        self.deleted = deleted
    }
}
