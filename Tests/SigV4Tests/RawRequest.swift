/// A raw HTTP/1.1 request as the vector files write it (`.req`, `request.txt`, signed requests):
/// a request line, `Name:value` header lines, a continuation line starting with whitespace that
/// folds into the previous value, an optional blank line and a body.
struct RawRequest {
    var method: String
    var path: String
    var query: String
    var headers: [(name: String, value: String)]
    var body: [UInt8]

    struct ParseError: Error, CustomStringConvertible {
        var description: String
    }

    init(parsing bytes: [UInt8]) throws {
        let newline = UInt8(ascii: "\n")
        var head = bytes[...]
        body = []
        let blankLine = bytes.indices.dropLast().first {
            bytes[$0] == newline && bytes[$0 + 1] == newline
        }
        if let blank = blankLine {
            head = bytes[..<blank]
            body = Array(bytes[(blank + 2)...])
        }
        var lines = head.split(separator: newline, omittingEmptySubsequences: false).map {
            String(decoding: $0, as: UTF8.self)
        }
        if lines.last == "" { lines.removeLast() }
        guard let requestLine = lines.first,
            let firstSpace = requestLine.firstIndex(of: " "),
            let lastSpace = requestLine.lastIndex(of: " "), firstSpace < lastSpace
        else { throw ParseError(description: "no request line") }
        method = String(requestLine[..<firstSpace])
        // The target may hold spaces (`/example space/`): it runs up to the protocol version.
        let target = requestLine[requestLine.index(after: firstSpace)..<lastSpace]
        if let question = target.firstIndex(of: "?") {
            path = String(target[..<question])
            query = String(target[target.index(after: question)...])
        } else {
            path = String(target)
            query = ""
        }
        headers = []
        for line in lines.dropFirst() {
            if line.first == " " || line.first == "\t" {
                guard !headers.isEmpty else { throw ParseError(description: "continuation first") }
                headers[headers.count - 1].value += "\n" + line
            } else if let colon = line.firstIndex(of: ":") {
                headers.append((String(line[..<colon]), String(line[line.index(after: colon)...])))
            } else {
                throw ParseError(description: "bad header line \(line)")
            }
        }
    }
}
