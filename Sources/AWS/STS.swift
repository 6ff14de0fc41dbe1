#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
public import HTTP
public import Logging
public import SigV4

/// Who a set of credentials belongs to, as `GetCallerIdentity` tells.
public struct CallerIdentity: Sendable, Equatable {
    /// The 12-digit account ID.
    public var account: String
    /// The ARN of the user or assumed role.
    public var arn: String
    /// The unique ID of the caller (`AIDA…`, or `AROA…:session` for a role).
    public var userID: String

    /// An identity from its parts.
    public init(account: String, arn: String, userID: String) {
        self.account = account
        self.arn = arn
        self.userID = userID
    }
}

/// A small client for AWS STS, which speaks the query protocol: a form-encoded `POST /` with an
/// XML answer.
///
/// `AssumeRoleWithWebIdentity` goes unsigned (the web identity token is the proof, as in the
/// SDKs); `AssumeRole` and `GetCallerIdentity` are signed with SigV4 afresh on every attempt.
/// Transient failures are retried, and a skewed clock corrected, like every other AWS call. Errors never contain a web
/// identity token, a secret key or a session token.
public struct STSClient: Sendable {
    /// The region requests are signed for.
    public let region: String
    /// Where requests go.
    public let endpoint: Endpoint
    private let signer: SigV4Signer
    private let retryPolicy: RetryPolicy
    private let timeout: Duration
    /// Signs, sends and corrects the clock as the JSON client does.
    private let sender: SignedSender

    static let version = "2011-06-15"
    static let contentType = "application/x-www-form-urlencoded; charset=utf-8"

    /// A client sending to `endpoint`, signing for `region`; each attempt may take `timeout`.
    /// Retries and clock corrections are logged to the caller's `logger`, when given.
    public init(
        http: any HTTPClient,
        region: String,
        endpoint: Endpoint,
        retryPolicy: RetryPolicy = RetryPolicy(),
        timeout: Duration = .seconds(30),
        logger: Logger? = nil
    ) {
        self.region = region
        self.endpoint = endpoint
        self.signer = SigV4Signer(service: AWSService.sts.signingName, region: region)
        self.retryPolicy = retryPolicy
        self.timeout = timeout
        self.sender = SignedSender(http: http, clock: ServerClock(), logger: logger, metrics: nil)
    }

    /// A client for `region` whose endpoint is resolved as the SDKs do (`AWS_ENDPOINT_URL_STS`,
    /// `AWS_ENDPOINT_URL`, else the regional endpoint). Throws ``EndpointError``.
    public init(http: any HTTPClient, region: String, environment: Environment, logger: Logger? = nil) throws {
        let endpoint = try EndpointResolver.resolve(.sts, region: region, explicit: nil, environment: environment)
        self.init(http: http, region: region, endpoint: endpoint, logger: logger)
    }

    /// Exchanges a web identity (OIDC) token for temporary credentials of `roleArn`; unsigned.
    public func assumeRoleWithWebIdentity(
        roleArn: String, sessionName: String, webIdentityToken: String, durationSeconds: Int? = nil
    ) async throws -> Credentials {
        var parameters = [("RoleArn", roleArn), ("RoleSessionName", sessionName), ("WebIdentityToken", webIdentityToken)]
        if let durationSeconds { parameters.append(("DurationSeconds", String(durationSeconds))) }
        let result = try await send("AssumeRoleWithWebIdentity", parameters, signedWith: nil, secrets: [webIdentityToken])
        return try Self.credentials(in: result, operation: "AssumeRoleWithWebIdentity")
    }

    /// Temporary credentials of `roleArn`, asked for with (and signed by) `credentials`.
    public func assumeRole(
        roleArn: String, sessionName: String, externalID: String? = nil, durationSeconds: Int? = nil,
        credentials: Credentials
    ) async throws -> Credentials {
        var parameters = [("RoleArn", roleArn), ("RoleSessionName", sessionName)]
        if let externalID { parameters.append(("ExternalId", externalID)) }
        if let durationSeconds { parameters.append(("DurationSeconds", String(durationSeconds))) }
        let result = try await send("AssumeRole", parameters, signedWith: credentials, secrets: [])
        return try Self.credentials(in: result, operation: "AssumeRole")
    }

    /// The account, ARN and user ID that `credentials` belong to.
    public func getCallerIdentity(credentials: Credentials) async throws -> CallerIdentity {
        let operation = "GetCallerIdentity"
        let result = try await send(operation, [], signedWith: credentials, secrets: [])
        return CallerIdentity(
            account: try Self.required("Account", in: result, operation: operation),
            arn: try Self.required("Arn", in: result, operation: operation),
            userID: try Self.required("UserId", in: result, operation: operation)
        )
    }

    /// Sends one action with retries and returns the successful response body.
    private func send(
        _ action: String, _ parameters: [(String, String)], signedWith credentials: Credentials?, secrets: [String]
    ) async throws -> QueryXML {
        let body = QueryForm.encode([("Action", action), ("Version", Self.version)] + parameters.map { (name: $0.0, value: $0.1) })
        // Whatever the service echoes, none of these may reach an error message.
        let redacted = (secrets + [credentials?.secretAccessKey, credentials?.sessionToken].compactMap { $0 })
            .filter { !$0.isEmpty }
        let request = SignedRequest(
            service: .sts, operation: action, endpoint: endpoint, headers: [("content-type", Self.contentType)],
            body: body, timeout: timeout, secrets: redacted
        )
        let signing: (() async throws -> Credentials)? = credentials.map { credentials in { credentials } }
        return try await sender.send(
            request, policy: retryPolicy, signer: signer, credentials: signing,
            decodeError: Self.decodeError, decodeSuccess: { QueryXML($0.body) }
        )
    }

    /// An `AWSError` from a query-protocol error body:
    /// `<ErrorResponse><Error><Code>…</Code><Message>…</Message></Error><RequestId>…</RequestId>`.
    static func decodeError(_ response: HTTPResponse, operation: String, redacting secrets: [String]) -> AWSError {
        let xml = QueryXML(response.body)
        let code = (try? xml.text("Code")).flatMap { $0 }.flatMap { $0.isEmpty ? nil : $0 }
        let message = (try? xml.text("Message")).flatMap { $0 } ?? ""
        let requestID = (try? xml.text("RequestId")).flatMap { $0 } ?? response.header("x-amzn-requestid")
        return AWSError(response: response, code: code, message: message, requestID: requestID, operation: operation, redacting: secrets)
    }

    /// The `<Credentials>` of an AssumeRole* result.
    static func credentials(in result: QueryXML, operation: String) throws -> Credentials {
        let expiration = try required("Expiration", in: result, operation: operation)
        guard let seconds = ISO8601Timestamp.secondsSince1970(expiration) else {
            throw AWSResponseError(operation: operation, reason: "<Expiration> is not an ISO-8601 timestamp")
        }
        return Credentials(
            accessKeyID: try required("AccessKeyId", in: result, operation: operation),
            secretAccessKey: try required("SecretAccessKey", in: result, operation: operation),
            sessionToken: try required("SessionToken", in: result, operation: operation),
            expiration: Date(timeIntervalSince1970: seconds)
        )
    }

    private static func required(_ name: String, in result: QueryXML, operation: String) throws -> String {
        do {
            guard let text = try result.text(name), !text.isEmpty else {
                throw AWSResponseError(operation: operation, reason: "the response has no <\(name)>")
            }
            return text
        } catch let error as QueryXML.Malformed {
            throw AWSResponseError(operation: operation, reason: error.description)
        }
    }
}

extension STSClient {
    /// The client a credential provider uses: the region as the SDKs find it (`AWS_REGION`,
    /// `AWS_DEFAULT_REGION`, the profile's `region`), else `us-east-1`, whose endpoint answers for
    /// every commercial account; the endpoint from the environment or that region.
    static func forCredentials(http: any HTTPClient, environment: Environment, profile: String?, logger: Logger?) throws -> STSClient {
        let region = (try? RegionResolver.resolve(explicit: nil, environment: environment, profile: profile, queueURL: nil)) ?? "us-east-1"
        return try STSClient(http: http, region: region, environment: environment, logger: logger)
    }

    /// The session name the SDKs would invent: a fixed prefix and the time in seconds.
    static func defaultSessionName(at date: Date) -> String {
        "sagemaker-callback-\(Int64(date.timeIntervalSince1970))"
    }
}
