import JSON

/// One write of a `TransactWriteItems`.
public enum DynamoWrite: Sendable, Equatable {
    case put(item: DynamoItem, condition: DynamoExpression?)
    case delete(key: DynamoItem, condition: DynamoExpression?)
    /// The placeholders of `update` and `condition` are merged: one used by both must mean the same.
    case update(key: DynamoItem, update: DynamoExpression, condition: DynamoExpression?)
    case conditionCheck(key: DynamoItem, condition: DynamoExpression)

    /// The `TransactItems` entry for this write on `table`.
    func json(table: String) -> JSONValue {
        switch self {
        case .put(let item, let condition):
            ["Put": .object(Self.body(table: table, ["Item": .object(DynamoValue.json(item))], condition: condition))]
        case .delete(let key, let condition):
            ["Delete": .object(Self.body(table: table, ["Key": .object(DynamoValue.json(key))], condition: condition))]
        case .update(let key, let update, let condition):
            ["Update": .object(Self.body(table: table, ["Key": .object(DynamoValue.json(key))], update: update, condition: condition))]
        case .conditionCheck(let key, let condition):
            ["ConditionCheck": .object(Self.body(table: table, ["Key": .object(DynamoValue.json(key))], condition: condition))]
        }
    }

    /// The strings of the item or key and of the expressions' values.
    var strings: [String] {
        switch self {
        case .put(let item, let condition): DynamoDB.strings([item], [condition])
        case .delete(let key, let condition): DynamoDB.strings([key], [condition])
        case .update(let key, let update, let condition): DynamoDB.strings([key], [update, condition])
        case .conditionCheck(let key, let condition): DynamoDB.strings([key], [condition])
        }
    }

    /// The request of one single-item write (PutItem, DeleteItem, UpdateItem, or a transaction's
    /// entry): the table, `fields` (the item or the key), the expressions and their placeholders.
    static func body(table: String, _ fields: JSONObject, update: DynamoExpression? = nil, condition: DynamoExpression?) -> JSONObject {
        var body: JSONObject = ["TableName": .string(table)]
        for (name, value) in fields { body[name] = value }
        if let update { body["UpdateExpression"] = .string(update.expression) }
        if let condition { body["ConditionExpression"] = .string(condition.expression) }
        DynamoExpression.placeholders([update, condition], into: &body)
        return body
    }
}

/// A conditional single-item write was refused: its condition did not hold.
public struct DynamoConditionFailed: Error, Sendable, CustomStringConvertible {
    /// `PutItem`, `DeleteItem` or `UpdateItem`.
    public var operation: String
    public init(operation: String) { self.operation = operation }
    public var description: String { "\(operation): the condition did not hold" }
}

/// A `TransactWriteItems` was cancelled: nothing of it was written.
public struct DynamoTransactionCanceled: Error, Sendable, CustomStringConvertible {
    /// One code per write, in order: `None` for a write that was fine, `ConditionalCheckFailed`,
    /// `TransactionConflict`, `ItemCollectionSizeLimitExceeded`, `ValidationError`, …
    public var reasons: [String]
    /// The service's message (bounded, without item values).
    public var message: String

    public init(reasons: [String], message: String) {
        self.reasons = reasons
        self.message = message
    }

    /// Whether the transaction lost to other writers only (every reason that is not `None` is
    /// `ConditionalCheckFailed` or `TransactionConflict`): the caller should read again and decide
    /// again. False when no reason was given.
    public var isConflict: Bool {
        let failures = reasons.filter { $0 != "None" }
        return !failures.isEmpty && failures.allSatisfy { $0 == "ConditionalCheckFailed" || $0 == "TransactionConflict" }
    }

    public var description: String { "TransactWriteItems was cancelled: [\(reasons.joined(separator: ", "))]" }
}
