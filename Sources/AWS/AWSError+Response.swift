import HTTP

extension AWSError {
    /// The error for an HTTP error `response` whose body gave `code` (raw, possibly namespaced;
    /// `HTTP<status>` when nil) and `message`, with every non-empty value of `secrets` in the
    /// message and the code replaced by `<redacted>` (a body is whatever the other end sent).
    init(
        response: HTTPResponse, code: String?, message: String, requestID: String?, operation: String,
        cancellationReasons: [String] = [], redacting secrets: [String]
    ) {
        var message = message
        var code = code.map(AWSError.normalizedCode) ?? "HTTP\(response.status)"
        for secret in secrets where !secret.isEmpty {
            message = message.replacing(secret, with: "<redacted>")
            code = code.replacing(secret, with: "<redacted>")
        }
        self.init(
            code: code,
            message: message,
            httpStatus: response.status,
            requestID: requestID,
            operation: operation,
            cancellationReasons: cancellationReasons
        )
    }
}
