#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import HTTP
import JSON
import Logging
import SigV4
import Synchronization

/// A small AWS client for the JSON protocols (1.0 and 1.1): it signs every attempt afresh with
/// SigV4, sends it over the injected HTTP transport, parses typed errors, and retries transient
/// failures with exponential backoff and full jitter.
///
/// It is safe to share: every call is independent, and the transport reuses connections.
public final class AWSClient: Sendable {
    /// Supplies current credentials; called before every attempt (a chain caches and refreshes).
    public typealias CredentialSource = @Sendable () async throws -> Credentials

    /// The region every request is signed for.
    public let region: String
    private let http: any HTTPClient
    private let credentials: CredentialSource
    private let endpoints: [AWSService: Endpoint]
    /// One signer per service, kept so its derived signing key is reused from call to call.
    private let signers: [AWSService: SigV4Signer]
    private let retryPolicy: RetryPolicy
    private let logger: Logger
    private let metrics: AWSCallMetrics?
    /// Server time minus local time, in seconds, learned from a clock-skew answer.
    private let clockOffset = Mutex(0.0)

    /// Codes with which services refuse a request signed at the wrong time.
    static let clockSkewCodes: Set<String> = [
        "RequestTimeTooSkewed", "RequestExpired", "RequestInTheFuture", "InvalidSignatureException",
        "SignatureDoesNotMatch", "AuthFailure",
    ]
    /// A `Date` header further than this from the local clock means the clock is skewed.
    static let clockSkewThreshold = 60.0

    /// Builds a client. `endpoints` holds the resolved endpoint of each service this client may call.
    public init(
        http: any HTTPClient,
        credentials: @escaping CredentialSource,
        region: String,
        endpoints: [AWSService: Endpoint],
        retryPolicy: RetryPolicy = RetryPolicy(),
        logger: Logger,
        metrics: AWSCallMetrics? = nil
    ) {
        self.http = http
        self.credentials = credentials
        self.region = region
        self.endpoints = endpoints
        self.signers = Dictionary(uniqueKeysWithValues: endpoints.keys.map { ($0, SigV4Signer(service: $0.signingName, region: region)) })
        self.retryPolicy = retryPolicy
        self.logger = logger
        self.metrics = metrics
    }

    /// The endpoint configured for `service`, if any.
    public func endpoint(for service: AWSService) -> Endpoint? { endpoints[service] }

    /// Calls `operation` of `service` with a JSON body and returns the JSON response object.
    ///
    /// - Parameters:
    ///   - timeout: the total time one attempt may take (a long poll passes more than its wait).
    ///   - retryPolicy: overrides the client's policy for this call.
    ///   - secrets: values (a task token) that must never appear in an error message; they are
    ///     replaced with `<redacted>` should the service echo them.
    /// - Throws: `AWSError` for a service error, `HTTPError` for a transport failure once retries
    ///   are exhausted, `AWSResponseError` for a response that is not JSON, `CancellationError`.
    public func call(
        _ service: AWSService,
        _ operation: String,
        _ body: JSONObject,
        timeout: Duration = .seconds(30),
        retryPolicy: RetryPolicy? = nil,
        redacting secrets: [String] = []
    ) async throws -> JSONObject {
        guard let endpoint = endpoints[service], let signer = signers[service], let wire = service.jsonProtocol else {
            throw AWSResponseError(operation: operation, reason: "no JSON endpoint is configured for \(service.rawValue)")
        }
        let policy = retryPolicy ?? self.retryPolicy
        let payload = JSONValue.object(body).serializedBytes()
        let path = Self.path(of: endpoint.url)
        let url = endpoint.url.hasSuffix(path) ? endpoint.url : endpoint.url + path
        let baseHeaders: [(name: String, value: String)] = [
            ("host", endpoint.host),
            ("content-type", wire.contentType),
            ("x-amz-target", "\(wire.targetPrefix).\(operation)"),
        ]

        var correctedSkew = false
        return try await policy.run(service: service.rawValue, operation: operation, logger: logger, metrics: metrics) {
            while true {
                // Credentials and the signature are fetched and computed afresh for every attempt:
                // a retry after a refresh, or after minutes of backoff, must carry a valid signature.
                let signed = signer.sign(
                    SignableRequest(method: "POST", path: path, headers: baseHeaders, body: payload),
                    credentials: try await credentials(),
                    date: Date().addingTimeInterval(clockOffset.withLock { $0 })
                )
                let request = HTTPRequest(
                    method: "POST",
                    url: url,
                    headers: baseHeaders + signed.headers,
                    body: payload,
                    timeout: timeout
                )
                let response = try await http.execute(request)
                if (200..<300).contains(response.status) {
                    return .success(try Self.decodeSuccess(response, operation: operation))
                }
                let error = Self.decodeError(response, operation: operation, redacting: secrets)
                if !correctedSkew, let skew = Self.clockSkew(error, response) {
                    // Adopt the server's clock and sign again at once, as the SDKs do.
                    correctedSkew = true
                    clockOffset.withLock { $0 = skew }
                    logger.warning("aws.clock_skew", metadata: ["aws.operation": "\(operation)", "aws.skew_seconds": "\(Int(skew))"])
                    continue
                }
                return .failure(
                    error, RetryableFailure.classify(code: error.code, httpStatus: error.httpStatus),
                    retryAfter: Self.retryAfter(response)
                )
            }
        }
    }

    /// Server time minus local time, when `error` refuses a request for its time and the
    /// response's `Date` is further off than the threshold.
    static func clockSkew(_ error: AWSError, _ response: HTTPResponse) -> Double? {
        guard clockSkewCodes.contains(error.code), let serverTime = response.header("date").flatMap(httpDate) else { return nil }
        let skew = serverTime.timeIntervalSinceNow
        return abs(skew) > clockSkewThreshold ? skew : nil
    }

    /// The path part of an endpoint URL, `/` when it has none.
    static func path(of url: String) -> String {
        guard let schemeEnd = url.firstRange(of: "://") else { return "/" }
        let rest = url[schemeEnd.upperBound...]
        guard let slash = rest.firstIndex(of: "/") else { return "/" }
        return String(rest[slash...])
    }

    package static func decodeSuccess(_ response: HTTPResponse, operation: String) throws -> JSONObject {
        if response.body.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return JSONObject() }
        do {
            guard let object = try JSONValue.parse(response.body).objectValue else {
                throw AWSResponseError(operation: operation, reason: "the body is not a JSON object")
            }
            return object
        } catch let error as JSONParseError {
            throw AWSResponseError(operation: operation, reason: error.description)
        }
    }

    package static func decodeError(_ response: HTTPResponse, operation: String, redacting secrets: [String]) -> AWSError {
        let requestID = response.header("x-amzn-requestid") ?? response.header("x-amz-request-id")
            ?? response.header("x-amzn-request-id")
        var code: String?
        var message = ""
        var cancellationReasons: [String] = []
        if let object = (try? JSONValue.parse(response.body))?.objectValue {
            code = (object["__type"] ?? object["code"] ?? object["Code"])?.stringValue
            message = (object["message"] ?? object["Message"] ?? object["errorMessage"])?.stringValue ?? ""
            cancellationReasons = object["CancellationReasons"]?.arrayValue?.map { $0["Code"]?.stringValue ?? "None" } ?? []
        }
        // Some answers come as query-protocol XML (authentication failures from some endpoints).
        if code == nil, response.body.first == UInt8(ascii: "<") {
            let xml = QueryXML(response.body)
            code = (try? xml.text("Code")) ?? nil
            message = ((try? xml.text("Message")) ?? nil) ?? message
        }
        // SQS in JSON mode also names the legacy query error code in a header.
        if code == nil, let queryError = response.header("x-amzn-query-error") {
            code = String(queryError.prefix { $0 != ";" })
        }
        return AWSError(
            response: response, code: code, message: message, requestID: requestID, operation: operation,
            cancellationReasons: cancellationReasons, redacting: secrets
        )
    }

    /// An HTTP `Date` header (RFC 7231 IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`).
    static func httpDate(_ text: String) -> Date? {
        let parts = text.split(separator: " ")
        guard parts.count == 6, parts[5] == "GMT", let day = Int(parts[1]), let year = Int(parts[3]) else { return nil }
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard let monthIndex = months.firstIndex(of: String(parts[2])) else { return nil }
        let time = parts[4].split(separator: ":").compactMap { Int($0) }
        guard time.count == 3 else { return nil }
        let days = ISO8601Timestamp.daysSince1970(year: year, month: monthIndex + 1, day: day)
        return Date(timeIntervalSince1970: TimeInterval(days * 86_400 + time[0] * 3600 + time[1] * 60 + time[2]))
    }

    static func retryAfter(_ response: HTTPResponse) -> Duration? {
        if let millis = response.header("x-amz-retry-after").flatMap(Int.init), millis >= 0 {
            return .milliseconds(millis)
        }
        if let seconds = response.header("retry-after").flatMap(Int.init), seconds >= 0 {
            return .seconds(seconds)
        }
        return nil
    }
}

/// How a service speaks the AWS JSON protocol.
struct JSONWireProtocol: Sendable {
    var targetPrefix: String
    var contentType: String
}

extension AWSService {
    /// The JSON protocol of this service; nil for services that speak another protocol (STS: query).
    var jsonProtocol: JSONWireProtocol? {
        switch self {
        case .sqs: JSONWireProtocol(targetPrefix: "AmazonSQS", contentType: "application/x-amz-json-1.0")
        case .stepFunctions: JSONWireProtocol(targetPrefix: "AWSStepFunctions", contentType: "application/x-amz-json-1.0")
        case .sageMaker: JSONWireProtocol(targetPrefix: "SageMaker", contentType: "application/x-amz-json-1.1")
        case .eventBridge: JSONWireProtocol(targetPrefix: "AWSEvents", contentType: "application/x-amz-json-1.1")
        case .dynamoDB: JSONWireProtocol(targetPrefix: "DynamoDB_20120810", contentType: "application/x-amz-json-1.0")
        case .sts: nil
        }
    }
}
