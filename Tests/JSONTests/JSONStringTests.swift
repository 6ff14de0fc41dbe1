import JSON
import Testing

@Suite("Strings: escapes and Unicode")
struct JSONStringTests {
    static let decodedStrings: [(json: String, expected: String)] = [
        (#""\"\\\/\b\f\n\r\t""#, "\"\\/\u{8}\u{C}\n\r\t"),
        (#""\u0041\u00e9\u00E9\u4e2d""#, "Aéé中"),
        (#""\ud83d\ude00""#, "😀"),
        (#""\uD83D\uDE00 and 😀""#, "😀 and 😀"),
        (#""\u0000""#, "\u{0}"),
        // Lone surrogates cannot be a Swift String's content: they become U+FFFD.
        (#""\ud800""#, "\u{FFFD}"),
        (#""\udc00x""#, "\u{FFFD}x"),
        (#""\ud800\u0041""#, "\u{FFFD}A"),
        (#""\ud800\ud83d\ude00""#, "\u{FFFD}😀"),
        (#""\ude00\ud83d""#, "\u{FFFD}\u{FFFD}"),
        (#""\ud800\"""#, "\u{FFFD}\""),
        ("\"\u{2028}\u{2029}\u{7F}\"", "\u{2028}\u{2029}\u{7F}"),
        ("\"é😀 数据\"", "é😀 数据"),
    ]

    @Test("escapes decode", arguments: decodedStrings)
    func decodes(json: String, expected: String) throws {
        #expect(try JSONValue.parse(json) == .string(expected))
    }

    static let encodedStrings: [(string: String, json: String)] = [
        ("plain", #""plain""#),
        ("\"\\", #""\"\\""#),
        ("\n\t\r\u{8}\u{C}", #""\n\t\r\b\f""#),
        ("\u{0}\u{1}\u{1F}", #""\u0000\u0001\u001f""#),
        ("a/b", #""a/b""#),
        ("é😀\u{2028}\u{2029}\u{7F}", "\"é😀\u{2028}\u{2029}\u{7F}\""),
    ]

    @Test("strings encode with the minimal escapes", arguments: encodedStrings)
    func encodes(string: String, json: String) throws {
        let value = JSONValue.string(string)
        #expect(value.serialized() == json)
        #expect(value.serializedByteCount == json.utf8.count)
        #expect(try JSONValue.parse(json) == value)
    }

    /// Special bytes at every position relative to the 8-byte words the scanners skip.
    @Test("special characters round-trip wherever they fall", arguments: ["\"", "\\", "\n", "\u{1}", "é", "😀"])
    func specialsAtEveryOffset(special: String) throws {
        for prefix in 0..<20 {
            for suffix in [0, 1, 7, 8, 9] {
                let string = String(repeating: "a", count: prefix) + special + String(repeating: "b", count: suffix)
                let value = JSONValue.string(string)
                let json = value.serialized()
                #expect(json.utf8.count == value.serializedByteCount)
                #expect(try JSONValue.parse(json) == value, "prefix \(prefix), suffix \(suffix)")
            }
        }
    }

    @Test("keys are escaped and unescaped like values")
    func keys() throws {
        let value: JSONValue = ["a\"b\n": "c", "é": 1]
        let json = value.serialized()
        #expect(json == #"{"a\"b\n":"c","é":1}"#)
        let parsed = try JSONValue.parse(#"{"a\"b\u000a":"c","\u00e9":1}"#)
        #expect(parsed == value)
        #expect(parsed["é"] == 1)
    }
}
