/// An HTTP request as it will be sent, in the form the signer reads.
///
/// `path` and `query` are exactly as on the wire: already percent-encoded, the query without its
/// `?`. `headers` must include `host` (and any header the service must see signed, such as
/// `x-amz-target` and `content-type`).
public struct SignableRequest: Sendable {
    /// The HTTP method, e.g. `POST`.
    public var method: String
    /// The path as on the wire, e.g. `/`.
    public var path: String
    /// The query as on the wire, without `?`; empty when there is none.
    public var query: String
    /// The headers in the order they will be sent; names in any case, duplicates allowed.
    public var headers: [(name: String, value: String)]
    /// The body exactly as it will be sent.
    public var body: [UInt8]

    /// A request from its parts; `query` and `body` default to empty.
    public init(
        method: String, path: String, query: String = "",
        headers: [(name: String, value: String)], body: [UInt8] = []
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
    }
}
