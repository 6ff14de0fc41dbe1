/// A complete HTTP response, whatever its status: a 4xx or 5xx is a response, not an error.
public struct HTTPResponse: Sendable {
    /// The status code of the final response.
    public var status: Int
    /// The header fields of the final response only (interim 1xx responses are dropped), in order.
    public var headers: [(name: String, value: String)]
    /// The response body, decoded from any transfer encoding.
    public var body: [UInt8]

    /// Creates a response; clients and test doubles build them.
    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The value of the first header named `name`, compared without regard to ASCII case.
    public func header(_ name: String) -> String? {
        headers.first { HTTPSyntax.namesEqual($0.name, name) }?.value
    }
}
