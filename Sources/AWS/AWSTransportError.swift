public import HTTP

/// An AWS request that got no HTTP answer: the transport's error, with the operation it was for.
/// What the clients throw once retries are exhausted, so their callers need not know the transport.
public struct AWSTransportError: Error, Sendable, CustomStringConvertible {
    /// The operation that failed, e.g. `SendTaskSuccess`.
    public var operation: String
    /// What the transport reported: safe to log (a diagnosis, never a body or a header value).
    public var underlying: HTTPError

    public init(operation: String, underlying: HTTPError) {
        self.operation = operation
        self.underlying = underlying
    }

    public var description: String { "\(operation) got no answer: \(underlying)" }
}

extension RetryableFailure {
    /// Whether `error` says that a request got no usable answer (a transport failure, an
    /// unusable success body), rather than that it could not be made (credentials, cancellation).
    static func isTransport(_ error: any Error) -> Bool {
        error is AWSTransportError || error is HTTPError || error is AWSResponseError
    }
}

/// Any error an AWS call ended with, in the few words its callers decide and log on: the one
/// place where an error becomes an outcome (a delivery's result, a sweep's finding, a doctor's line).
public struct CallFailure: Sendable, Equatable, CustomStringConvertible {
    /// The service's error code; else ``connection`` (no answer), ``cancelled`` or ``other``.
    public var code: String
    /// Safe to log: the service's message (bounded, redacted) or the transport's diagnosis.
    public var message: String
    /// How the retry decision classifies the error.
    public var failure: RetryableFailure
    /// Whether the service itself answered (an ``AWSError``), so that `code` is its own.
    public var answered: Bool

    /// The code of a call that got no answer.
    public static let connection = "Connection"
    /// The code of a call cancelled (shutting down).
    public static let cancelled = "Cancelled"
    /// The code of any other error (credentials that could not be had, say).
    public static let other = "Error"

    public init(_ error: any Error) {
        failure = RetryableFailure.classify(error)
        answered = false
        switch error {
        case let error as AWSError:
            (code, message, answered) = (error.code, error.message, true)
        case let error as AWSTransportError:
            (code, message) = (Self.connection, error.underlying.message)
        case let error as HTTPError:
            (code, message) = (Self.connection, error.message)
        case is CancellationError:
            (code, message) = (Self.cancelled, "shutting down")
        default:
            (code, message) = (Self.other, "\(error)")
        }
    }

    /// Whether the service refused for good: the same request will get the same answer until
    /// someone changes something (a permission, the request). Anything else may pass.
    public var isRefusal: Bool { answered && failure == .permanent }

    /// Whether the service asked for fewer calls.
    public var isThrottling: Bool { failure == .throttling }

    public var description: String { message.isEmpty ? code : "\(code): \(message)" }
}
