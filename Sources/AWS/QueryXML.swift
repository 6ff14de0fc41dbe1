/// Reads the flat text fields of an AWS query-protocol XML response (`<AccessKeyId>…</AccessKeyId>`).
///
/// It is deliberately small and strict: it finds the first element with a given name and returns
/// its text, decoding the five predefined entities and numeric character references. An element
/// whose text holds markup, an unknown or malformed entity, or a missing end tag is an error
/// rather than a guess, because a misread credential is worse than none.
package struct QueryXML: Sendable {
    /// Why a field could not be read; names the element, never its content.
    package struct Malformed: Error, Sendable, Equatable, CustomStringConvertible {
        package var element: String
        var reason: String
        package var description: String { "<\(element)> \(reason)" }
    }

    private let bytes: [UInt8]

    /// A reader over one response body.
    package init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// The decoded text of the first element named `name` (no attributes expected, though they are
    /// tolerated); nil when there is none. `<Name/>` is the empty string.
    package func text(_ name: String) throws(Malformed) -> String? {
        let open = Array("<\(name)".utf8)
        var from = bytes.startIndex
        while let start = Self.find(open, in: bytes, from: from) {
            let after = start + open.count
            guard after < bytes.endIndex else { break }
            switch bytes[after] {
            case UInt8(ascii: ">"):
                return try content(name, from: after + 1)
            case UInt8(ascii: "/") where after + 1 < bytes.endIndex && bytes[after + 1] == UInt8(ascii: ">"):
                return ""
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                guard let close = bytes[after...].firstIndex(of: UInt8(ascii: ">")) else {
                    throw Malformed(element: name, reason: "has an unterminated start tag")
                }
                if bytes[close - 1] == UInt8(ascii: "/") { return "" }
                return try content(name, from: close + 1)
            default:
                // A longer name sharing this prefix (`<Code` in `<CodeSet>`): keep looking.
                from = after
            }
        }
        return nil
    }

    /// The text between a start tag ending before `from` and `</name>`.
    private func content(_ name: String, from: Int) throws(Malformed) -> String {
        let close = Array("</\(name)>".utf8)
        guard let end = Self.find(close, in: bytes, from: from) else {
            throw Malformed(element: name, reason: "has no end tag")
        }
        return try Self.decode(bytes[from..<end], element: name)
    }

    /// Text with entities decoded; markup inside is an error (these fields are flat).
    static func decode(_ text: ArraySlice<UInt8>, element: String) throws(Malformed) -> String {
        guard text.contains(UInt8(ascii: "&")) || text.contains(UInt8(ascii: "<")) else {
            return String(decoding: text, as: UTF8.self)
        }
        var output: [UInt8] = []
        output.reserveCapacity(text.count)
        var index = text.startIndex
        while index < text.endIndex {
            let byte = text[index]
            if byte == UInt8(ascii: "<") {
                throw Malformed(element: element, reason: "holds markup, not text")
            }
            guard byte == UInt8(ascii: "&") else {
                output.append(byte)
                index += 1
                continue
            }
            guard let semicolon = text[index...].prefix(12).firstIndex(of: UInt8(ascii: ";")) else {
                throw Malformed(element: element, reason: "holds an unterminated entity")
            }
            let entity = text[(index + 1)..<semicolon]
            guard let decoded = decodeEntity(entity) else {
                throw Malformed(element: element, reason: "holds an unknown or invalid entity")
            }
            output.append(contentsOf: String(decoded).utf8)
            index = semicolon + 1
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// The character an entity name (between `&` and `;`) stands for.
    private static func decodeEntity(_ entity: ArraySlice<UInt8>) -> Character? {
        switch String(decoding: entity, as: UTF8.self) {
        case "amp": return "&"
        case "lt": return "<"
        case "gt": return ">"
        case "quot": return "\""
        case "apos": return "'"
        default: break
        }
        guard entity.first == UInt8(ascii: "#") else { return nil }
        var digits = entity.dropFirst()
        var radix = 10
        if digits.first == UInt8(ascii: "x") {
            radix = 16
            digits = digits.dropFirst()
        }
        guard !digits.isEmpty, let value = UInt32(String(decoding: digits, as: UTF8.self), radix: radix),
            let scalar = Unicode.Scalar(value), value != 0
        else { return nil }
        return Character(scalar)
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from: Int) -> Int? {
        guard let first = needle.first, haystack.count >= needle.count else { return nil }
        var index = from
        let last = haystack.count - needle.count
        while index <= last {
            if haystack[index] == first, haystack[index..<(index + needle.count)].elementsEqual(needle) {
                return index
            }
            index += 1
        }
        return nil
    }
}

/// The body of an AWS query-protocol request: `Action=…&Version=…&Name=value…`.
enum QueryForm {
    /// The form-encoded body: each value percent-encoded with every byte outside the RFC 3986
    /// unreserved set (`A-Z a-z 0-9 - . _ ~`) as `%XX`, so a token's `+`, `/` and `=` survive.
    static func encode(_ parameters: [(name: String, value: String)]) -> [UInt8] {
        var body: [UInt8] = []
        body.reserveCapacity(parameters.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count * 3 + 2 })
        for (offset, parameter) in parameters.enumerated() {
            if offset > 0 { body.append(UInt8(ascii: "&")) }
            append(parameter.name.utf8, to: &body)
            body.append(UInt8(ascii: "="))
            append(parameter.value.utf8, to: &body)
        }
        return body
    }

    private static func append(_ bytes: String.UTF8View, to output: inout [UInt8]) {
        let hex = Array("0123456789ABCDEF".utf8)
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                output.append(byte)
            default:
                output.append(UInt8(ascii: "%"))
                output.append(hex[Int(byte >> 4)])
                output.append(hex[Int(byte & 0x0F)])
            }
        }
    }
}
