extension JSONValue {
    /// The deepest nesting of arrays and objects the parser accepts; deeper input is rejected
    /// with `nesting too deep` rather than risking the stack.
    public static let maximumNestingDepth = 256

    /// Parses one JSON document (RFC 8259, strictly) from UTF-8 bytes.
    ///
    /// Whitespace may surround the value; anything else after it is an error. Rejected: a byte
    /// order mark, comments, trailing commas, `NaN`/`Infinity`, leading zeros, raw control
    /// characters in strings, invalid UTF-8, nesting deeper than ``maximumNestingDepth``. An
    /// escaped surrogate pair becomes its one scalar; a lone escaped surrogate becomes U+FFFD. A
    /// key repeated in an object keeps its first position and takes the last value.
    public static func parse(_ bytes: [UInt8]) throws(JSONParseError) -> JSONValue {
        let result = bytes.withUnsafeBufferPointer { buffer in
            Result { () throws(JSONParseError) in try parse(buffer) }
        }
        return try result.get()
    }

    /// Parses one JSON document from a slice of UTF-8 bytes; offsets in errors count from the
    /// slice's start. Same rules as ``parse(_:)-([UInt8])``.
    public static func parse(_ bytes: ArraySlice<UInt8>) throws(JSONParseError) -> JSONValue {
        let result = bytes.withUnsafeBufferPointer { buffer in
            Result { () throws(JSONParseError) in try parse(buffer) }
        }
        return try result.get()
    }

    /// Parses one JSON document from a string's UTF-8. Same rules as ``parse(_:)-([UInt8])``.
    public static func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        var text = text
        let result = text.withUTF8 { buffer in
            Result { () throws(JSONParseError) in try parse(buffer) }
        }
        return try result.get()
    }

    /// Parses one JSON document from raw UTF-8 bytes. Same rules as ``parse(_:)-([UInt8])``.
    public static func parse(_ buffer: UnsafeRawBufferPointer) throws(JSONParseError) -> JSONValue {
        try parse(buffer.assumingMemoryBound(to: UInt8.self))
    }

    /// Parses one JSON document from UTF-8 bytes. Same rules as ``parse(_:)-([UInt8])``.
    public static func parse(_ buffer: UnsafeBufferPointer<UInt8>) throws(JSONParseError) -> JSONValue {
        guard let base = buffer.baseAddress, !buffer.isEmpty else {
            throw JSONParseError(offset: 0, reason: JSONParseError.emptyInput)
        }
        var parser = JSONParser(base: base, end: buffer.count)
        return try parser.parseDocument()
    }
}

/// A recursive-descent parser over a borrowed buffer. Recursion is bounded by
/// `JSONValue.maximumNestingDepth`, so hostile input cannot exhaust the stack.
struct JSONParser: ~Copyable {
    private let base: UnsafePointer<UInt8>
    private let end: Int
    private var position = 0
    /// Where strings that hold escapes are decoded; plain strings are decoded straight from the
    /// input. Allocated at the first escape with the input's length, which no string's decoded
    /// form can exceed (every escape decodes to fewer bytes than it is written with).
    private var unescaped: UnsafeMutablePointer<UInt8>?
    private var unescapedCount = 0
    /// Key fingerprints of the objects being parsed, innermost last: cheap to compare, so finding
    /// a repeated key costs integer comparisons rather than string comparisons.
    private var fingerprints: [UInt64] = []
    /// Whether the last string parsed was plain ASCII without escapes.
    private var lastStringWasPlain = false

    init(base: UnsafePointer<UInt8>, end: Int) {
        self.base = base
        self.end = end
    }

    deinit {
        unescaped?.deallocate()
    }

    mutating func parseDocument() throws(JSONParseError) -> JSONValue {
        if end >= 3, base[0] == 0xEF, base[1] == 0xBB, base[2] == 0xBF {
            throw JSONParseError(offset: 0, reason: JSONParseError.byteOrderMark)
        }
        skipWhitespace()
        guard position < end else { throw failure(JSONParseError.emptyInput) }
        let value = try parseValue(depth: 0)
        skipWhitespace()
        guard position == end else { throw failure(JSONParseError.trailingCharacters) }
        return value
    }

    private func failure(_ reason: String, at offset: Int? = nil) -> JSONParseError {
        JSONParseError(offset: offset ?? position, reason: reason)
    }

    /// `unexpected end of input` at the end, `unexpected character` elsewhere.
    private func unexpected() -> JSONParseError {
        failure(position < end ? JSONParseError.unexpectedCharacter : JSONParseError.unexpectedEnd)
    }

    private mutating func skipWhitespace() {
        while position < end {
            switch base[position] {
            case 0x20, 0x0A, 0x0D, 0x09: position += 1
            default: return
            }
        }
    }

    /// Parses the value at `position`, which the caller has placed past any whitespace.
    private mutating func parseValue(depth: Int) throws(JSONParseError) -> JSONValue {
        guard position < end else { throw failure(JSONParseError.unexpectedEnd) }
        switch base[position] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        default: throw failure(JSONParseError.unexpectedCharacter)
        }
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let expected = UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
        for byte in expected {
            guard position < end, base[position] == byte else { throw unexpected() }
            position += 1
        }
    }

    private mutating func parseArray(depth: Int) throws(JSONParseError) -> JSONValue {
        if try enterContainer(depth: depth, closing: UInt8(ascii: "]")) {
            return .array([])
        }
        var elements: [JSONValue] = []
        // Starting with room for a few saves most of the regrowth small arrays would cost.
        elements.reserveCapacity(4)
        repeat {
            elements.append(try parseValue(depth: depth))
        } while try continueContainer(closing: UInt8(ascii: "]"))
        return .array(elements)
    }

    /// Steps into the array or object opening at `position`; true when it is empty, and then
    /// also past its closing bracket.
    private mutating func enterContainer(depth: Int, closing: UInt8) throws(JSONParseError) -> Bool {
        guard depth <= JSONValue.maximumNestingDepth else { throw failure(JSONParseError.nestingTooDeep) }
        position += 1
        skipWhitespace()
        guard position < end, base[position] == closing else { return false }
        position += 1
        return true
    }

    /// After an element or member: steps over a comma (true: another one follows) or over the
    /// closing bracket (false).
    private mutating func continueContainer(closing: UInt8) throws(JSONParseError) -> Bool {
        skipWhitespace()
        guard position < end else { throw failure(JSONParseError.unexpectedEnd) }
        switch base[position] {
        case UInt8(ascii: ","):
            position += 1
            skipWhitespace()
            return true
        case closing:
            position += 1
            return false
        default:
            throw failure(JSONParseError.unexpectedCharacter)
        }
    }

    private mutating func parseObject(depth: Int) throws(JSONParseError) -> JSONValue {
        if try enterContainer(depth: depth, closing: UInt8(ascii: "}")) {
            return .object(JSONObject())
        }
        var members: [JSONObject.Element] = []
        members.reserveCapacity(8)
        var index: [String: Int]?
        let firstFingerprint = fingerprints.count
        repeat {
            guard position < end, base[position] == UInt8(ascii: "\"") else { throw unexpected() }
            let keyStart = position + 1
            let key = try parseString()
            let fingerprint = lastStringWasPlain ? fingerprintOfKey(from: keyStart, to: position - 1) : 1
            skipWhitespace()
            guard position < end, base[position] == UInt8(ascii: ":") else { throw unexpected() }
            position += 1
            skipWhitespace()
            let value = try parseValue(depth: depth)

            if index != nil {
                if let existing = index![key] {
                    members[existing].value = value
                } else {
                    index![key] = members.count
                    members.append((key, value))
                }
            } else if let existing = positionOfKey(key, fingerprint, in: members, from: firstFingerprint) {
                members[existing].value = value
            } else {
                members.append((key, value))
                fingerprints.append(fingerprint)
                if members.count > JSONObject.indexThreshold {
                    index = Dictionary(uniqueKeysWithValues: members.enumerated().map { ($1.key, $0) })
                }
            }
        } while try continueContainer(closing: UInt8(ascii: "}"))
        fingerprints.removeSubrange(firstFingerprint...)
        return .object(JSONObject(uniqueMembers: members, index: index))
    }

    /// Finds `key` among the members of a small object by their fingerprints, which sit in
    /// `fingerprints` from `first` on.
    private func positionOfKey(
        _ key: String, _ fingerprint: UInt64, in members: [JSONObject.Element], from first: Int
    ) -> Int? {
        for member in members.indices {
            let other = fingerprints[first + member]
            // Bit 0 marks a key that is not plain ASCII: only a string comparison can tell
            // whether it is canonically equal to another (U+212A KELVIN SIGN equals "K").
            if other == fingerprint || (other | fingerprint) & 1 != 0, members[member].key == key {
                return member
            }
        }
        return nil
    }

    /// A hash of a plain ASCII key's bytes with bit 0 clear: equal keys have equal fingerprints.
    private func fingerprintOfKey(from start: Int, to stop: Int) -> UInt64 {
        let count = stop - start
        var head: UInt64 = 0
        var tail: UInt64 = 0
        if count >= 8 {
            head = ByteWord.load(base + start)
            tail = ByteWord.load(base + stop - 8)
        } else {
            for offset in 0..<count {
                head |= UInt64(base[start + offset]) << (8 * UInt64(offset))
            }
        }
        let mixed = (head &* 0x9E37_79B9_7F4A_7C15) ^ (tail &* 0xC2B2_AE3D_27D4_EB4F) ^ UInt64(count)
        return mixed & ~1
    }

    /// Parses the string whose opening quote is at `position`, leaving `position` past its
    /// closing quote.
    private mutating func parseString() throws(JSONParseError) -> String {
        let opening = position
        position += 1
        var runStart = position
        var hasEscapes = false
        var isPlain = true
        while true {
            while position + 8 <= end, !ByteWord.needsAttention(ByteWord.load(base + position)) {
                position += 8
            }
            guard position < end else { throw failure(JSONParseError.unterminatedString, at: opening) }
            let byte = base[position]
            if byte == UInt8(ascii: "\"") {
                break
            } else if byte == UInt8(ascii: "\\") {
                if !hasEscapes {
                    hasEscapes = true
                    isPlain = false
                    unescapedCount = 0
                }
                appendUnescaped(from: runStart)
                try unescape(stringOpening: opening)
                runStart = position
            } else if byte < 0x20 {
                throw failure(JSONParseError.controlCharacter)
            } else if byte >= 0x80 {
                isPlain = false
                try skipUTF8Sequence()
            } else {
                position += 1
            }
        }
        lastStringWasPlain = isPlain
        let string: String
        if hasEscapes {
            appendUnescaped(from: runStart)
            string = String(decoding: UnsafeBufferPointer(start: unescaped, count: unescapedCount), as: UTF8.self)
        } else {
            string = String(decoding: UnsafeBufferPointer(start: base + runStart, count: position - runStart), as: UTF8.self)
        }
        position += 1
        return string
    }

    /// Copies the input from `start` up to `position` to the decoded string.
    private mutating func appendUnescaped(from start: Int) {
        let target = unescaped ?? .allocate(capacity: end)
        unescaped = target
        (target + unescapedCount).update(from: base + start, count: position - start)
        unescapedCount += position - start
    }

    private mutating func appendUnescaped(_ byte: UInt8) {
        unescaped.unsafelyUnwrapped[unescapedCount] = byte
        unescapedCount += 1
    }

    /// Decodes the escape whose backslash is at `position` into `unescaped`.
    private mutating func unescape(stringOpening: Int) throws(JSONParseError) {
        let backslash = position
        guard position + 1 < end else { throw failure(JSONParseError.unterminatedString, at: stringOpening) }
        let decoded: UInt8
        switch base[position + 1] {
        case UInt8(ascii: "\""): decoded = UInt8(ascii: "\"")
        case UInt8(ascii: "\\"): decoded = UInt8(ascii: "\\")
        case UInt8(ascii: "/"): decoded = UInt8(ascii: "/")
        case UInt8(ascii: "b"): decoded = 0x08
        case UInt8(ascii: "f"): decoded = 0x0C
        case UInt8(ascii: "n"): decoded = 0x0A
        case UInt8(ascii: "r"): decoded = 0x0D
        case UInt8(ascii: "t"): decoded = 0x09
        case UInt8(ascii: "u"):
            guard let unit = hexQuad(at: position + 2) else { throw failure(JSONParseError.invalidEscape, at: backslash) }
            position += 6
            var scalar = UInt32(unit)
            switch unit {
            case 0xD800...0xDBFF:
                if position + 6 <= end, base[position] == UInt8(ascii: "\\"), base[position + 1] == UInt8(ascii: "u"),
                    let low = hexQuad(at: position + 2), (0xDC00...0xDFFF).contains(low)
                {
                    scalar = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
                    position += 6
                } else {
                    scalar = 0xFFFD
                }
            case 0xDC00...0xDFFF:
                scalar = 0xFFFD
            default:
                break
            }
            appendUTF8(scalar)
            return
        default:
            throw failure(JSONParseError.invalidEscape, at: backslash)
        }
        appendUnescaped(decoded)
        position += 2
    }

    /// The value of four hex digits at `offset`, or nil.
    private func hexQuad(at offset: Int) -> UInt16? {
        guard offset + 4 <= end else { return nil }
        var value: UInt16 = 0
        for byte in UnsafeBufferPointer(start: base + offset, count: 4) {
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt16(digit)
        }
        return value
    }

    private mutating func appendUTF8(_ scalar: UInt32) {
        switch scalar {
        case ..<0x80:
            appendUnescaped(UInt8(scalar))
        case ..<0x800:
            appendUnescaped(UInt8(0xC0 | scalar >> 6))
            appendUnescaped(UInt8(0x80 | scalar & 0x3F))
        case ..<0x10000:
            appendUnescaped(UInt8(0xE0 | scalar >> 12))
            appendUnescaped(UInt8(0x80 | scalar >> 6 & 0x3F))
            appendUnescaped(UInt8(0x80 | scalar & 0x3F))
        default:
            appendUnescaped(UInt8(0xF0 | scalar >> 18))
            appendUnescaped(UInt8(0x80 | scalar >> 12 & 0x3F))
            appendUnescaped(UInt8(0x80 | scalar >> 6 & 0x3F))
            appendUnescaped(UInt8(0x80 | scalar & 0x3F))
        }
    }

    /// Steps over the multi-byte UTF-8 sequence starting at `position`, checking it is well-formed
    /// (Unicode table 3-7: no overlong forms, no surrogates, nothing above U+10FFFF).
    private mutating func skipUTF8Sequence() throws(JSONParseError) {
        let lead = base[position]
        let length: Int
        var secondRange: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; secondRange = 0xA0...0xBF
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; secondRange = 0x80...0x9F
        case 0xF0: length = 4; secondRange = 0x90...0xBF
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; secondRange = 0x80...0x8F
        default: throw failure(JSONParseError.invalidUTF8)
        }
        guard position + length <= end, secondRange.contains(base[position + 1]) else {
            throw failure(JSONParseError.invalidUTF8)
        }
        for continuation in 2..<length where base[position + continuation] & 0xC0 != 0x80 {
            throw failure(JSONParseError.invalidUTF8)
        }
        position += length
    }

    /// Parses the number at `position` and returns its literal text.
    private mutating func parseNumber() throws(JSONParseError) -> String {
        let start = position
        if base[position] == UInt8(ascii: "-") {
            position += 1
        }
        if position < end, base[position] == UInt8(ascii: "0") {
            position += 1
            if position < end, isDigit(base[position]) { throw failure(JSONParseError.invalidNumber) }
        } else {
            try skipDigits()
        }
        if position < end, base[position] == UInt8(ascii: ".") {
            position += 1
            try skipDigits()
        }
        if position < end, base[position] | 0x20 == UInt8(ascii: "e") {
            position += 1
            if position < end, base[position] == UInt8(ascii: "+") || base[position] == UInt8(ascii: "-") {
                position += 1
            }
            try skipDigits()
        }
        return String(decoding: UnsafeBufferPointer(start: base + start, count: position - start), as: UTF8.self)
    }

    /// Steps over one or more digits.
    private mutating func skipDigits() throws(JSONParseError) {
        guard position < end, isDigit(base[position]) else { throw failure(JSONParseError.invalidNumber) }
        repeat {
            position += 1
        } while position < end && isDigit(base[position])
    }

    private func isDigit(_ byte: UInt8) -> Bool {
        byte &- UInt8(ascii: "0") < 10
    }
}
