import JSON
import NIOCore

/// What the fake's operations change outside the lock once it is released: long polls to answer,
/// their timeouts to cancel, the visibility timer to arm.
struct Wakeups {
    var replies: [(EventLoopPromise<FakeReply>, FakeReply)] = []
    var cancelled: [Scheduled<Void>] = []
    var timer: UInt64?
}

/// The answer to a ReceiveMessage: at once, or parked as a long poll.
enum ReceiveOutcome {
    case reply(FakeReply)
    case wait(id: Int, promise: EventLoopPromise<FakeReply>, seconds: Int)
}

/// Everything the fake knows, guarded by one lock that is never held across I/O.
struct FakeState {
    /// The visibility timer fires no more often than this: redelivery may be that much late.
    static let timerGranularity: UInt64 = 5_000_000
    static let account = "123456789012"

    var port = 0
    var queues: [FakeQueue] = []
    var queueIndex: [String: Int] = [:]
    var waiters: [Int: FakeWaiter] = [:]
    var nextWaiter = 0
    /// When each message (by sequence number, across queues) was first delivered; 0 until then.
    var firstDelivery: [UInt64] = []
    var visibility = DeadlineHeap()
    /// The deadline the armed visibility timer is for; `.max` when none is armed.
    var timerDeadline = UInt64.max
    var tasks: [String: TaskRecord] = [:]
    var behavior = StepFunctionsBehavior()
    var bucket: TokenBucket?
    var counters = FakeCounters()
    var faults = FaultDraws()
    /// SendTask* closing calls still to hold, and those held (``FakeAWS/holdClosingCalls(_:)``).
    var holdsLeft = 0
    var held: [HeldCall] = []

    // MARK: queues

    mutating func createQueue(_ name: String) -> Int {
        if let index = queueIndex[name] { return index }
        queues.append(FakeQueue(name: name, url: "http://127.0.0.1:\(port)/\(Self.account)/\(name)"))
        queueIndex[name] = queues.count - 1
        return queues.count - 1
    }

    func queue(of request: JSONObject) -> Int? {
        guard let url = request["QueueUrl"]?.stringValue, let name = url.split(separator: "/").last else { return nil }
        return queueIndex[String(name)]
    }

    static let noSuchQueue = FakeReply.sqsError(
        "QueueDoesNotExist", "The specified queue does not exist.", queryCode: "AWS.SimpleQueueService.NonExistentQueue")

    // MARK: sending

    mutating func enqueue(_ body: String, queue q: Int, now: UInt64, wallMillis: Int64) -> Int {
        let sequence = firstDelivery.count
        firstDelivery.append(0)
        queues[q].messages[sequence] = FakeMessage(body: body, sentAtMillis: wallMillis)
        queues[q].visible.append(sequence)
        queues[q].sent += 1
        return sequence
    }

    /// Answers parked long polls while the queue has visible messages (and is not held).
    mutating func wake(queue q: Int, now: UInt64, wakeups: inout Wakeups) {
        while !queues[q].held, !queues[q].visible.isEmpty, let id = queues[q].waiters.popFirst() {
            guard let waiter = waiters.removeValue(forKey: id) else { continue }
            wakeups.replies.append((waiter.promise, deliver(queue: q, waiter.request, now: now, wakeups: &wakeups)))
            if let timeout = waiter.timeout { wakeups.cancelled.append(timeout) }
        }
    }

    // MARK: receiving

    /// Hands out up to `request.maxMessages` visible messages, each with a fresh receipt handle.
    mutating func deliver(queue q: Int, _ request: ReceiveRequest, now: UInt64, wakeups: inout Wakeups) -> FakeReply {
        var delivered: [JSONValue] = []
        let normal = now + UInt64(max(request.visibilityTimeout ?? queues[q].visibilityTimeout, 0)) * 1_000_000_000
        while delivered.count < request.maxMessages, let sequence = queues[q].visible.popFirst() {
            guard var message = queues[q].messages[sequence] else { continue }
            let deadline = faults.redeliversEarly() ? now : normal
            message.receiveCount += 1
            message.delivery += 1
            message.inFlight = true
            message.visibleAt = deadline
            queues[q].messages[sequence] = message
            queues[q].inFlight += 1
            if firstDelivery[sequence] == 0 { firstDelivery[sequence] = now }
            visibility.push(.init(deadline: deadline, queue: q, sequence: sequence))
            armTimer(now: now, wakeups: &wakeups)

            var attributes = JSONObject()
            if request.receiveCountAttribute { attributes["ApproximateReceiveCount"] = .string(String(message.receiveCount)) }
            if request.sentTimestampAttribute { attributes["SentTimestamp"] = .string(String(message.sentAtMillis)) }
            var entry: JSONObject = [
                "MessageId": .string(FakeIdentifiers.messageID(sequence)),
                "ReceiptHandle": .string(FakeIdentifiers.receiptHandle(queue: q, sequence: sequence, delivery: message.delivery)),
                "Body": .string(message.body),
            ]
            if !attributes.isEmpty { entry["Attributes"] = .object(attributes) }
            delivered.append(.object(entry))
        }
        counters.deliveries += delivered.count
        return delivered.isEmpty ? .ok() : .ok(["Messages": .array(delivered)])
    }

    /// Arms the visibility timer for the earliest deadline, unless one already fires before it.
    mutating func armTimer(now: UInt64, wakeups: inout Wakeups) {
        guard let top = visibility.top else { return }
        let deadline = max(top.deadline, now + Self.timerGranularity)
        guard top.deadline < timerDeadline else { return }
        timerDeadline = deadline
        wakeups.timer = deadline
    }

    /// The visibility timer fired: every message whose timeout passed becomes visible again.
    mutating func expireVisibility(armedFor deadline: UInt64, now: UInt64, wakeups: inout Wakeups) {
        if timerDeadline == deadline { timerDeadline = .max }
        var touched: [Int] = []
        while let top = visibility.top, top.deadline <= now {
            _ = visibility.pop()
            // An entry outlives its delivery: skip it if the message was deleted, or given a later timeout.
            guard var message = queues[top.queue].messages[top.sequence], message.inFlight, message.visibleAt <= now else { continue }
            message.inFlight = false
            queues[top.queue].messages[top.sequence] = message
            queues[top.queue].inFlight -= 1
            queues[top.queue].visible.append(top.sequence)
            if !touched.contains(top.queue) { touched.append(top.queue) }
        }
        for q in touched { wake(queue: q, now: now, wakeups: &wakeups) }
        if timerDeadline == .max { armTimer(now: now, wakeups: &wakeups) }
    }

    /// Ends a parked long poll (its wait is over, or its connection closed); nil if it was answered.
    mutating func endWait(_ id: Int) -> EventLoopPromise<FakeReply>? {
        guard let waiter = waiters.removeValue(forKey: id) else { return nil }
        if let index = queues[waiter.queue].waiters.firstIndex(of: id) { queues[waiter.queue].waiters.remove(at: index) }
        return waiter.promise
    }

    // MARK: deleting

    enum HandleState { case current(sequence: Int), gone, invalid }

    /// What a receipt handle refers to. A handle of a message already deleted, or of an earlier
    /// delivery, is `gone`: AWS answers success and may not delete the message.
    func lookup(handle: String, queue q: Int) -> HandleState {
        guard let parsed = FakeIdentifiers.parse(receiptHandle: handle), parsed.queue == q,
            parsed.sequence < firstDelivery.count, firstDelivery[parsed.sequence] != 0
        else { return .invalid }
        guard let message = queues[q].messages[parsed.sequence], message.inFlight, message.delivery == parsed.delivery else { return .gone }
        return .current(sequence: parsed.sequence)
    }

    /// Deletes the message a receipt handle names; false if the handle is not one this queue issued.
    mutating func delete(handle: String, queue q: Int) -> Bool {
        switch lookup(handle: handle, queue: q) {
        case .invalid: return false
        case .gone: return true
        case .current(let sequence):
            queues[q].messages[sequence] = nil
            queues[q].inFlight -= 1
            queues[q].deleted += 1
            return true
        }
    }

    static func invalidHandle(_ handle: String) -> String { "The input receipt handle \"\(handle)\" is not a valid receipt handle." }
}

/// One task token as Step Functions sees it.
struct TaskRecord {
    /// When its first SendTaskSuccess or SendTaskFailure was accepted (uptime ns); 0 while open.
    var closedAt: UInt64 = 0
    /// What that first outcome said (a hash of the operation and its fields), to tell a repeat
    /// of it from a different second outcome.
    var outcome = 0
    var heartbeats = 0
}

/// A SendTask* call held unapplied and unanswered (``FakeAWS/holdClosingCalls(_:)``).
struct HeldCall {
    var operation: String
    var request: JSONObject
    var promise: EventLoopPromise<FakeReply>
    /// The listener port it arrived at.
    var port: Int
}
