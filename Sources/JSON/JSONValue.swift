/// A JSON value, as parsed from bytes or built in code.
///
/// Numbers keep the exact literal text they were written with, so a value parsed and serialized
/// again reproduces `1589879479000`, `1589879479.123`, `-0.0` or `1e400` byte for byte; two numbers
/// are equal when their text is equal (`1.0` is not `1`). Objects keep member order (see
/// ``JSONObject``) but compare without regard to it.
public enum JSONValue: Sendable, Equatable, Hashable {
    /// `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// The literal text of a number exactly as written. Values made by the parser, by
    /// ``init(_:)-(Int)``, ``init(_:)-(Double)`` or ``init(numberLiteral:)`` always hold a valid
    /// RFC 8259 number; text put here by hand is written out verbatim, unchecked.
    case number(String)
    /// A string, unescaped.
    case string(String)
    /// An array, in order.
    case array([JSONValue])
    /// An object, in member order.
    case object(JSONObject)
}

extension JSONValue {
    /// A number holding the decimal text of `value`.
    public init(_ value: Int) {
        self = .number(String(value))
    }

    /// A number holding the decimal text of `value`.
    public init(_ value: Int64) {
        self = .number(String(value))
    }

    /// A number holding the shortest text that reads back as exactly `value` (`0.1`, `1e-07`,
    /// `100.0`); `null` when `value` is infinite or NaN, which JSON cannot express.
    public init(_ value: Double) {
        self = value.isFinite ? .number(value.description) : .null
    }

    /// A number holding `text`, or nil when `text` is not a valid RFC 8259 number literal.
    public init?(numberLiteral text: String) {
        guard case .number(let parsed)? = try? JSONValue.parse(text),
            parsed.utf8.count == text.utf8.count
        else { return nil }
        self = .number(parsed)
    }
}

// MARK: - Accessors: nil when the value is of another kind.

extension JSONValue {
    /// The string, when this is a string.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The boolean, when this is `true` or `false`.
    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The literal text, when this is a number.
    public var numberText: String? {
        if case .number(let text) = self { return text }
        return nil
    }

    /// The nearest `Double`, when this is a number (never for a string holding digits). A
    /// magnitude beyond `Double`'s range gives ±infinity.
    public var doubleValue: Double? {
        if case .number(let text) = self { return Double(text) }
        return nil
    }

    /// The exact integer, when this is a number written without fraction or exponent that fits in
    /// an `Int64`: `12` gives 12; `1.0`, `1e2` and `99999999999999999999` give nil.
    public var int64Value: Int64? {
        guard case .number(let text) = self, text.utf8.first != UInt8(ascii: "+") else { return nil }
        return Int64(text, radix: 10)
    }

    /// The exact integer, under the same rules as ``int64Value``, when it fits in an `Int`.
    public var intValue: Int? {
        int64Value.flatMap { Int(exactly: $0) }
    }

    /// The object, when this is an object.
    public var objectValue: JSONObject? {
        if case .object(let object) = self { return object }
        return nil
    }

    /// The elements, when this is an array.
    public var arrayValue: [JSONValue]? {
        if case .array(let elements) = self { return elements }
        return nil
    }

    /// Whether this is `null`.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The member named `key`, when this is an object that has one.
    public subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    /// The element at `index`, when this is an array and `index` is in range.
    public subscript(index: Int) -> JSONValue? {
        guard case .array(let elements) = self, elements.indices.contains(index) else { return nil }
        return elements[index]
    }
}
