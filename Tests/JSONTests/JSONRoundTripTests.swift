import JSON
import Testing

@Suite("Round trips")
struct JSONRoundTripTests {
    /// Compact documents that must come back byte for byte: numbers keep their literal text.
    static let compactDocuments: [String] = [
        "null", "true", "false", "0", "-0", "-0.0", "1589879479000", "1589879479.123", "1e400",
        "1.5E-7", "-1.25e+10", "2E08", "99999999999999999999999999", "-9223372036854775809",
        #""""#, #""a""#, #""a/b""#, #""é😀 数据""#, #""line\nbreak\ttab""#, #""\u0000\u001f""#,
        "[]", "{}", "[[]]", "[{}]", "[1,[2,[3,[4]]]]", #"{"a":{"b":[true,false,null]}}"#,
        #"{"z":1,"a":2,"m":3}"#, #"[1.0,1,1.00,10e1]"#, #"{"":""}"#,
        SageMakerEventSample.processingJobCompleted,
    ]

    @Test("compact documents serialize to the same bytes", arguments: compactDocuments)
    func byteIdentical(document: String) throws {
        let value = try JSONValue.parse(document)
        #expect(value.serialized() == document)
        #expect(value.serializedBytes() == Array(document.utf8))
        #expect(try JSONValue.parse(value.serializedBytes()) == value)
    }

    /// Documents with whitespace and escapes: the text changes, the value does not.
    static let spacedDocuments: [(input: String, compact: String)] = [
        (" { \"a\" : [ 1 , 2 ] } \n", #"{"a":[1,2]}"#),
        ("\t\r\n[\ttrue ,\nnull\r]\t", "[true,null]"),
        (#"" \/ \u0041\u00e9 ""#, #"" / Aé ""#),
        (#"{"k\u0065y" : "v\"q\\"}"#, #"{"key":"v\"q\\"}"#),
        (#"["\b\f\n\r\t"]"#, #"["\b\f\n\r\t"]"#),
        ("  12  ", "12"),
    ]

    @Test("spaced documents parse, serialize compactly and parse again equal", arguments: spacedDocuments)
    func compacts(input: String, compact: String) throws {
        let value = try JSONValue.parse(input)
        #expect(value.serialized() == compact)
        #expect(try JSONValue.parse(value.serialized()) == value)
    }

    @Test("the sample event's detail keeps numbers as written")
    func sampleEventNumbers() throws {
        let event = try JSONValue.parse(SageMakerEventSample.processingJobCompleted)
        let detail = try #require(event["detail"])
        #expect(detail["ProcessingEndTime"]?.numberText == "1589879479000")
        #expect(detail["ProcessingStartTime"]?.numberText == "1589879012.123")
        #expect(detail["RowCounts"]?[5]?.numberText == "1.5E-7")
        #expect(detail["ProcessingEndTime"]?.int64Value == 1_589_879_479_000)
        #expect(detail["Tags"]?["notes"]?.stringValue == "Übernommen aus v6 — 数据管道 🚀")
        #expect(detail["ExitMessage"]?.stringValue?.contains("\"train\"") == true)
        #expect(detail.objectValue?.count == 28)
    }

    @Test("every entry point parses the same bytes to the same value")
    func entryPoints() throws {
        let text = SageMakerEventSample.processingJobCompleted
        let bytes = Array(text.utf8)
        let expected = try JSONValue.parse(text)
        #expect(try JSONValue.parse(bytes) == expected)
        #expect(try JSONValue.parse(bytes[...]) == expected)
        let fromRaw = try bytes.withUnsafeBytes { raw throws(JSONParseError) in try JSONValue.parse(raw) }
        #expect(fromRaw == expected)
        let padded: [UInt8] = [0x78] + bytes + [0x78]
        #expect(try JSONValue.parse(padded[1..<(padded.count - 1)]) == expected)
    }

    @Test("serialize(into:) appends after what is there")
    func serializeInto() {
        var body = Array("prefix:".utf8)
        let value: JSONValue = ["a": [1, "b"]]
        value.serialize(into: &body)
        #expect(String(decoding: body, as: UTF8.self) == #"prefix:{"a":[1,"b"]}"#)
    }

    @Test("a document larger than the serializer's first buffer comes back whole")
    func largeDocument() throws {
        let elements = (0..<5_000).map { JSONValue.string("element \($0) with \"quotes\" and \\ ") }
        let value = JSONValue.array(elements)
        let bytes = value.serializedBytes()
        #expect(bytes.count == value.serializedByteCount)
        #expect(bytes.count > 100_000)
        #expect(try JSONValue.parse(bytes) == value)
    }
}
