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
                canonical.removeLast()  // the newline: the value continues on the same line
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

    /// `name` in lowercase; header names are ASCII tokens, so byte-wise lowering is exact.
    static func lowercasedASCII(_ name: String) -> String {
        func isUpper(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") }
        guard name.utf8.contains(where: isUpper) else { return name }
        return String(unsafeUninitializedCapacity: name.utf8.count) { buffer in
            for (index, byte) in name.utf8.enumerated() {
                buffer[index] = isUpper(byte) ? byte | 0x20 : byte
            }
            return name.utf8.count
        }
    }

    /// `value` without leading or trailing whitespace and with each inner run of whitespace
    /// (spaces, tabs, line breaks of folded lines) made one space.
    static func trimmed(_ value: String) -> String {
        let bytes = value.utf8
        var previousWasSpace = true  // so leading whitespace counts as a run to drop
        var clean = true
        for byte in bytes {
            if isWhitespace(byte) {
                if previousWasSpace || byte != UInt8(ascii: " ") { clean = false; break }
                previousWasSpace = true
            } else {
                previousWasSpace = false
            }
        }
        if clean && !previousWasSpace || bytes.isEmpty { return value }
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
