import JSON
import NIOHTTP1

/// One answer of the fake: an HTTP status, a JSON body and any extra headers, as AWS sends them.
struct FakeReply: Sendable {
    var status: HTTPResponseStatus
    var body: [UInt8]
    var headers: [(name: String, value: String)] = []

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

    /// An SQS error: `__type` in the `com.amazonaws.sqs#` namespace, as SQS's JSON protocol answers.
    static func sqsError(_ code: String, _ message: String, queryCode: String) -> FakeReply {
        error("com.amazonaws.sqs#\(code)", message, queryCode: queryCode)
    }
}
