import JSON
import NIOHTTP1

/// One answer of the fake: an HTTP status, a JSON body and any extra headers, as AWS sends them.
struct FakeReply: Sendable {
    var status: HTTPResponseStatus
    var body: [UInt8]
    var headers: [(name: String, value: String)] = []
    /// Close the connection instead of answering (a fault: the client sees no response).
    var dropsConnection = false

    /// No answer: the connection is closed.
    static let dropped = FakeReply(status: .ok, body: [], dropsConnection: true)

    /// A 200 answer with a JSON object body.
    static func ok(_ object: JSONObject = [:]) -> FakeReply {
        FakeReply(status: .ok, body: JSONValue.object(object).serializedBytes())
    }

    /// A 400 answer in the JSON protocol's error shape: `{"__type": ..., "message": ...}`.
    /// SQS also names its legacy query code in `x-amzn-query-error`, as it does in JSON mode.
    static func error(_ type: String, _ message: String, queryCode: String? = nil) -> FakeReply {
        FakeReply(
            status: .badRequest,
            body: JSONValue.object(["__type": .string(type), "message": .string(message)]).serializedBytes(),
            headers: queryCode.map { [("x-amzn-query-error", "\($0);Sender")] } ?? []
        )
    }

    /// A server error in the JSON protocol's shape, as AWS sends `InternalFailure` (500) and
    /// `ServiceUnavailable` (503).
    static func serverError(_ status: HTTPResponseStatus, _ type: String, _ message: String) -> FakeReply {
        FakeReply(status: status, body: JSONValue.object(["__type": .string(type), "message": .string(message)]).serializedBytes())
    }

    /// The answer a fault that comes before applying the request gives instead of it.
    static func unapplied(_ mode: FaultMode) -> FakeReply? {
        switch mode {
        case .internalFailure: serverError(.internalServerError, "InternalFailure", "The request processing has failed because of an unknown error.")
        case .serviceUnavailable: serverError(.serviceUnavailable, "ServiceUnavailable", "The service is unavailable. Try again later.")
        case .throttling: error("ThrottlingException", "Rate exceeded")
        case .dropBeforeApplying: .dropped
        default: nil
        }
    }

    /// This answer as a fault that comes after applying the request gives it (stalls are timed
    /// by the caller and end as ``dropped``).
    func faulted(_ mode: FaultMode) -> FakeReply {
        switch mode {
        case .dropAfterApplying, .stall:
            return .dropped
        case .truncatedBody:
            // At least one byte goes, so even `{}` is cut.
            return FakeReply(status: .ok, body: Array(body.prefix(max(0, min(body.count / 2, body.count - 1)))), headers: headers)
        case .nonJSONBody:
            return FakeReply(status: .ok, body: Array("<html><body>502 Bad Gateway</body></html>".utf8), headers: headers)
        default:
            return self
        }
    }

    /// An SQS error: `__type` in the `com.amazonaws.sqs#` namespace, as SQS's JSON protocol answers.
    static func sqsError(_ code: String, _ message: String, queryCode: String) -> FakeReply {
        error("com.amazonaws.sqs#\(code)", message, queryCode: queryCode)
    }
}
