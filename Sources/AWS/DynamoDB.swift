import JSON

/// The DynamoDB operations on one table, over the JSON protocol.
///
/// Every item request asks for `ReturnConsumedCapacity: TOTAL`; every request is counted by `meter`. Errors
/// never echo item values: every string value of the request (of 8 characters or more, as a task
/// token is) is redacted from the service's message. A refused condition throws
/// ``DynamoConditionFailed``, a cancelled transaction ``DynamoTransactionCanceled``; neither is
/// retried by the client.
public struct DynamoDB: Sendable {
    /// Keys per `BatchGetItem` request, and writes per `TransactWriteItems`: AWS's limits.
    public static let batchGetLimit = 100
    public static let transactionLimit = 100
    /// Strings shorter than this are not redacted from error messages (they would mangle the
    /// message and are too short to be a secret).
    static let redactedLength = 8
    /// How `BatchGetItem` waits before asking again for keys DynamoDB left unprocessed.
    static let unprocessedBackoff = RetryPolicy(maxAttempts: 10, base: .milliseconds(50), cap: .seconds(5))
    /// The operations that take `ReturnConsumedCapacity`, and those of them whose bare
    /// `CapacityUnits` are write units.
    static let readOperations: Set<String> = ["GetItem", "BatchGetItem", "Query", "Scan"]
    static let writeOperations: Set<String> = ["PutItem", "DeleteItem", "UpdateItem", "TransactWriteItems"]

    public let client: AWSClient
    public let table: String
    public let meter: DynamoCapacityMeter?

    public init(client: AWSClient, table: String, meter: DynamoCapacityMeter? = nil) {
        self.client = client
        self.table = table
        self.meter = meter
    }

    // MARK: - Items

    /// The item with `key`, or nil.
    public func getItem(key: DynamoItem, consistent: Bool = true) async throws -> DynamoItem? {
        let response = try await send(
            "GetItem", ["TableName": .string(table), "Key": .object(DynamoValue.json(key)), "ConsistentRead": .bool(consistent)],
            secrets: Self.strings([key], [])
        )
        return try response["Item"].map { try Self.item($0, operation: "GetItem") }
    }

    /// The items with `keys` (any number; repeated keys are asked for once), in no particular
    /// order; keys without an item are left out. Sent in chunks of 100; keys DynamoDB leaves
    /// unprocessed are asked for again with backoff.
    public func batchGetItem(keys: [DynamoItem], consistent: Bool = true) async throws -> [DynamoItem] {
        var seen = Set<DynamoItem>()
        let unique = keys.filter { seen.insert($0).inserted }
        var found: [DynamoItem] = []
        for start in stride(from: 0, to: unique.count, by: Self.batchGetLimit) {
            var pending = Array(unique[start..<min(start + Self.batchGetLimit, unique.count)])
            var rounds = 0
            while !pending.isEmpty {
                let request: JSONObject = ["Keys": .array(pending.map { .object(DynamoValue.json($0)) }), "ConsistentRead": .bool(consistent)]
                let response = try await send(
                    "BatchGetItem", ["RequestItems": .object([table: .object(request)])], secrets: Self.strings(pending, [])
                )
                found += try Self.items(response["Responses"]?[table], operation: "BatchGetItem")
                pending = try Self.items(response["UnprocessedKeys"]?[table]?["Keys"], operation: "BatchGetItem")
                guard !pending.isEmpty else { break }
                rounds += 1
                switch Self.unprocessedBackoff.decide(.throttling, attempt: rounds, random: { Double.random(in: 0..<1) }) {
                case .giveUp:
                    throw AWSResponseError(operation: "BatchGetItem", reason: "\(pending.count) keys were still unprocessed after \(rounds) requests")
                case .retry(let wait):
                    try await Task.sleep(for: wait)
                }
            }
        }
        return found
    }

    /// Writes `item` whole, when `condition` (if any) holds.
    /// - Throws: ``DynamoConditionFailed`` when it does not.
    public func putItem(_ item: DynamoItem, condition: DynamoExpression? = nil) async throws {
        let body = DynamoWrite.body(table: table, ["Item": .object(DynamoValue.json(item))], condition: condition)
        _ = try await send("PutItem", body, secrets: Self.strings([item], [condition]))
    }

    /// Deletes the item with `key` (nothing happens when there is none), when `condition` holds.
    /// - Throws: ``DynamoConditionFailed`` when it does not.
    public func deleteItem(key: DynamoItem, condition: DynamoExpression? = nil) async throws {
        let body = DynamoWrite.body(table: table, ["Key": .object(DynamoValue.json(key))], condition: condition)
        _ = try await send("DeleteItem", body, secrets: Self.strings([key], [condition]))
    }

    /// Applies `update` to the item with `key` (creating it when missing), when `condition` holds,
    /// and returns the item after the update (`ReturnValues: ALL_NEW`).
    /// - Throws: ``DynamoConditionFailed`` when the condition does not hold.
    public func updateItem(key: DynamoItem, update: DynamoExpression, condition: DynamoExpression? = nil) async throws -> DynamoItem {
        var body = DynamoWrite.body(table: table, ["Key": .object(DynamoValue.json(key))], update: update, condition: condition)
        body["ReturnValues"] = "ALL_NEW"
        let response = try await send("UpdateItem", body, secrets: Self.strings([key], [update, condition]))
        return try Self.item(response["Attributes"] ?? .object([:]), operation: "UpdateItem")
    }

    /// Applies all of `writes` (at most 100, each on a different item of this table) or none.
    /// `clientRequestToken` makes a resend within ten minutes a no-op on AWS.
    /// - Throws: ``DynamoTransactionCanceled`` when a condition failed or another write collided.
    public func transactWriteItems(_ writes: [DynamoWrite], clientRequestToken: String? = nil) async throws {
        precondition(writes.count <= Self.transactionLimit, "TransactWriteItems takes at most 100 writes")
        guard !writes.isEmpty else { return }
        var body: JSONObject = ["TransactItems": .array(writes.map { $0.json(table: table) })]
        if let clientRequestToken { body["ClientRequestToken"] = .string(clientRequestToken) }
        _ = try await send("TransactWriteItems", body, secrets: writes.flatMap(\.strings))
    }

    // MARK: - Queries

    /// One page of a Query of the table (`index` nil) or of a secondary index, and the key to
    /// start the next page from (nil on the last page). `limit` bounds the items *evaluated*, so a
    /// filtered page may hold fewer, even none, while more pages follow.
    public func query(
        index: String?, keyCondition: DynamoExpression, filter: DynamoExpression? = nil, limit: Int? = nil,
        ascending: Bool = true, startKey: DynamoItem? = nil, consistent: Bool = false
    ) async throws -> (items: [DynamoItem], lastKey: DynamoItem?) {
        var body = queryBody(index: index, keyCondition: keyCondition, filter: filter)
        if let limit { body["Limit"] = JSONValue(limit) }
        body["ScanIndexForward"] = .bool(ascending)
        if let startKey { body["ExclusiveStartKey"] = .object(DynamoValue.json(startKey)) }
        body["ConsistentRead"] = .bool(consistent)
        let response = try await send("Query", body, secrets: Self.strings([startKey ?? [:]], [keyCondition, filter]))
        return (try Self.items(response["Items"], operation: "Query"), try response["LastEvaluatedKey"].map { try Self.item($0, operation: "Query") })
    }

    /// How many items a Query matches (after `filter`), all pages added up.
    public func count(index: String?, keyCondition: DynamoExpression, filter: DynamoExpression? = nil) async throws -> Int {
        try await countPages("Query", queryBody(index: index, keyCondition: keyCondition, filter: filter), secrets: Self.strings([], [keyCondition, filter]))
    }

    /// How many items of the whole table match `filter` (all when nil), all pages of a Scan added
    /// up. It reads the whole table: for operator commands, not for the service's paths.
    public func scanCount(filter: DynamoExpression?) async throws -> Int {
        var body: JSONObject = ["TableName": .string(table)]
        if let filter { body["FilterExpression"] = .string(filter.expression) }
        DynamoExpression.placeholders([filter], into: &body)
        return try await countPages("Scan", body, secrets: Self.strings([], [filter]))
    }

    private func queryBody(index: String?, keyCondition: DynamoExpression, filter: DynamoExpression?) -> JSONObject {
        var body: JSONObject = ["TableName": .string(table)]
        if let index { body["IndexName"] = .string(index) }
        body["KeyConditionExpression"] = .string(keyCondition.expression)
        if let filter { body["FilterExpression"] = .string(filter.expression) }
        DynamoExpression.placeholders([keyCondition, filter], into: &body)
        return body
    }

    /// Sends `body` with `Select: COUNT` page after page and adds up `Count`.
    private func countPages(_ operation: String, _ body: JSONObject, secrets: [String]) async throws -> Int {
        var body = body
        body["Select"] = "COUNT"
        var total = 0
        while true {
            let response = try await send(operation, body, secrets: secrets)
            guard let count = response["Count"]?.intValue else {
                throw AWSResponseError(operation: operation, reason: "the answer has no Count")
            }
            total += count
            guard let lastKey = response["LastEvaluatedKey"] else { return total }
            body["ExclusiveStartKey"] = lastKey
        }
    }

    // MARK: - Sending

    /// Sends one request, counts it and its capacity, and turns a refused condition or a
    /// cancelled transaction into their own errors.
    func send(_ operation: String, _ body: JSONObject, secrets: [String]) async throws -> JSONObject {
        let isWrite = Self.writeOperations.contains(operation)
        var body = body
        if isWrite || Self.readOperations.contains(operation) { body["ReturnConsumedCapacity"] = "TOTAL" }
        meter?.countCall()
        let response: JSONObject
        do {
            response = try await client.call(.dynamoDB, operation, body, redacting: secrets)
        } catch let error as AWSError where error.code == "ConditionalCheckFailedException" {
            throw DynamoConditionFailed(operation: operation)
        } catch let error as AWSError where error.code == "TransactionCanceledException" {
            throw DynamoTransactionCanceled(reasons: error.cancellationReasons, message: error.message)
        }
        meter?.record(response, isWrite: isWrite)
        return response
    }

    /// The strings of `items` and of the expressions' values long enough to be worth redacting.
    static func strings(_ items: [DynamoItem], _ expressions: [DynamoExpression?]) -> [String] {
        let values = items.flatMap(\.values) + expressions.compactMap { $0 }.flatMap(\.values.values)
        return values.flatMap(\.strings).filter { $0.count >= redactedLength }
    }

    static func item(_ value: JSONValue, operation: String) throws -> DynamoItem {
        guard let object = value.objectValue else { throw AWSResponseError(operation: operation, reason: "an item is not an object") }
        return try DynamoValue.item(object)
    }

    /// The items of an array; none when `value` is absent.
    static func items(_ value: JSONValue?, operation: String) throws -> [DynamoItem] {
        guard let value else { return [] }
        guard let elements = value.arrayValue else { throw AWSResponseError(operation: operation, reason: "the items are not an array") }
        return try elements.map { try item($0, operation: operation) }
    }
}
