#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
public import HTTP
import JSON
public import SigV4
import Synchronization

/// Credentials of the EC2 instance profile, from the instance metadata service with IMDSv2
/// session tokens, as the AWS SDKs fetch them; also the instance's region.
///
/// A session token comes from `PUT /latest/api/token` and is kept until shortly before its
/// six-hour lifetime ends; the role name from `GET /latest/meta-data/iam/security-credentials/`;
/// the credentials from the same path plus the role. A 401 on a metadata read means the token
/// went stale: it is fetched again once. Each request has one second and is retried once on a
/// connection failure or a 5xx, as the SDKs do, so a machine that is not on EC2 learns it quickly.
/// When the token endpoint answers 403, 404 or 405 (IMDSv2 unavailable) the reads go without a
/// token, unless `AWS_EC2_METADATA_V1_DISABLED` is `true`.
///
/// The endpoint is `AWS_EC2_METADATA_SERVICE_ENDPOINT`, else `http://[fd00:ec2::254]` when
/// `AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE` is `IPv6`, else `http://169.254.169.254`. Nothing to
/// offer when `AWS_EC2_METADATA_DISABLED` is `true`. Errors never hold a token, key or body.
public final class InstanceMetadataCredentialProvider: CredentialProvider {
    /// The instance metadata service's address when the environment names none.
    public static let defaultEndpoint = "http://169.254.169.254"
    /// The service's address when `AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE` is `IPv6`.
    public static let ipv6Endpoint = "http://[fd00:ec2::254]"
    /// The session token lifetime asked for, in seconds: six hours, the SDKs' choice.
    static let tokenLifetime = 21_600

    /// The endpoint requests go to, without a trailing slash.
    public let endpoint: String
    private let http: any HTTPClient
    private let isDisabled: Bool
    private let isV1Disabled: Bool
    private let timeout: Duration
    private let retryPolicy: RetryPolicy
    private let sleep: RetryPolicy.Sleep
    /// The current session token and when to stop using it; nil until fetched, or for IMDSv1.
    private let session = Mutex<(token: String, renewAt: ContinuousClock.Instant)?>(nil)

    /// A provider reading `environment` and fetching through `http`: each request may take
    /// `timeout`, and a connection failure or 5xx is retried as `retryPolicy` says (by default
    /// once, at most a second later), waiting with `sleep`.
    public init(
        http: any HTTPClient, environment: Environment, timeout: Duration = .seconds(1),
        retryPolicy: RetryPolicy = RetryPolicy(maxAttempts: 2, base: .milliseconds(50), cap: .seconds(1)),
        sleep: @escaping RetryPolicy.Sleep = RetryPolicy.taskSleep
    ) {
        self.http = http
        let ipv6 = environment["AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE"]?.lowercased() == "ipv6"
        var endpoint = environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"] ?? (ipv6 ? Self.ipv6Endpoint : Self.defaultEndpoint)
        while endpoint.hasSuffix("/") { endpoint.removeLast() }
        self.endpoint = endpoint
        self.isDisabled = environment["AWS_EC2_METADATA_DISABLED"]?.lowercased() == "true"
        self.isV1Disabled = environment["AWS_EC2_METADATA_V1_DISABLED"]?.lowercased() == "true"
        self.timeout = timeout
        self.retryPolicy = retryPolicy
        self.sleep = sleep
    }

    public var name: String { "ec2-instance-metadata" }

    public var notFoundReason: String { "AWS_EC2_METADATA_DISABLED is true" }

    public func credentials() async throws -> Credentials? {
        guard !isDisabled else { return nil }
        let listPath = "/latest/meta-data/iam/security-credentials/"
        let listing = String(decoding: try body(of: await get(listPath), path: listPath, what: "the role name"), as: UTF8.self)
        guard let role = listing.split(whereSeparator: \.isNewline).first.map({ $0.trimmingWhitespace() }),
            !role.isEmpty
        else {
            throw CredentialProviderError(
                code: .credentialsEndpointFailed, message: "\(endpoint)\(listPath) lists no role: the instance has no instance profile")
        }
        let path = listPath + role
        let document = try body(of: await get(path), path: path, what: "the credentials of role \(role)")
        let source = endpoint + path
        // The document says Code "Success"; anything else is a failure the service reports in place.
        if case .object(let fields)? = try? JSONValue.parse(document), let code = fields["Code"]?.stringValue, code != "Success" {
            throw CredentialProviderError(code: .credentialsEndpointFailed, message: "\(source) answered Code \(code)")
        }
        return try CredentialsEndpoint.credentials(from: document, endpoint: source, requireExpiration: true)
    }

    /// The instance's region from `/latest/meta-data/placement/region`: nil when disabled or when
    /// the service does not know it (404); an error when it cannot be reached or is not a region.
    public func region() async throws -> String? {
        guard !isDisabled else { return nil }
        let path = "/latest/meta-data/placement/region"
        let response = try await get(path)
        if response.status == 404 { return nil }
        let region = String(decoding: try body(of: response, path: path, what: "the region"), as: UTF8.self)
            .trimmingWhitespace()
        guard RegionResolver.isRegionName(region) else {
            throw CredentialProviderError(code: .malformedCredentials, message: "\(endpoint)\(path) answered with no region name")
        }
        return region
    }

    // MARK: Requests

    /// The answer to `GET path` with a session token, fetching a fresh token once when the
    /// service says the current one is stale (401).
    private func get(_ path: String) async throws -> HTTPResponse {
        var refreshed = false
        while true {
            let token = try await sessionToken(fresh: refreshed)
            var headers: [(name: String, value: String)] = []
            if let token { headers.append(("X-aws-ec2-metadata-token", token)) }
            let response = try await CredentialsEndpoint.send(
                HTTPRequest(method: "GET", url: endpoint + path, headers: headers, timeout: timeout),
                http: http, retryPolicy: retryPolicy, endpoint: endpoint + path, sleep: sleep)
            guard response.status == 401, token != nil, !refreshed else { return response }
            refreshed = true
        }
    }

    /// The body of a 200 answer; an error naming `what` was read otherwise.
    private func body(of response: HTTPResponse, path: String, what: String) throws(CredentialProviderError) -> [UInt8] {
        guard response.status == 200 else {
            throw CredentialProviderError(
                code: .credentialsEndpointFailed,
                message: "reading \(what) from \(endpoint)\(path) answered HTTP \(response.status)")
        }
        return response.body
    }

    /// The session token to send: the kept one unless `fresh` or near its end, else a new one;
    /// nil when the service has no IMDSv2 and IMDSv1 is allowed.
    private func sessionToken(fresh: Bool) async throws -> String? {
        let now = ContinuousClock.now
        if !fresh, let kept = session.withLock({ $0 }), kept.renewAt > now { return kept.token }
        let url = endpoint + "/latest/api/token"
        let response = try await CredentialsEndpoint.send(
            HTTPRequest(
                method: "PUT", url: url, headers: [("X-aws-ec2-metadata-token-ttl-seconds", String(Self.tokenLifetime))],
                timeout: timeout),
            http: http, retryPolicy: retryPolicy, endpoint: url, sleep: sleep)
        switch response.status {
        case 200:
            let token = String(decoding: response.body, as: UTF8.self).trimmingWhitespace()
            guard !token.isEmpty, token.unicodeScalars.allSatisfy({ $0.value >= 0x21 && $0.value < 0x7F }) else {
                throw CredentialProviderError(code: .malformedCredentials, message: "\(url) answered with no usable token")
            }
            // Renewed a minute early so a token never expires between being read and being used.
            session.withLock { $0 = (token, now + .seconds(Self.tokenLifetime - 60)) }
            return token
        case 403...405 where !isV1Disabled:
            // The service has no IMDSv2 here; the SDKs then read without a token (IMDSv1).
            session.withLock { $0 = nil }
            return nil
        default:
            throw CredentialProviderError(
                code: .credentialsEndpointFailed, message: "PUT \(url) for a session token answered HTTP \(response.status)")
        }
    }
}
