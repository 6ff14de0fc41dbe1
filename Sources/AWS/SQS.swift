import JSON

/// One message received from an SQS queue.
public struct SQSMessage: Sendable, Equatable {
    public var messageID: String
    public var receiptHandle: String
    public var body: String
    /// How many times SQS has handed this message out (1 on first delivery).
    public var receiveCount: Int
    /// When SQS accepted the message (epoch milliseconds), when it said.
    public var sentAt: Int64?
    public init(messageID: String, receiptHandle: String, body: String, receiveCount: Int = 1, sentAt: Int64? = nil) {
        self.messageID = messageID
        self.receiptHandle = receiptHandle
        self.body = body
        self.receiveCount = receiveCount
        self.sentAt = sentAt
    }
}

/// An entry of a batch delete that SQS refused.
public struct SQSBatchFailure: Sendable, Equatable {
    public var id: String
    public var code: String
    public var message: String
    public var senderFault: Bool
}

/// The SQS operations the service needs, over the JSON protocol.
public struct SQS: Sendable {
    /// At most this many messages per receive and entries per batch delete.
    public static let batchLimit = 10
    /// The longest long poll SQS allows.
    public static let maxWait = 20
    /// One attempt's time limit for the calls that are not long polls (deletes, visibility):
    /// SQS answers them in milliseconds, and a stalled one holds one of the consumer's few
    /// batches in hand until it runs out (the client's default is 30 s).
    public static let callTimeout: Duration = .seconds(10)

    public let client: AWSClient
    public init(client: AWSClient) { self.client = client }

    /// Long-polls `queueURL` for up to `maxMessages` messages. An empty answer is an empty array.
    public func receiveMessages(
        queueURL: String,
        maxMessages: Int = SQS.batchLimit,
        waitSeconds: Int = SQS.maxWait,
        visibilityTimeout: Int? = nil
    ) async throws -> [SQSMessage] {
        var body: JSONObject = [
            "QueueUrl": .string(queueURL),
            "MaxNumberOfMessages": JSONValue(min(max(maxMessages, 1), SQS.batchLimit)),
            "WaitTimeSeconds": JSONValue(min(max(waitSeconds, 0), SQS.maxWait)),
            "MessageSystemAttributeNames": ["ApproximateReceiveCount", "SentTimestamp"],
        ]
        if let visibilityTimeout { body["VisibilityTimeout"] = JSONValue(visibilityTimeout) }
        // The read timeout outlasts the long poll, so a quiet queue is never a transport error.
        let response = try await client.call(.sqs, "ReceiveMessage", body, timeout: .seconds(waitSeconds + 15))
        guard let messages = response["Messages"]?.arrayValue else { return [] }
        return try messages.map { value in
            guard let id = value["MessageId"]?.stringValue, let handle = value["ReceiptHandle"]?.stringValue else {
                throw AWSResponseError(operation: "ReceiveMessage", reason: "a message lacks MessageId or ReceiptHandle")
            }
            let count = value["Attributes"]?["ApproximateReceiveCount"]?.stringValue.flatMap(Int.init) ?? 1
            let sentAt = value["Attributes"]?["SentTimestamp"]?.stringValue.flatMap(Int64.init)
            return SQSMessage(messageID: id, receiptHandle: handle, body: value["Body"]?.stringValue ?? "", receiveCount: count, sentAt: sentAt)
        }
    }

    /// Deletes up to ten messages; returns the entries SQS refused (a 200 answer may still list some).
    public func deleteMessageBatch(queueURL: String, receiptHandles: [(id: String, receiptHandle: String)]) async throws -> [SQSBatchFailure] {
        precondition(receiptHandles.count <= SQS.batchLimit, "SQS batch deletes take at most ten entries")
        guard !receiptHandles.isEmpty else { return [] }
        let entries = receiptHandles.map { entry -> JSONValue in
            .object(["Id": .string(entry.id), "ReceiptHandle": .string(entry.receiptHandle)])
        }
        let response = try await client.call(
            .sqs, "DeleteMessageBatch", ["QueueUrl": .string(queueURL), "Entries": .array(entries)], timeout: Self.callTimeout)
        return (response["Failed"]?.arrayValue ?? []).map { failed in
            SQSBatchFailure(
                id: failed["Id"]?.stringValue ?? "",
                code: failed["Code"]?.stringValue ?? "Unknown",
                message: failed["Message"]?.stringValue ?? "",
                senderFault: failed["SenderFault"]?.boolValue ?? false
            )
        }
    }

    /// Sends one message and returns its id.
    @discardableResult
    public func sendMessage(queueURL: String, body: String) async throws -> String {
        let response = try await client.call(.sqs, "SendMessage", ["QueueUrl": .string(queueURL), "MessageBody": .string(body)])
        return response["MessageId"]?.stringValue ?? ""
    }
}
