extension JSONValue {
    /// The compact JSON text: no whitespace, object members in order, numbers as their literal
    /// text. Escaped in strings: `"`, `\`, and control characters (`\n \t \r \b \f`, others as
    /// `\u00XX`); `/`, U+2028, U+2029 and all other non-ASCII stay raw UTF-8.
    public func serialized() -> String {
        let sink = JSONSerializer.sink(for: self)
        return sink.withBytes { String(decoding: $0, as: UTF8.self) }
    }

    /// The UTF-8 bytes of ``serialized()``.
    public func serializedBytes() -> [UInt8] {
        let sink = JSONSerializer.sink(for: self)
        return sink.withBytes { Array($0) }
    }

    /// Appends the UTF-8 bytes of ``serialized()`` to `bytes`, for building a larger body around
    /// a value.
    public func serialize(into bytes: inout [UInt8]) {
        let sink = JSONSerializer.sink(for: self)
        sink.withBytes { bytes.append(contentsOf: $0) }
    }

    /// The UTF-8 length of ``serialized()``, counted without building it.
    public var serializedByteCount: Int {
        JSONSerializer.byteCount(of: self)
    }
}

extension JSONObject {
    /// The compact JSON text of this object; see ``JSONValue/serialized()``.
    public func serialized() -> String {
        JSONValue.object(self).serialized()
    }

    /// The UTF-8 length of ``serialized()``, counted without building it.
    public var serializedByteCount: Int {
        JSONSerializer.byteCount(of: self)
    }
}

/// Writes values as compact JSON and counts the bytes that takes. Recursion follows the value's
/// nesting, which the parser bounds; values built in code are trusted to be sane.
enum JSONSerializer {
    /// Enough for a typical AWS request body without regrowing, small enough to waste little.
    static let initialCapacity = 1024

    static func sink(for value: JSONValue) -> ByteSink {
        var sink = ByteSink(capacity: initialCapacity)
        write(value, into: &sink)
        return sink
    }

    static func write(_ value: JSONValue, into sink: inout ByteSink) {
        switch value {
        case .null:
            sink.append("null")
        case .bool(let flag):
            sink.append(flag ? "true" : "false")
        case .number(let text):
            withUTF8(of: text) { sink.append($0) }
        case .string(let string):
            write(string, into: &sink)
        case .array(let elements):
            sink.append(UInt8(ascii: "["))
            elements.withUnsafeBufferPointer { elements in
                for position in elements.indices {
                    if position > 0 {
                        sink.append(UInt8(ascii: ","))
                    }
                    write(elements[position], into: &sink)
                }
            }
            sink.append(UInt8(ascii: "]"))
        case .object(let object):
            sink.append(UInt8(ascii: "{"))
            object.members.withUnsafeBufferPointer { members in
                for position in members.indices {
                    if position > 0 {
                        sink.append(UInt8(ascii: ","))
                    }
                    write(members[position].key, into: &sink)
                    sink.append(UInt8(ascii: ":"))
                    write(members[position].value, into: &sink)
                }
            }
            sink.append(UInt8(ascii: "}"))
        }
    }

    /// Writes `string` quoted, copying runs that need no escape in one go.
    private static func write(_ string: String, into sink: inout ByteSink) {
        sink.append(UInt8(ascii: "\""))
        withUTF8(of: string) { utf8 in
            var runStart = 0
            forEachByteToEscape(in: utf8) { offset, byte in
                sink.append(UnsafeBufferPointer(rebasing: utf8[runStart..<offset]))
                appendEscape(for: byte, to: &sink)
                runStart = offset + 1
            }
            sink.append(UnsafeBufferPointer(rebasing: utf8[runStart...]))
        }
        sink.append(UInt8(ascii: "\""))
    }

    private static func appendEscape(for byte: UInt8, to sink: inout ByteSink) {
        let short: UInt8
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"): short = byte
        case 0x0A: short = UInt8(ascii: "n")
        case 0x09: short = UInt8(ascii: "t")
        case 0x0D: short = UInt8(ascii: "r")
        case 0x08: short = UInt8(ascii: "b")
        case 0x0C: short = UInt8(ascii: "f")
        default:
            let hexDigits: StaticString = "0123456789abcdef"
            sink.append("\\u00")
            sink.append(hexDigits.utf8Start[Int(byte >> 4)])
            sink.append(hexDigits.utf8Start[Int(byte & 0x0F)])
            return
        }
        sink.append(UInt8(ascii: "\\"))
        sink.append(short)
    }

    /// Lends the UTF-8 of `string` without copying it (a native string is always contiguous).
    private static func withUTF8<Result>(of string: String, _ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result {
        if let result = string.utf8.withContiguousStorageIfAvailable(body) {
            return result
        }
        return Array(string.utf8).withUnsafeBufferPointer(body)
    }

    /// Calls `body` with the offset and value of each byte of `utf8` that must be escaped.
    private static func forEachByteToEscape(
        in utf8: UnsafeBufferPointer<UInt8>, _ body: (Int, UInt8) -> Void
    ) {
        guard let base = utf8.baseAddress else { return }
        let count = utf8.count
        var offset = 0
        while offset < count {
            if offset + 8 <= count, !ByteWord.needsEscape(ByteWord.load(base + offset)) {
                offset += 8
                continue
            }
            let byte = base[offset]
            if byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                body(offset, byte)
            }
            offset += 1
        }
    }

    static func byteCount(of value: JSONValue) -> Int {
        switch value {
        case .null: 4
        case .bool(let flag): flag ? 4 : 5
        case .number(let text): text.utf8.count
        case .string(let string): byteCount(of: string)
        case .array(let elements):
            elements.withUnsafeBufferPointer { elements in
                // Brackets, plus a comma between each two elements.
                var total = max(2, elements.count + 1)
                for position in elements.indices {
                    total += byteCount(of: elements[position])
                }
                return total
            }
        case .object(let object): byteCount(of: object)
        }
    }

    static func byteCount(of object: JSONObject) -> Int {
        object.members.withUnsafeBufferPointer { members in
            // Braces, a colon per member, a comma between each two members.
            var total = max(2, members.count + 1) + members.count
            for position in members.indices {
                total += byteCount(of: members[position].key) + byteCount(of: members[position].value)
            }
            return total
        }
    }

    private static func byteCount(of string: String) -> Int {
        withUTF8(of: string) { utf8 in
            var total = utf8.count + 2
            forEachByteToEscape(in: utf8) { _, byte in
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), 0x0A, 0x09, 0x0D, 0x08, 0x0C: total += 1
                default: total += 5
                }
            }
            return total
        }
    }
}
