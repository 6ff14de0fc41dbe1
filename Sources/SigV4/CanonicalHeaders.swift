/// The canonical headers of a request and the list of their names (`SignedHeaders`).
///
/// Names are lowercased and sorted; each value is trimmed and its runs of whitespace (including
/// folded line breaks) collapse to one space; values of a repeated name are joined with commas
/// in their original order.
struct CanonicalHeaders {
    /// A header after canonicalisation, before repeated names are merged.
    private struct Entry {
        var name: String
        var value: String
        var position: Int
    }

    private var entries: [Entry]

    /// Canonicalises the headers for which `isSigned(lowercasedName)` holds.
    init(_ headers: [(name: String, value: String)], isSigned: (String) -> Bool) {
        entries = []
        entries.reserveCapacity(headers.count + 3)
        for header in headers {
            let name = Self.lowercasedASCII(header.name)
            guard isSigned(name) else { continue }
            entries.append(Entry(name: name, value: Self.trimmed(header.value), position: entries.count))
        }
    }

    /// Adds a header the signer itself sets; `name` must already be lowercase.
    mutating func add(name: String, value: String) {
        entries.append(Entry(name: name, value: Self.trimmed(value), position: entries.count))
    }

    /// Appends `name:value\n` per distinct name to `canonical`, and `a;b;c` to `signedHeaders`.
    mutating func append(to canonical: inout [UInt8], signedHeaders: inout [UInt8]) {
        // The position breaks ties so repeated names keep their order whatever the sort does.
        entries.sort { $0.name == $1.name ? $0.position < $1.position : $0.name < $1.name }
        var previous: String? = nil
        for entry in entries {
            if entry.name == previous {
                canonical.removeLast() // the newline: the value continues on the same line
                canonical.append(UInt8(ascii: ","))
            } else {
                if previous != nil { signedHeaders.append(UInt8(ascii: ";")) }
                signedHeaders.append(contentsOf: entry.name.utf8)
                canonical.append(contentsOf: entry.name.utf8)
                canonical.append(UInt8(ascii: ":"))
                previous = entry.name
            }
            canonical.append(contentsOf: entry.value.utf8)
            canonical.append(UInt8(ascii: "\n"))
        }
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\n")
            || byte == UInt8(ascii: "\r")
    }

    private static func isUppercase(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")
    }

    /// `name` in lowercase; header names are ASCII tokens, so byte-wise lowering is exact.
    static func lowercasedASCII(_ name: String) -> String {
        withBytes(of: name) { bytes in
            guard bytes.contains(where: isUppercase) else { return name }
            return String(unsafeUninitializedCapacity: bytes.count) { output in
                for index in bytes.indices {
                    output[index] = isUppercase(bytes[index]) ? bytes[index] | 0x20 : bytes[index]
                }
                return bytes.count
            }
        }
    }

    /// `value` without leading or trailing whitespace and with each inner run of whitespace
    /// (spaces, tabs, line breaks of folded lines) made one space.
    static func trimmed(_ value: String) -> String {
        withBytes(of: value) { bytes in
            if isClean(bytes) { return value }
            var output: [UInt8] = []
            output.reserveCapacity(bytes.count)
            var pendingSpace = false
            for byte in bytes {
                if isWhitespace(byte) {
                    pendingSpace = !output.isEmpty
                } else {
                    if pendingSpace { output.append(UInt8(ascii: " ")) }
                    pendingSpace = false
                    output.append(byte)
                }
            }
            return String(decoding: output, as: UTF8.self)
        }
    }

    /// Whether `bytes` has nothing to trim: no whitespace but single spaces between other bytes.
    /// The common case, so `trimmed` can return its argument without copying.
    private static func isClean(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = bytes.baseAddress, let first = bytes.first, let last = bytes.last else {
            return true
        }
        if first == UInt8(ascii: " ") || last == UInt8(ascii: " ") { return false }
        var previous: UInt8 = 0
        func isClean(_ byte: UInt8) -> Bool {
            // Only bytes up to the space can be whitespace; other control bytes pass as they are.
            defer { previous = byte }
            guard byte <= UInt8(ascii: " ") else { return true }
            return byte == UInt8(ascii: " ") ? previous != byte : !isWhitespace(byte)
        }
        // Eight bytes at a time while none is at or below the space: session tokens run to
        // hundreds of bytes and have none. The test is exact for "some byte < 0x21".
        var index = 0
        while index + 8 <= bytes.count {
            let word = UnsafeRawPointer(base).loadUnaligned(fromByteOffset: index, as: UInt64.self)
            if (word &- 0x2121_2121_2121_2121) & ~word & 0x8080_8080_8080_8080 == 0 {
                previous = bytes[index + 7]
            } else {
                for byte in bytes[index..<index + 8] where !isClean(byte) { return false }
            }
            index += 8
        }
        for byte in bytes[index...] where !isClean(byte) { return false }
        return true
    }

    /// Runs `body` over the UTF-8 bytes of `string` without copying them when it is native.
    private static func withBytes<Result>(
        of string: String, _ body: (UnsafeBufferPointer<UInt8>) -> Result
    ) -> Result {
        if let result = string.utf8.withContiguousStorageIfAvailable(body) { return result }
        return Array(string.utf8).withUnsafeBufferPointer(body)
    }
}
