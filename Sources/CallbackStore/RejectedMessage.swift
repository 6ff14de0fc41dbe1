/// A message that could not be used, kept (bounded) so an operator can see why.
public struct RejectedMessage: Sendable, Equatable {
    /// Row id assigned by the store; ignored on insert.
    public var id: Int64
    /// When the message was received (ms since the Unix epoch).
    public var receivedAt: Int64
    /// Where it came from, e.g. `"events"`, `"requests"` or `"replay:<file>"`.
    public var source: String
    /// The SQS message id, when there is one.
    public var messageID: String?
    /// Why it was rejected; must not contain a task token.
    public var reason: String
    /// The body; cut to `StoreOptions.rejectedBodyLimit` bytes on insert.
    public var body: String

    /// A rejected message; `id` is assigned by the store on insert.
    public init(id: Int64 = 0, receivedAt: Int64, source: String, messageID: String?, reason: String, body: String) {
        self.id = id
        self.receivedAt = receivedAt
        self.source = source
        self.messageID = messageID
        self.reason = reason
        self.body = body
    }
}

extension String {
    /// The longest prefix of at most `limit` UTF-8 bytes that does not split a character's encoding.
    public func utf8Prefix(maxBytes limit: Int) -> String {
        let bytes = utf8
        guard bytes.count > limit else { return self }
        var end = bytes.index(bytes.startIndex, offsetBy: Swift.max(0, limit))
        // A continuation byte (10xxxxxx) at the cut means the cut is inside a scalar: back up to its lead byte.
        while end > bytes.startIndex, bytes[end] & 0b1100_0000 == 0b1000_0000 {
            end = bytes.index(before: end)
        }
        return String(decoding: bytes[..<end], as: UTF8.self)
    }
}
