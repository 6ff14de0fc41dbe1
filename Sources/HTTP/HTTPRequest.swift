/// One HTTP request to send: method, absolute URL, headers and body, with a total time limit.
public struct HTTPRequest: Sendable {
    /// The request method, such as `"GET"`, `"POST"` or `"PUT"`.
    public var method: String
    /// An absolute `http` or `https` URL.
    public var url: String
    /// Header fields in the order they are sent. Names are sent as given.
    public var headers: [(name: String, value: String)]
    /// The request body; sent with a `Content-Length` for every method but `GET` and `HEAD` with an empty body.
    public var body: [UInt8]
    /// The total time allowed for this transfer: connecting, sending and receiving.
    public var timeout: Duration
    /// Connects straight to the URL's host whatever proxy the environment names (`http_proxy`,
    /// `https_proxy`, `all_proxy`): for the link-local credential and metadata endpoints, which
    /// must never be asked through anything else.
    public var bypassesProxy = false

    /// Creates a request; nothing is checked until it is executed.
    public init(
        method: String,
        url: String,
        headers: [(name: String, value: String)] = [],
        body: [UInt8] = [],
        timeout: Duration = .seconds(30)
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }

    /// Rejects what would let one field spill into another on the wire (header injection).
    func validate() throws(HTTPError) {
        guard !method.isEmpty, method.utf8.allSatisfy(HTTPSyntax.isTokenByte) else {
            throw HTTPError(kind: .invalidRequest, curlCode: 0, message: "method is not an HTTP token")
        }
        guard !url.isEmpty, url.utf8.allSatisfy(HTTPSyntax.isVisibleByte) else {
            throw HTTPError(kind: .invalidRequest, curlCode: 0, message: "URL contains spaces or control characters")
        }
        for header in headers {
            guard !header.name.isEmpty, header.name.utf8.allSatisfy(HTTPSyntax.isTokenByte) else {
                throw HTTPError(kind: .invalidRequest, curlCode: 0, message: "header name is not an HTTP token")
            }
            guard header.value.utf8.allSatisfy(HTTPSyntax.isFieldValueByte) else {
                throw HTTPError(
                    kind: .invalidRequest, curlCode: 0,
                    message: "value of header \(header.name) contains control characters")
            }
        }
    }
}

/// Byte classes from RFC 9110, used to keep requests well-formed.
public enum HTTPSyntax {
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    static func isVisibleByte(_ byte: UInt8) -> Bool {
        byte > 0x20 && byte != 0x7F
    }

    static func isFieldValueByte(_ byte: UInt8) -> Bool {
        byte == 0x09 || (byte >= 0x20 && byte != 0x7F)
    }

    /// Whether two header field names are equal, ignoring ASCII case, without allocating
    /// lowercased copies.
    public static func namesEqual(_ a: String, _ b: String) -> Bool {
        a.utf8.elementsEqual(b.utf8) { lower($0) == lower($1) }
    }

    private static func lower(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }
}
