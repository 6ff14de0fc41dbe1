import HTTP

extension AWSError {
    /// The error for an HTTP error `response` whose body gave `code` (raw, possibly namespaced;
    /// `HTTP<status>` when nil) and `message`, with every non-empty value of `secrets` in the
    /// message replaced by `<redacted>`.
    init(
        response: HTTPResponse, code: String?, message: String, requestID: String?, operation: String,
        cancellationReasons: [String] = [], redacting secrets: [String]
    ) {
        var message = message
        for secret in secrets where !secret.isEmpty {
            message = message.replacing(secret, with: "<redacted>")
        }
        self.init(
            code: code.map(AWSError.normalizedCode) ?? "HTTP\(response.status)",
            message: message,
            httpStatus: response.status,
            requestID: requestID,
            operation: operation,
            cancellationReasons: cancellationReasons
        )
    }
}
