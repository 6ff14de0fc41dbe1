import JSON
import NIOCore

/// The SQS operations `serve` and the bench use, over the JSON protocol.
extension FakeState {
    static let maxBodyBytes = 1_048_576
    static let defaultVisibilityTimeout = 30

    mutating func sqs(
        _ operation: String, _ request: JSONObject, now: UInt64, wallMillis: Int64, eventLoop: any EventLoop, wakeups: inout Wakeups
    ) -> ReceiveOutcome {
        counters.requests[operation, default: 0] += 1
        switch operation {
        case "CreateQueue":
            guard let name = request["QueueName"]?.stringValue, !name.isEmpty, name.utf8.count <= 80 else {
                return .reply(.sqsError("InvalidParameterValue", "QueueName is missing or invalid.", queryCode: "InvalidParameterValue"))
            }
            return .reply(.ok(["QueueUrl": .string(queues[createQueue(name)].url)]))
        case "GetQueueUrl":
            guard let name = request["QueueName"]?.stringValue, let q = queueIndex[name] else { return .reply(Self.noSuchQueue) }
            return .reply(.ok(["QueueUrl": .string(queues[q].url)]))
        default:
            break
        }
        guard let q = queue(of: request) else { return .reply(Self.noSuchQueue) }
        switch operation {
        case "SendMessage":
            guard let body = request["MessageBody"]?.stringValue, !body.isEmpty, body.utf8.count <= Self.maxBodyBytes else {
                return .reply(Self.invalidBody)
            }
            if let refused = Self.refusedCharacter(in: body) {
                return .reply(.sqsError("InvalidMessageContents", Self.invalidContents(refused), queryCode: "InvalidMessageContents"))
            }
            let sequence = enqueue(body, queue: q, now: now, wallMillis: wallMillis)
            wake(queue: q, now: now, wakeups: &wakeups)
            return .reply(.ok(["MessageId": .string(FakeIdentifiers.messageID(sequence))]))
        case "SendMessageBatch":
            return .reply(sendBatch(request, queue: q, now: now, wallMillis: wallMillis, wakeups: &wakeups))
        case "ReceiveMessage":
            return receive(request, queue: q, now: now, eventLoop: eventLoop, wakeups: &wakeups)
        case "DeleteMessage":
            guard let handle = request["ReceiptHandle"]?.stringValue, delete(handle: handle, queue: q) else {
                let handle = request["ReceiptHandle"]?.stringValue ?? ""
                return .reply(.sqsError("ReceiptHandleIsInvalid", Self.invalidHandle(handle), queryCode: "ReceiptHandleIsInvalid"))
            }
            return .reply(.ok())
        case "DeleteMessageBatch":
            return .reply(deleteBatch(request, queue: q))
        case "ChangeMessageVisibility":
            return .reply(changeVisibility(request, queue: q, now: now, wakeups: &wakeups))
        case "GetQueueAttributes":
            let counts = queues[q].counts
            return .reply(
                .ok([
                    "Attributes": [
                        "ApproximateNumberOfMessages": .string(String(counts.visible)),
                        "ApproximateNumberOfMessagesNotVisible": .string(String(counts.inFlight)),
                        "ApproximateNumberOfMessagesDelayed": "0",
                        "VisibilityTimeout": .string(String(queues[q].visibilityTimeout)),
                        "QueueArn": .string("arn:aws:sqs:us-east-1:\(Self.account):\(queues[q].name)"),
                    ]
                ]))
        default:
            return .reply(
                .error(
                    "com.amazonaws.sqs#UnsupportedOperation", "The fake does not implement \(operation).",
                    queryCode: "AWS.SimpleQueueService.UnsupportedOperation"))
        }
    }

    /// The first character SQS refuses in a message body: it takes #x9, #xA, #xD, #x20 to
    /// #xD7FF, #xE000 to #xFFFD and #x10000 to #x10FFFF (so never a raw NUL).
    static func refusedCharacter(in body: String) -> Unicode.Scalar? {
        body.unicodeScalars.first { scalar in
            switch scalar.value {
            case 0x9, 0xA, 0xD, 0x20...0xD7FF, 0xE000...0xFFFD, 0x10000...0x10FFFF: false
            default: true
            }
        }
    }

    static func invalidContents(_ scalar: Unicode.Scalar) -> String {
        "Invalid binary character '#x\(String(scalar.value, radix: 16, uppercase: true))' was found in the message body, the set of allowed characters is #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF"
    }

    static let invalidBody = FakeReply.sqsError(
        "InvalidParameterValue", "MessageBody is missing, empty or over 1 MiB.", queryCode: "InvalidParameterValue")

    /// A failed entry of a batch: its code and message.
    struct BatchFailure: Error {
        var code: String
        var message: String
    }

    /// Runs `each` over a batch request's entries (1 to 10, or the error SQS gives) and answers
    /// with the Successful and Failed lists; `each` returns the fields of a successful entry.
    mutating func batch(_ request: JSONObject, _ each: (inout FakeState, JSONValue) -> Result<JSONObject, BatchFailure>) -> FakeReply {
        let entries = request["Entries"]?.arrayValue ?? []
        if entries.isEmpty {
            return .sqsError(
                "EmptyBatchRequest", "There should be at least one entry in the request.", queryCode: "AWS.SimpleQueueService.EmptyBatchRequest")
        }
        if entries.count > 10 {
            return .sqsError(
                "TooManyEntriesInBatchRequest", "Maximum number of entries per request are 10.",
                queryCode: "AWS.SimpleQueueService.TooManyEntriesInBatchRequest")
        }
        var successful: [JSONValue] = [], failed: [JSONValue] = []
        for entry in entries {
            let id = JSONValue.string(entry["Id"]?.stringValue ?? "")
            switch each(&self, entry) {
            case .success(var fields):
                fields["Id"] = id
                successful.append(.object(fields))
            case .failure(let failure):
                failed.append(["Id": id, "SenderFault": true, "Code": .string(failure.code), "Message": .string(failure.message)])
            }
        }
        return .ok(["Successful": .array(successful), "Failed": .array(failed)])
    }

    mutating func sendBatch(_ request: JSONObject, queue q: Int, now: UInt64, wallMillis: Int64, wakeups: inout Wakeups) -> FakeReply {
        let reply = batch(request) { state, entry in
            guard let body = entry["MessageBody"]?.stringValue, !body.isEmpty, body.utf8.count <= Self.maxBodyBytes else {
                return .failure(BatchFailure(code: "InvalidParameterValue", message: "MessageBody is missing, empty or over 1 MiB."))
            }
            if let refused = Self.refusedCharacter(in: body) {
                return .failure(BatchFailure(code: "InvalidMessageContents", message: Self.invalidContents(refused)))
            }
            let sequence = state.enqueue(body, queue: q, now: now, wallMillis: wallMillis)
            return .success(["MessageId": .string(FakeIdentifiers.messageID(sequence))])
        }
        wake(queue: q, now: now, wakeups: &wakeups)
        return reply
    }

    mutating func receive(_ request: JSONObject, queue q: Int, now: UInt64, eventLoop: any EventLoop, wakeups: inout Wakeups) -> ReceiveOutcome {
        let names = (request["MessageSystemAttributeNames"]?.arrayValue ?? []) + (request["AttributeNames"]?.arrayValue ?? [])
        let all = names.contains("All")
        let parameters = ReceiveRequest(
            maxMessages: min(max(request["MaxNumberOfMessages"]?.intValue ?? 1, 1), 10),
            visibilityTimeout: request["VisibilityTimeout"]?.intValue,
            receiveCountAttribute: all || names.contains("ApproximateReceiveCount"),
            sentTimestampAttribute: all || names.contains("SentTimestamp")
        )
        let wait = min(max(request["WaitTimeSeconds"]?.intValue ?? 0, 0), 20)
        if !queues[q].held, !queues[q].visible.isEmpty || wait == 0 {
            return .reply(deliver(queue: q, parameters, now: now, wakeups: &wakeups))
        }
        guard wait > 0 else { return .reply(.ok()) }
        let id = nextWaiter
        nextWaiter += 1
        let promise = eventLoop.makePromise(of: FakeReply.self)
        waiters[id] = FakeWaiter(queue: q, request: parameters, promise: promise, timeout: nil)
        queues[q].waiters.append(id)
        return .wait(id: id, promise: promise, seconds: wait)
    }

    mutating func deleteBatch(_ request: JSONObject, queue q: Int) -> FakeReply {
        batch(request) { state, entry in
            let handle = entry["ReceiptHandle"]?.stringValue ?? ""
            guard state.delete(handle: handle, queue: q) else {
                return .failure(BatchFailure(code: "ReceiptHandleIsInvalid", message: Self.invalidHandle(handle)))
            }
            return .success([:])
        }
    }

    mutating func changeVisibility(_ request: JSONObject, queue q: Int, now: UInt64, wakeups: inout Wakeups) -> FakeReply {
        let handle = request["ReceiptHandle"]?.stringValue ?? ""
        guard let timeout = request["VisibilityTimeout"]?.intValue, (0...43_200).contains(timeout) else {
            return .sqsError("InvalidParameterValue", "VisibilityTimeout must be 0 to 43200.", queryCode: "InvalidParameterValue")
        }
        switch lookup(handle: handle, queue: q) {
        case .invalid:
            return .sqsError("ReceiptHandleIsInvalid", Self.invalidHandle(handle), queryCode: "ReceiptHandleIsInvalid")
        case .gone:
            return .sqsError(
                "MessageNotInflight", "Message does not exist or is not available for visibility timeout change.",
                queryCode: "AWS.SimpleQueueService.MessageNotInflight")
        case .current(let sequence):
            if timeout == 0 {
                queues[q].messages[sequence]?.inFlight = false
                queues[q].inFlight -= 1
                queues[q].visible.append(sequence)
                wake(queue: q, now: now, wakeups: &wakeups)
            } else {
                let deadline = now + UInt64(timeout) * 1_000_000_000
                queues[q].messages[sequence]?.visibleAt = deadline
                visibility.push(.init(deadline: deadline, queue: q, sequence: sequence))
                armTimer(now: now, wakeups: &wakeups)
            }
            return .ok()
        }
    }
}
