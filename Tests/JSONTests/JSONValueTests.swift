import JSON
import Testing

@Suite("Values: accessors, literals, numbers, sizes")
struct JSONValueTests {
    static let integers: [(text: String, expected: Int64?)] = [
        ("12", 12), ("-12", -12), ("0", 0), ("-0", 0), ("1589879479000", 1_589_879_479_000),
        ("9223372036854775807", .max), ("-9223372036854775808", .min),
        ("9223372036854775808", nil), ("-9223372036854775809", nil), ("99999999999999999999", nil),
        ("1.0", nil), ("1e2", nil), ("1E2", nil), ("-1.5", nil), ("+1", nil),
    ]

    @Test("int64Value takes exact integer literals only", arguments: integers)
    func int64Value(text: String, expected: Int64?) {
        #expect(JSONValue.number(text).int64Value == expected)
        #expect(JSONValue.number(text).intValue == expected.flatMap { Int(exactly: $0) })
    }

    static let doubles: [(text: String, expected: Double)] = [
        ("1589879479.123", 1_589_879_479.123), ("1.5E-7", 1.5e-7), ("-0.0", -0.0), ("12", 12),
        ("1e400", .infinity), ("-1e400", -.infinity), ("2.5e3", 2500),
    ]

    @Test("doubleValue reads any number literal", arguments: doubles)
    func doubleValue(text: String, expected: Double) throws {
        let value = try #require(JSONValue.number(text).doubleValue)
        #expect(value == expected)
        #expect(value.sign == expected.sign)
    }

    @Test("accessors answer nil for the other kinds")
    func accessorsMismatch() {
        let values: [JSONValue] = [nil, true, 1, "1", [1], ["a": 1]]
        #expect(values.compactMap(\.stringValue) == ["1"])
        #expect(values.compactMap(\.boolValue) == [true])
        #expect(values.compactMap(\.numberText) == ["1"])
        #expect(values.compactMap(\.doubleValue) == [1])
        #expect(values.compactMap(\.int64Value) == [1])
        #expect(values.compactMap(\.arrayValue) == [[1]])
        #expect(values.compactMap(\.objectValue) == [["a": 1]])
        #expect(values.filter(\.isNull).count == 1)
        #expect(values.compactMap { $0["a"] } == [1])
        #expect(values.compactMap { $0[0] } == [1])
    }

    @Test("subscripts answer nil out of range and for missing keys")
    func subscripts() {
        let value: JSONValue = ["list": [10, 20], "nested": ["deep": [true]]]
        #expect(value["list"]?[1] == 20)
        #expect(value["list"]?[2] == nil)
        #expect(value["list"]?[-1] == nil)
        #expect(value["nested"]?["deep"]?[0]?.boolValue == true)
        #expect(value["absent"] == nil)
        #expect(value[0] == nil)
    }

    @Test("literals build the values they spell")
    func literals() {
        let value: JSONValue = ["s": "x", "i": -3, "f": 1.5, "t": true, "n": nil, "a": [1, "two", [false]], "o": [:]]
        #expect(value.serialized() == #"{"s":"x","i":-3,"f":1.5,"t":true,"n":null,"a":[1,"two",[false]],"o":{}}"#)
        #expect(value["s"] == .string("x"))
        #expect(value["i"] == .number("-3"))
        #expect(value["n"] == .null)
        #expect(value["o"] == .object(JSONObject()))
    }

    static let doublesToText: [(value: Double, text: String?)] = [
        (0.1, "0.1"), (1e-7, "1e-07"), (100, "100.0"), (-0.0, "-0.0"), (1_589_879_479.123, "1589879479.123"),
        (1.7976931348623157e308, "1.7976931348623157e+308"), (.leastNonzeroMagnitude, "5e-324"),
        (.infinity, nil), (-.infinity, nil), (.nan, nil),
    ]

    @Test("a Double becomes its shortest round-trip text, or null", arguments: doublesToText)
    func fromDouble(value: Double, text: String?) throws {
        let json = JSONValue(value)
        #expect(json.numberText == text)
        if text == nil {
            #expect(json.isNull)
        } else {
            #expect(try JSONValue.parse(json.serialized()) == json)
            #expect(json.doubleValue == value)
        }
    }

    @Test("integers become their decimal text")
    func fromIntegers() {
        #expect(JSONValue(Int.min).numberText == "-9223372036854775808")
        #expect(JSONValue(Int64(1_589_879_479_000)).numberText == "1589879479000")
        #expect(JSONValue(Int64.max).int64Value == .max)
    }

    static let numberLiterals: [(text: String, valid: Bool)] = [
        ("0", true), ("-1.5e+3", true), ("1E400", true), ("01", false), (" 1", false), ("1 ", false),
        ("abc", false), ("", false), ("\"1\"", false), ("[1]", false), ("-", false),
    ]

    @Test("init(numberLiteral:) accepts exactly valid number literals", arguments: numberLiterals)
    func numberLiteral(text: String, valid: Bool) {
        #expect(JSONValue(numberLiteral: text)?.numberText == (valid ? text : nil))
    }

    static let sized: [JSONValue] = [
        nil, true, false, 0, -1.25, "", "plain", "é😀", "\u{0}\u{1F}\"\\\n\t\r\u{8}\u{C}/\u{7F}", [], [:], [nil],
        [1, 2, 3], ["a": 1], ["a": 1, "b": [2, [3, ["c": "\n"]]]], ["": ""], [[], [[]], [:]],
        .object(JSONObject((0..<100).map { ("key \($0)\t", JSONValue($0)) })),
        .array((0..<100).map { .string(String(repeating: "\"", count: $0)) }),
    ]

    @Test("serializedByteCount equals the serialized length", arguments: sized)
    func byteCount(value: JSONValue) {
        #expect(value.serializedByteCount == value.serialized().utf8.count)
        #expect(value.serializedByteCount == value.serializedBytes().count)
        if let object = value.objectValue {
            #expect(object.serializedByteCount == object.serialized().utf8.count)
        }
    }

    @Test("serializedByteCount of the sample event is its length")
    func sampleByteCount() throws {
        let text = SageMakerEventSample.processingJobCompleted
        let value = try JSONValue.parse(text)
        #expect(value.serializedByteCount == text.utf8.count)
        let detail = try #require(value["detail"]?.objectValue)
        #expect(detail.serializedByteCount == detail.serialized().utf8.count)
    }
}
