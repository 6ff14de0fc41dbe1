import NIOCore

/// One message of a fake queue.
struct FakeMessage {
    var body: String
    /// When SendMessage accepted it, epoch milliseconds (SentTimestamp).
    var sentAtMillis: Int64
    var receiveCount = 0
    /// Bumped at every delivery, so each delivery has its own receipt handle.
    var delivery = 0
    var inFlight = false
    /// While in flight: when it becomes visible again (uptime nanoseconds).
    var visibleAt: UInt64 = 0
}

/// A queue: its messages by sequence number, the visible ones in arrival order, and its counts.
struct FakeQueue {
    let name: String
    let url: String
    var messages: [Int: FakeMessage] = [:]
    /// Sequence numbers of the visible messages, oldest first; only messages not in flight.
    var visible = CircularBuffer<Int>()
    var inFlight = 0
    /// While held, receives return nothing (the bench loads a backlog, then releases it at once).
    var held = false
    /// The visibility timeout of receives that name none, in seconds.
    var visibilityTimeout = FakeState.defaultVisibilityTimeout
    /// Long polls waiting for a message, oldest first (ids into the state's waiters).
    var waiters = CircularBuffer<Int>()
    var sent = 0
    var deleted = 0

    var counts: FakeQueueCounts { FakeQueueCounts(visible: visible.count, inFlight: inFlight, sent: sent, deleted: deleted) }
}

/// A ReceiveMessage long poll parked until a message arrives or its wait ends.
struct FakeWaiter {
    var queue: Int
    var request: ReceiveRequest
    var promise: EventLoopPromise<FakeReply>
    var timeout: Scheduled<Void>?
}

/// The parameters of a ReceiveMessage that matter to the fake.
struct ReceiveRequest {
    var maxMessages: Int
    var visibilityTimeout: Int?
    var receiveCountAttribute: Bool
    var sentTimestampAttribute: Bool
}

/// Message ids and receipt handles: the fake's sequence numbers in AWS-looking clothes.
enum FakeIdentifiers {
    static let messageIDPrefix = "6f0c1e2a-5b7d-4c3e-9a41-"

    /// A UUID-shaped id whose last 12 hex digits are the sequence number.
    static func messageID(_ sequence: Int) -> String {
        let hex = String(sequence, radix: 16)
        return messageIDPrefix + String(repeating: "0", count: max(0, 12 - hex.utf8.count)) + hex
    }

    static func sequence(ofMessageID id: String) -> Int? {
        guard id.hasPrefix(messageIDPrefix) else { return nil }
        return Int(id.dropFirst(messageIDPrefix.utf8.count), radix: 16)
    }

    /// A receipt handle names the queue, the message and the delivery.
    static func receiptHandle(queue: Int, sequence: Int, delivery: Int) -> String {
        "AQEBfake/\(queue)/\(sequence)/\(delivery)"
    }

    static func parse(receiptHandle: String) -> (queue: Int, sequence: Int, delivery: Int)? {
        guard receiptHandle.hasPrefix("AQEBfake/") else { return nil }
        let parts = receiptHandle.dropFirst(9).split(separator: "/")
        guard parts.count == 3, let queue = Int(parts[0]), let sequence = Int(parts[1]), let delivery = Int(parts[2]) else { return nil }
        return (queue, sequence, delivery)
    }
}
