public import AWS
import JSON

/// Loads a queue through our own AWS client with SendMessageBatch, ten messages a call, several
/// calls in flight, and returns the message ids SQS gave, in the order of the bodies.
public struct QueueLoader: Sendable {
    public let client: AWSClient
    public var concurrency = 8

    public init(client: AWSClient, concurrency: Int = 8) {
        self.client = client
        self.concurrency = concurrency
    }

    public func send(count: Int, to queueURL: String, body: @escaping @Sendable (Int) -> String) async throws -> [String] {
        try await send(Array(0..<count), to: queueURL, body: body)
    }

    /// Sends `body(i)` for each of `items`; ids come back in the order of `items`.
    public func send(_ items: [Int], to queueURL: String, body: @escaping @Sendable (Int) -> String) async throws -> [String] {
        let batches = (items.count + SQS.batchLimit - 1) / SQS.batchLimit
        var ids = [String](repeating: "", count: items.count)
        let sendOne: @Sendable (Int) async throws -> (Int, [String]) = { batch in
            let range = batch * SQS.batchLimit..<min(items.count, (batch + 1) * SQS.batchLimit)
            return (range.lowerBound, try await sendBatch(range.map { body(items[$0]) }, to: queueURL))
        }
        try await withThrowingTaskGroup(of: (Int, [String]).self) { group in
            var next = 0
            while next < min(concurrency, batches) {
                group.addTask { [next] in try await sendOne(next) }
                next += 1
            }
            while let (start, batchIDs) = try await group.next() {
                for (offset, id) in batchIDs.enumerated() { ids[start + offset] = id }
                if next < batches {
                    group.addTask { [next] in try await sendOne(next) }
                    next += 1
                }
            }
        }
        return ids
    }

    /// One SendMessageBatch; every entry must succeed.
    public func sendBatch(_ bodies: [String], to queueURL: String) async throws -> [String] {
        let entries = bodies.enumerated().map { JSONValue.object(["Id": .string("m\($0.offset)"), "MessageBody": .string($0.element)]) }
        let response = try await client.call(.sqs, "SendMessageBatch", ["QueueUrl": .string(queueURL), "Entries": .array(entries)])
        if let failed = response["Failed"]?.arrayValue, !failed.isEmpty {
            throw BenchError("SendMessageBatch refused \(failed.count) entries: \(failed.first?["Code"]?.stringValue ?? "?")")
        }
        var ids = [String](repeating: "", count: bodies.count)
        for entry in response["Successful"]?.arrayValue ?? [] {
            guard let id = entry["Id"]?.stringValue, let index = Int(id.dropFirst()), let messageID = entry["MessageId"]?.stringValue else {
                continue
            }
            ids[index] = messageID
        }
        return ids
    }
}
