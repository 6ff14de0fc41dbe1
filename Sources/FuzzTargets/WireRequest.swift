import SigV4

/// Reads an HTTP request in the form of the SigV4 test suite's `.req` files, leniently, so that
/// any bytes make some request: `METHOD PATH[?QUERY] HTTP/1.1`, header lines `name:value`
/// (a line starting with whitespace continues the previous value), a blank line, the body.
enum WireRequest {
    static func parse(_ input: [UInt8]) -> SignableRequest {
        let text = String(decoding: input, as: UTF8.self)
        let (head, body) = split(text, at: "\n\n")
        var lines = head.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let requestLine = lines.isEmpty ? "" : lines.removeFirst()
        let words = requestLine.split(separator: " ", maxSplits: 1).map(String.init)
        let method = words.first ?? ""
        var target = words.count > 1 ? words[1] : "/"
        if target.hasSuffix(" HTTP/1.1") { target.removeLast(" HTTP/1.1".count) }
        let (path, query) = split(target, at: "?")
        var headers: [(name: String, value: String)] = []
        for line in lines {
            if let continued = line.first, continued == " " || continued == "\t", !headers.isEmpty {
                headers[headers.count - 1].value += "\n" + line
                continue
            }
            let (name, value) = split(line, at: ":")
            headers.append((name, value))
        }
        return SignableRequest(method: method, path: path, query: query, headers: headers, body: Array(body.utf8))
    }

    /// The text before and after the first `separator`; all of it and "" when there is none.
    private static func split(_ text: String, at separator: String) -> (String, String) {
        guard let range = text.firstRange(of: separator) else { return (text, "") }
        return (String(text[..<range.lowerBound]), String(text[range.upperBound...]))
    }
}
