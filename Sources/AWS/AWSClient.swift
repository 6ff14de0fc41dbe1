public import HTTP
public import JSON
public import Logging
public import SigV4

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
    private let credentials: CredentialSource
    private let endpoints: [AWSService: Endpoint]
    /// One signer per service, kept so its derived signing key is reused from call to call.
    private let signers: [AWSService: SigV4Signer]
    private let retryPolicy: RetryPolicy
    /// Signs, sends and corrects the clock for every call; one server clock for all of them.
    private let sender: SignedSender

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
        self.credentials = credentials
        self.region = region
        self.endpoints = endpoints
        self.signers = Dictionary(uniqueKeysWithValues: endpoints.keys.map { ($0, SigV4Signer(service: $0.signingName, region: region)) })
        self.retryPolicy = retryPolicy
        self.sender = SignedSender(http: http, clock: ServerClock(), logger: logger, metrics: metrics)
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
    /// - Throws: `AWSError` for a service error, `AWSTransportError` for a transport failure once retries
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
        let request = SignedRequest(
            service: service, operation: operation, endpoint: endpoint,
            headers: [("content-type", wire.contentType), ("x-amz-target", "\(wire.targetPrefix).\(operation)")],
            body: JSONValue.object(body).serializedBytes(), timeout: timeout, secrets: secrets
        )
        return try await sender.send(
            request, policy: retryPolicy ?? self.retryPolicy, signer: signer, credentials: credentials,
            decodeError: Self.decodeError, decodeSuccess: { try Self.decodeSuccess($0, operation: operation) }
        )
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
        let requestID =
            response.header("x-amzn-requestid") ?? response.header("x-amz-request-id")
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
