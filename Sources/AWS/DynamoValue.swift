public import JSON

/// One DynamoDB attribute value, as the JSON protocol carries it (`{"S": "…"}`, `{"N": "12"}`, …).
///
/// Numbers keep DynamoDB's decimal text; binary values (`B`, `BS`) are not supported.
public enum DynamoValue: Sendable, Equatable, Hashable {
    case s(String), n(String), bool(Bool), null, l([DynamoValue]), m([String: DynamoValue]), ss([String]), ns([String])

    /// The value of a wire-form attribute: an object with exactly one known type key.
    /// - Throws: `AWSResponseError` for any other shape (binary values included). The error
    ///   names the type key, never the value.
    public init(json: JSONValue) throws {
        guard let object = json.objectValue, object.count == 1, let type = object.keys.first, let value = object[type] else {
            throw Self.unusable("an attribute value is not an object with one type key")
        }
        func strings() throws -> [String] {
            guard let elements = value.arrayValue else { throw Self.unusable("\(type) is not an array") }
            return try elements.map { element in
                guard let text = element.stringValue else { throw Self.unusable("\(type) holds a non-string") }
                return text
            }
        }
        switch type {
        case "S":
            guard let text = value.stringValue else { throw Self.unusable("S is not a string") }
            self = .s(text)
        case "N":
            guard let text = value.stringValue else { throw Self.unusable("N is not a string") }
            self = .n(text)
        case "BOOL":
            guard let flag = value.boolValue else { throw Self.unusable("BOOL is not a boolean") }
            self = .bool(flag)
        case "NULL":
            self = .null
        case "L":
            guard let elements = value.arrayValue else { throw Self.unusable("L is not an array") }
            self = .l(try elements.map(DynamoValue.init(json:)))
        case "M":
            guard let members = value.objectValue else { throw Self.unusable("M is not an object") }
            self = .m(try DynamoValue.item(members))
        case "SS":
            self = .ss(try strings())
        case "NS":
            self = .ns(try strings())
        default:
            throw Self.unusable("attribute type \(type) is not supported")
        }
    }

    /// The wire form.
    public var json: JSONValue {
        switch self {
        case .s(let text): ["S": .string(text)]
        case .n(let text): ["N": .string(text)]
        case .bool(let flag): ["BOOL": .bool(flag)]
        case .null: ["NULL": true]
        case .l(let elements): ["L": .array(elements.map(\.json))]
        case .m(let members): ["M": .object(DynamoValue.json(members))]
        case .ss(let texts): ["SS": .array(texts.map(JSONValue.string))]
        case .ns(let texts): ["NS": .array(texts.map(JSONValue.string))]
        }
    }

    /// A number: `.n("123")`.
    public static func number(_ value: Int64) -> DynamoValue { .n(String(value)) }

    /// The string of an `S` value.
    public var stringValue: String? {
        if case .s(let text) = self { return text }
        return nil
    }

    /// The integer of an `N` value whose text is a whole number that fits in an `Int64`.
    public var int64Value: Int64? {
        if case .n(let text) = self { return Int64(text) }
        return nil
    }

    /// The flag of a `BOOL` value.
    public var boolValue: Bool? {
        if case .bool(let flag) = self { return flag }
        return nil
    }

    /// An item from its wire form (`{"pk": {"S": "a"}, …}`).
    public static func item(_ object: JSONObject) throws -> DynamoItem {
        var item = DynamoItem(minimumCapacity: object.count)
        for (name, value) in object {
            item[name] = try DynamoValue(json: value)
        }
        return item
    }

    /// The wire form of an item, its attributes in name order (so a request's bytes do not
    /// depend on hashing).
    public static func json(_ item: DynamoItem) -> JSONObject {
        JSONObject(item.sorted { $0.key < $1.key }.map { ($0.key, $0.value.json) })
    }

    /// The strings this value holds, nested ones included: what an error message must never echo.
    var strings: [String] {
        switch self {
        case .s(let text): [text]
        case .ss(let texts): texts
        case .l(let elements): elements.flatMap(\.strings)
        case .m(let members): members.values.flatMap(\.strings)
        case .n, .ns, .bool, .null: []
        }
    }

    private static func unusable(_ reason: String) -> AWSResponseError {
        AWSResponseError(operation: "DynamoDB", reason: reason)
    }
}

/// One DynamoDB item (or key): attribute name to value.
public typealias DynamoItem = [String: DynamoValue]

/// A condition, key condition, filter or update expression with its placeholders.
public struct DynamoExpression: Sendable, Equatable {
    /// The expression text: `#v = :v`, `SET #c = #c + :one`.
    public var expression: String
    /// Name placeholders: `"#v": "v"`.
    public var names: [String: String]
    /// Value placeholders: `":v": .n("3")`.
    public var values: DynamoItem

    public init(_ expression: String, names: [String: String] = [:], values: DynamoItem = [:]) {
        self.expression = expression
        self.names = names
        self.values = values
    }

    /// The placeholders of `expressions` together, as one request carries them, written under
    /// `ExpressionAttributeNames` and `ExpressionAttributeValues` (left out when empty: DynamoDB
    /// refuses empty maps). A placeholder used by two expressions must mean the same thing.
    static func placeholders(_ expressions: [DynamoExpression?], into body: inout JSONObject) {
        var names: [String: String] = [:]
        var values: DynamoItem = [:]
        for expression in expressions.compactMap({ $0 }) {
            names.merge(expression.names) { first, second in
                precondition(first == second, "a name placeholder means two different attributes")
                return first
            }
            values.merge(expression.values) { first, second in
                precondition(first == second, "a value placeholder holds two different values")
                return first
            }
        }
        if !names.isEmpty {
            body["ExpressionAttributeNames"] = .object(JSONObject(names.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }))
        }
        if !values.isEmpty {
            body["ExpressionAttributeValues"] = .object(DynamoValue.json(values))
        }
    }
}
