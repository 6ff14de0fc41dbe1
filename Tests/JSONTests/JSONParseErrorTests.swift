import JSON
import Testing

/// One invalid input with the error it must give.
struct InvalidInput: Sendable, CustomTestStringConvertible {
    let bytes: [UInt8]
    let reason: String
    let offset: Int
    let testDescription: String

    init(_ text: String, _ reason: String, at offset: Int) {
        self.init(Array(text.utf8), reason, at: offset, named: text)
    }

    init(_ bytes: [UInt8], _ reason: String, at offset: Int, named name: String) {
        self.bytes = bytes
        self.reason = reason
        self.offset = offset
        testDescription = "\(name) → \(reason) at \(offset)"
    }
}

@Suite("Invalid input")
struct JSONParseErrorTests {
    static let invalidInputs: [InvalidInput] = [
        InvalidInput("", "empty input", at: 0),
        InvalidInput(" \n\t", "empty input", at: 3),
        InvalidInput("\u{FEFF}{}", "unexpected byte order mark", at: 0),
        InvalidInput("{} x", "trailing characters", at: 3),
        InvalidInput("1 2", "trailing characters", at: 2),
        InvalidInput(#"{"a":1}}"#, "trailing characters", at: 7),
        InvalidInput("[1] // comment", "trailing characters", at: 4),
        InvalidInput("/* comment */ 1", "unexpected character", at: 0),
        InvalidInput("[1,]", "unexpected character", at: 3),
        InvalidInput(#"{"a":1,}"#, "unexpected character", at: 7),
        InvalidInput("[1,,2]", "unexpected character", at: 3),
        InvalidInput("[1 2]", "unexpected character", at: 3),
        InvalidInput(#"{"a" 1}"#, "unexpected character", at: 5),
        InvalidInput(#"{"a":1 "b":2}"#, "unexpected character", at: 7),
        InvalidInput("{a:1}", "unexpected character", at: 1),
        InvalidInput("{'a':1}", "unexpected character", at: 1),
        InvalidInput("'a'", "unexpected character", at: 0),
        InvalidInput(".5", "unexpected character", at: 0),
        InvalidInput("+1", "unexpected character", at: 0),
        InvalidInput("NaN", "unexpected character", at: 0),
        InvalidInput("Infinity", "unexpected character", at: 0),
        InvalidInput("True", "unexpected character", at: 0),
        InvalidInput("trux", "unexpected character", at: 3),
        InvalidInput("[nulL]", "unexpected character", at: 4),
        InvalidInput("\u{0}", "unexpected character", at: 0),
        InvalidInput("é", "unexpected character", at: 0),
        InvalidInput("[", "unexpected end of input", at: 1),
        InvalidInput("[1,", "unexpected end of input", at: 3),
        InvalidInput("[1", "unexpected end of input", at: 2),
        InvalidInput("{", "unexpected end of input", at: 1),
        InvalidInput(#"{"a""#, "unexpected end of input", at: 4),
        InvalidInput(#"{"a":"#, "unexpected end of input", at: 5),
        InvalidInput(#"{"a":1,"#, "unexpected end of input", at: 7),
        InvalidInput("tru", "unexpected end of input", at: 3),
        InvalidInput("nul", "unexpected end of input", at: 3),
        InvalidInput(#""abc"#, "unterminated string", at: 0),
        InvalidInput(#"["a\"#, "unterminated string", at: 1),
        InvalidInput(#"{"a":"0123456789abcdef"#, "unterminated string", at: 5),
        InvalidInput("\"a\tb\"", "control character in string", at: 2),
        InvalidInput("\"0123456789\n\"", "control character in string", at: 11),
        InvalidInput("\"\u{1F}\"", "control character in string", at: 1),
        InvalidInput(#""\x""#, "invalid escape", at: 1),
        InvalidInput(#""ab\'""#, "invalid escape", at: 3),
        InvalidInput(#""\u12G4""#, "invalid escape", at: 1),
        InvalidInput(#""\u12""#, "invalid escape", at: 1),
        InvalidInput(#""\U0041""#, "invalid escape", at: 1),
        InvalidInput("01", "invalid number", at: 1),
        InvalidInput("[-01]", "invalid number", at: 3),
        InvalidInput("-", "invalid number", at: 1),
        InvalidInput("-a", "invalid number", at: 1),
        InvalidInput("-Infinity", "invalid number", at: 1),
        InvalidInput("1.", "invalid number", at: 2),
        InvalidInput("1.e5", "invalid number", at: 2),
        InvalidInput("1e", "invalid number", at: 2),
        InvalidInput("1e+", "invalid number", at: 3),
        InvalidInput("[1E-x]", "invalid number", at: 4),
        InvalidInput([0x22, 0xFF, 0x22], "invalid UTF-8", at: 1, named: "byte FF"),
        InvalidInput([0x22, 0x80, 0x22], "invalid UTF-8", at: 1, named: "lone continuation byte"),
        InvalidInput([0x22, 0xC0, 0x80, 0x22], "invalid UTF-8", at: 1, named: "overlong NUL"),
        InvalidInput([0x22, 0xE0, 0x80, 0xAF, 0x22], "invalid UTF-8", at: 1, named: "overlong slash"),
        InvalidInput([0x22, 0xED, 0xA0, 0x80, 0x22], "invalid UTF-8", at: 1, named: "encoded surrogate"),
        InvalidInput([0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], "invalid UTF-8", at: 1, named: "above U+10FFFF"),
        InvalidInput([0x22, 0x61, 0xE2, 0x28, 0xA1, 0x22], "invalid UTF-8", at: 2, named: "bad continuation"),
        InvalidInput([0x22, 0xF0, 0x9F, 0x98, 0x22], "invalid UTF-8", at: 1, named: "truncated emoji"),
        InvalidInput([0x22, 0xE2, 0x82], "invalid UTF-8", at: 1, named: "truncated at end"),
        InvalidInput(
            Array("\"0123456789".utf8) + [0xF8, 0x22], "invalid UTF-8", at: 11, named: "F8 after a word"),
    ]

    @Test("invalid input gives its reason and offset", arguments: invalidInputs)
    func rejects(input: InvalidInput) {
        #expect(throws: JSONParseError(offset: input.offset, reason: input.reason)) {
            try JSONValue.parse(input.bytes)
        }
    }

    @Test("hostile nesting gives an error, not a crash", arguments: ["[", #"{"a":"#, #"[{"":"#])
    func deepNesting(opening: String) {
        let document = String(repeating: opening, count: 100_000)
        let openingLength = opening.utf8.count
        // Depth 257 is refused where its bracket opens.
        let bracketOffset =
            opening.hasPrefix("[{")
            ? 128 * openingLength
            : 256 * openingLength
        #expect(throws: JSONParseError(offset: bracketOffset, reason: "nesting too deep")) {
            try JSONValue.parse(document)
        }
    }

    @Test("nesting up to the limit parses; one more does not")
    func nestingLimit() throws {
        let limit = JSONValue.maximumNestingDepth
        #expect(limit == 256)
        let deepest = String(repeating: "[", count: limit) + String(repeating: "]", count: limit)
        var value = try JSONValue.parse(deepest)
        var depth = 0
        while let elements = value.arrayValue {
            depth += 1
            value = elements.first ?? .null
        }
        #expect(depth == limit)
        let tooDeep = "[" + deepest + "]"
        #expect(throws: JSONParseError(offset: limit, reason: "nesting too deep")) {
            try JSONValue.parse(tooDeep)
        }
    }

    @Test("a document at the depth limit parses, serializes and is counted")
    func deepestMixedDocument() throws {
        let pairs = JSONValue.maximumNestingDepth / 2
        let document = String(repeating: #"{"a":["#, count: pairs) + "1" + String(repeating: "]}", count: pairs)
        let value = try JSONValue.parse(document)
        #expect(value.serialized() == document)
        #expect(value.serializedByteCount == document.utf8.count)
    }

    @Test("the description gives offset and reason, never the input")
    func descriptionIsSafeToLog() {
        let secret = "AAAAKgAAAAIAAAAAAAAAAQ-token-secret"
        do {
            _ = try JSONValue.parse(#"{"TaskToken":""# + secret)
            Issue.record("parsed an unterminated string")
        } catch {
            #expect(error.description == "invalid JSON at byte 13: unterminated string")
            #expect(!String(describing: error).contains(secret))
        }
    }
}
