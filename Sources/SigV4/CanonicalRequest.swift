/// The parts of the SigV4 canonical request that need more than copying: the URI, the query and
/// the headers. Each appends ASCII bytes to the buffer the signer hashes.
enum CanonicalRequest {
    private static let slash = UInt8(ascii: "/")

    /// Appends the canonical URI for a path as on the wire.
    ///
    /// `normalize` removes empty, `.` and `..` segments (keeping a trailing slash), as every service
    /// but S3 expects. `encode` percent-encodes the wire path once more — the "double encoding"
    /// of non-S3 services — which also encodes characters a raw path may carry (spaces, UTF-8).
    static func appendURI(_ path: String, normalize: Bool, encode: Bool, to output: inout [UInt8]) {
        if path.isEmpty || path == "/" {
            output.append(slash)
            return
        }
        var path = path
        path.withUTF8 { bytes in
            func emit(_ segment: some Sequence<UInt8>) {
                if encode {
                    PercentEncoding.append(segment, keepingSlash: true, to: &output)
                } else {
                    output.append(contentsOf: segment)
                }
            }
            guard normalize else {
                emit(bytes)
                return
            }
            var kept: [Slice<UnsafeBufferPointer<UInt8>>] = []
            for segment in bytes.split(separator: slash) {
                if segment.count == 1, segment.first == UInt8(ascii: ".") { continue }
                if segment.count == 2, segment.allSatisfy({ $0 == UInt8(ascii: ".") }) {
                    _ = kept.popLast()
                    continue
                }
                kept.append(segment)
            }
            for segment in kept {
                output.append(slash)
                emit(segment)
            }
            if kept.isEmpty || bytes.last == slash {
                output.append(slash)
            }
        }
    }

    /// Appends the canonical query for a query as on the wire: parameters decoded then encoded
    /// again with the SigV4 set (so `%e1`, `%E1` and a raw byte all come out the same), sorted by
    /// key then value in byte order, a key without `=` given an empty value.
    static func appendQuery(_ query: String, to output: inout [UInt8]) {
        guard !query.isEmpty else { return }
        let bytes = Array(query.utf8)
        var parameters: [(key: [UInt8], value: [UInt8])] = []
        for parameter in bytes.split(separator: UInt8(ascii: "&")) {
            let equals = parameter.firstIndex(of: UInt8(ascii: "="))
            let key = equals.map { parameter[..<$0] } ?? parameter
            let value = equals.map { parameter[($0 + 1)...] } ?? []
            var encodedKey: [UInt8] = []
            var encodedValue: [UInt8] = []
            PercentEncoding.append(PercentEncoding.decode(key), keepingSlash: false, to: &encodedKey)
            PercentEncoding.append(
                PercentEncoding.decode(value), keepingSlash: false, to: &encodedValue)
            parameters.append((encodedKey, encodedValue))
        }
        parameters.sort {
            $0.key == $1.key
                ? $0.value.lexicographicallyPrecedes($1.value)
                : $0.key.lexicographicallyPrecedes($1.key)
        }
        for (index, parameter) in parameters.enumerated() {
            if index > 0 { output.append(UInt8(ascii: "&")) }
            output.append(contentsOf: parameter.key)
            output.append(UInt8(ascii: "="))
            output.append(contentsOf: parameter.value)
        }
    }
}
