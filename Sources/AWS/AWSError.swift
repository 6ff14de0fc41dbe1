/// An error answered by an AWS service: its code, message, HTTP status and request id.
///
/// The message is the service's own, cut to a bounded length, with any value the caller asked to
/// redact (a task token) replaced, so the error is always safe to log.
public struct AWSError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The error code without any `namespace#` prefix, e.g. `ThrottlingException`, `TaskTimedOut`.
    public var code: String
    /// The service's message, bounded and redacted.
    public var message: String
    /// The HTTP status of the response.
    public var httpStatus: Int
    /// The request id the service gave, for support cases.
    public var requestID: String?
    /// The operation that failed, e.g. `SendTaskSuccess`.
    public var operation: String
    /// The `Code` of each entry of the body's `CancellationReasons` (DynamoDB's
    /// `TransactionCanceledException`: one per write, `None` for a write that was fine), in
    /// order; empty for other errors. Only the codes are kept: an entry may carry item values.
    public var cancellationReasons: [String]

    /// The longest message kept, in characters.
    public static let messageLimit = 512

    public init(
        code: String, message: String, httpStatus: Int, requestID: String? = nil, operation: String,
        cancellationReasons: [String] = []
    ) {
        self.code = code
        self.message = message.count > Self.messageLimit ? String(message.prefix(Self.messageLimit)) + "…" : message
        self.httpStatus = httpStatus
        self.requestID = requestID
        self.operation = operation
        self.cancellationReasons = cancellationReasons
    }

    public var description: String {
        var text = "\(operation) failed: \(code) (HTTP \(httpStatus))"
        if !message.isEmpty { text += ": \(message)" }
        if let requestID { text += " [request id \(requestID)]" }
        return text
    }

    /// Strips a `namespace#` prefix and any `:`-suffix some services append
    /// (`com.amazonaws.sqs#QueueDoesNotExist`, `ValidationException:http://…`).
    public static func normalizedCode(_ raw: String) -> String {
        var code = Substring(raw)
        if let hash = code.lastIndex(of: "#") { code = code[code.index(after: hash)...] }
        if let colon = code.firstIndex(of: ":") { code = code[..<colon] }
        return String(code)
    }
}

/// A response that could not be understood: not JSON, or missing what the operation needs.
public struct AWSResponseError: Error, Sendable, CustomStringConvertible {
    public var operation: String
    public var reason: String
    public init(operation: String, reason: String) {
        self.operation = operation
        self.reason = reason
    }
    public var description: String { "\(operation) returned an unusable response: \(reason)" }
}
