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
    /// The table's key attributes and global secondary indexes, for the units `meter` computes
    /// (index writes, and the kind of each item in its breakdown).
    public let tableKey: [String]
    public let indexes: [DynamoCapacityRules.Index]

    public init(
        client: AWSClient, table: String, meter: DynamoCapacityMeter? = nil, tableKey: [String] = [], indexes: [DynamoCapacityRules.Index] = []
    ) {
        self.client = client
        self.table = table
        self.meter = meter
        self.tableKey = tableKey
        self.indexes = indexes
    }

    // MARK: - Items

    /// The item with `key`, or nil.
    public func getItem(key: DynamoItem, consistent: Bool = true) async throws -> DynamoItem? {
        let response = try await send(
            "GetItem", ["TableName": .string(table), "Key": .object(DynamoValue.json(key)), "ConsistentRead": .bool(consistent)],
            secrets: Self.strings([key], [])
        )
        let item = try response["Item"].map { try Self.item($0, operation: "GetItem") }
        if meter != nil { chargeReads(found: item.map { [$0] } ?? [], missing: item == nil ? [key] : [], consistent: consistent) }
        return item
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
                let returned = try Self.items(response["Responses"]?[table], operation: "BatchGetItem")
                found += returned
                let unprocessed = try Self.items(response["UnprocessedKeys"]?[table]?["Keys"], operation: "BatchGetItem")
                if meter != nil {
                    let answered = Set(returned.map { key(of: $0) }).union(unprocessed)
                    chargeReads(found: returned, missing: pending.filter { !answered.contains($0) }, consistent: consistent)
                }
                pending = unprocessed
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
    /// `previous` is the item as the caller last read it (nil: none, or not known), for the
    /// units computed: a put that replaces an item is charged on the larger of the two.
    public func putItem(_ item: DynamoItem, condition: DynamoExpression? = nil, previous: DynamoItem? = nil) async throws {
        let body = DynamoWrite.body(table: table, ["Item": .object(DynamoValue.json(item))], condition: condition)
        _ = try await send("PutItem", body, secrets: Self.strings([item], [condition]))
        if let meter { meter.charge(writeCharges(key: key(of: item), before: previous, after: item, factor: 1)) }
    }

    /// Deletes the item with `key` (nothing happens when there is none), when `condition` holds.
    /// - Throws: ``DynamoConditionFailed`` when it does not.
    /// `previous` is the item as the caller last read it, for the units computed (a delete is
    /// charged on the item deleted); without it the delete is charged one unit, no index writes,
    /// and counted in ``DynamoCapacityMeter/Snapshot/writesWithoutPrevious``.
    public func deleteItem(key: DynamoItem, condition: DynamoExpression? = nil, previous: DynamoItem? = nil) async throws {
        let body = DynamoWrite.body(table: table, ["Key": .object(DynamoValue.json(key))], condition: condition)
        _ = try await send("DeleteItem", body, secrets: Self.strings([key], [condition]))
        if let meter {
            meter.charge(writeCharges(key: key, before: previous ?? key, after: nil, factor: 1), withoutPrevious: previous == nil ? 1 : 0)
        }
    }

    /// Applies `update` to the item with `key` (creating it when missing), when `condition` holds,
    /// and returns the item after the update (`ReturnValues: ALL_NEW`).
    /// - Throws: ``DynamoConditionFailed`` when the condition does not hold.
    /// `previous`: the item as the caller last read it, for the units computed (an update is
    /// charged on the larger of before and after).
    public func updateItem(key: DynamoItem, update: DynamoExpression, condition: DynamoExpression? = nil, previous: DynamoItem? = nil) async throws
        -> DynamoItem
    {
        var body = DynamoWrite.body(table: table, ["Key": .object(DynamoValue.json(key))], update: update, condition: condition)
        body["ReturnValues"] = "ALL_NEW"
        let response = try await send("UpdateItem", body, secrets: Self.strings([key], [update, condition]))
        let after = try Self.item(response["Attributes"] ?? .object([:]), operation: "UpdateItem")
        if let meter {
            // Without the item before, it is taken to be the size of the item after, and in every
            // index the item after is in, with other projected values (one index write each).
            let charges = writeCharges(key: key, before: previous, after: after, factor: 1, unknownBeforeChangesIndexes: previous == nil)
            meter.charge(charges, withoutPrevious: previous == nil ? 1 : 0)
        }
        return after
    }

    /// Applies all of `writes` (at most 100, each on a different item of this table) or none.
    /// `clientRequestToken` makes a resend within ten minutes a no-op on AWS.
    /// - Throws: ``DynamoTransactionCanceled`` when a condition failed or another write collided.
    /// `previous[i]` is the item of `writes[i]` as the caller last read it (nil, or a shorter
    /// array: none, or not known), for the units computed: each write is charged twice its
    /// standard units (a condition check twice the units of the item checked); index writes once.
    public func transactWriteItems(_ writes: [DynamoWrite], clientRequestToken: String? = nil, previous: [DynamoItem?] = []) async throws {
        precondition(writes.count <= Self.transactionLimit, "TransactWriteItems takes at most 100 writes")
        guard !writes.isEmpty else { return }
        var body: JSONObject = ["TransactItems": .array(writes.map { $0.json(table: table) })]
        if let clientRequestToken { body["ClientRequestToken"] = .string(clientRequestToken) }
        _ = try await send("TransactWriteItems", body, secrets: writes.flatMap(\.strings))
        guard let meter else { return }
        var charges: [DynamoCapacityMeter.Charge] = []
        var withoutPrevious = 0
        for (offset, write) in writes.enumerated() {
            let before = offset < previous.count ? previous[offset] : nil
            switch write {
            case .put(let item, _):
                charges += writeCharges(key: key(of: item), before: before, after: item, factor: 2)
            case .delete(let key, _):
                if before == nil { withoutPrevious += 1 }
                charges += writeCharges(key: key, before: before ?? key, after: nil, factor: 2)
            case .update(let key, _, _):
                // The item after is not returned: charged on the item before (or its key).
                if before == nil { withoutPrevious += 1 }
                charges += writeCharges(key: key, before: before, after: before ?? key, factor: 2, unknownBeforeChangesIndexes: true)
            case .conditionCheck(let key, _):
                if before == nil { withoutPrevious += 1 }
                let bytes = DynamoCapacityRules.size(of: before ?? key)
                charges.append(
                    .init(
                        kind: DynamoCapacityMeter.kind(of: key, tableKey: tableKey),
                        writeUnits: Double(2 * DynamoCapacityRules.writeUnits(bytes: bytes)), bytes: bytes))
            }
        }
        meter.charge(charges, withoutPrevious: withoutPrevious)
    }

    // MARK: - Computed units

    /// The key attributes of `item` (the whole item when the table's key is not known).
    func key(of item: DynamoItem) -> DynamoItem {
        tableKey.isEmpty ? item : item.filter { tableKey.contains($0.key) }
    }

    /// The charges of one write of the item with `key`, from `before` to `after` (nil: absent):
    /// `factor` times the units of the larger of the two, and the writes of each index.
    func writeCharges(
        key: DynamoItem, before: DynamoItem?, after: DynamoItem?, factor: Int, unknownBeforeChangesIndexes: Bool = false
    ) -> [DynamoCapacityMeter.Charge] {
        let bytes = max(before.map(DynamoCapacityRules.size(of:)) ?? 0, after.map(DynamoCapacityRules.size(of:)) ?? 0)
        var charges: [DynamoCapacityMeter.Charge] = [
            .init(
                kind: DynamoCapacityMeter.kind(of: key, tableKey: tableKey),
                writeUnits: Double(factor * DynamoCapacityRules.writeUnits(bytes: bytes)), bytes: bytes)
        ]
        for index in indexes {
            let units: Int
            if unknownBeforeChangesIndexes, before == nil {
                units =
                    DynamoCapacityRules.entry(of: after, in: index, tableKey: tableKey).map {
                        DynamoCapacityRules.writeUnits(bytes: DynamoCapacityRules.size(of: $0))
                    } ?? 0
            } else {
                units = DynamoCapacityRules.indexWriteUnits(before: before, after: after, index: index, tableKey: tableKey)
            }
            if units > 0 {
                let entry =
                    DynamoCapacityRules.entry(of: after, in: index, tableKey: tableKey)
                    ?? DynamoCapacityRules.entry(of: before, in: index, tableKey: tableKey)
                charges.append(.init(kind: "index:" + index.name, writeUnits: Double(units), bytes: entry.map(DynamoCapacityRules.size(of:)) ?? 0))
            }
        }
        return charges
    }

    /// The charges of reading `found` items and `missing` keys one by one (GetItem, BatchGetItem):
    /// each item rounded up to 4 KB, a missing one the minimum.
    func chargeReads(found: [DynamoItem], missing: [DynamoItem], consistent: Bool) {
        var charges: [DynamoCapacityMeter.Charge] = []
        for item in found {
            let bytes = DynamoCapacityRules.size(of: item)
            charges.append(
                .init(
                    kind: DynamoCapacityMeter.kind(of: key(of: item), tableKey: tableKey),
                    readUnits: DynamoCapacityRules.readUnits(bytes: bytes, consistent: consistent), bytes: bytes))
        }
        for key in missing {
            charges.append(
                .init(
                    kind: DynamoCapacityMeter.kind(of: key, tableKey: tableKey),
                    readUnits: DynamoCapacityRules.readUnits(bytes: 0, consistent: consistent), bytes: 0))
        }
        meter?.charge(charges)
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
        let items = try Self.items(response["Items"], operation: "Query")
        if let meter {
            // A page is charged on the items it evaluated, rounded up to 4 KB together; without a
            // filter those are the items returned (an index's entries: its projection).
            let bytes = items.reduce(0) { $0 + DynamoCapacityRules.size(of: $1) }
            let filtered = filter != nil && (response["ScannedCount"]?.intValue ?? items.count) > items.count
            meter.charge(
                [
                    .init(
                        kind: "query:" + (index ?? table), readUnits: DynamoCapacityRules.readUnits(bytes: bytes, consistent: consistent),
                        items: items.count, bytes: bytes
                    )
                ], countPages: filtered ? 1 : 0)
        }
        return (items, try response["LastEvaluatedKey"].map { try Self.item($0, operation: "Query") })
    }

    /// How many items a Query matches (after `filter`), all pages added up.
    public func count(index: String?, keyCondition: DynamoExpression, filter: DynamoExpression? = nil) async throws -> Int {
        try await countPages(
            "Query", queryBody(index: index, keyCondition: keyCondition, filter: filter), secrets: Self.strings([], [keyCondition, filter]))
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
            // Charged on the items evaluated, whose sizes a COUNT does not return: the minimum here.
            meter?.charge(
                [
                    .init(
                        kind: "count:" + (body["IndexName"]?.stringValue ?? table),
                        readUnits: DynamoCapacityRules.readUnits(bytes: 0, consistent: false), items: response["ScannedCount"]?.intValue ?? count)
                ], countPages: 1)
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
