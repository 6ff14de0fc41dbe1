#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
public import HTTP
import JSON
public import SigV4

/// Credentials from the container credentials endpoint of ECS tasks and EKS Pod Identity, as the
/// AWS SDKs fetch them.
///
/// `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` is fetched from `http://169.254.170.2`; otherwise
/// `AWS_CONTAINER_CREDENTIALS_FULL_URI` is fetched as given, provided it is `https`, or `http` to a
/// loopback address, the ECS endpoint `169.254.170.2` or the EKS Pod Identity endpoints
/// `169.254.170.23` and `fd00:ec2::23`; any other full URI is an error. The `Authorization`
/// header comes from the file named by `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` (read on every
/// fetch, because EKS rotates it), else `AWS_CONTAINER_AUTHORIZATION_TOKEN`.
///
/// Nothing to offer when neither URI variable is set. Errors name the endpoint and the HTTP
/// status, never the authorization token, a key or a response body.
public struct ContainerCredentialProvider: CredentialProvider {
    /// The host relative URIs are fetched from.
    public static let ecsEndpoint = "http://169.254.170.2"

    private let http: any HTTPClient
    private let environment: Environment
    private let timeout: Duration
    private let retryPolicy: RetryPolicy
    private let sleep: RetryPolicy.Sleep

    /// A provider reading `environment` and fetching through `http`: each request may take
    /// `timeout`, and a connection failure or 5xx is retried as `retryPolicy` says (by default
    /// three attempts in all, at most a second apart), waiting with `sleep`.
    public init(
        http: any HTTPClient, environment: Environment, timeout: Duration = .seconds(2),
        retryPolicy: RetryPolicy = RetryPolicy(maxAttempts: 3, base: .milliseconds(50), cap: .seconds(1)),
        sleep: @escaping RetryPolicy.Sleep = RetryPolicy.taskSleep
    ) {
        self.http = http
        self.environment = environment
        self.timeout = timeout
        self.retryPolicy = retryPolicy
        self.sleep = sleep
    }

    public var name: String { "ecs-container" }

    public var notFoundReason: String {
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and AWS_CONTAINER_CREDENTIALS_FULL_URI are not set"
    }

    public func credentials() async throws -> Credentials? {
        guard let url = try Self.url(environment: environment) else { return nil }
        var headers: [(name: String, value: String)] = [("Accept", "application/json")]
        if let authorization = try authorization() {
            headers.append(("Authorization", authorization))
        }
        let endpoint = CredentialsEndpoint.redacted(url)
        let response = try await CredentialsEndpoint.send(
            HTTPRequest(method: "GET", url: url, headers: headers, timeout: timeout),
            http: http, retryPolicy: retryPolicy, endpoint: endpoint, sleep: sleep)
        guard response.status == 200 else {
            throw CredentialProviderError(
                code: .credentialsEndpointFailed,
                message: "container credentials endpoint \(endpoint) answered HTTP \(response.status)")
        }
        return try CredentialsEndpoint.credentials(from: response.body, endpoint: endpoint, requireExpiration: false)
    }

    /// The URL the SDKs would fetch for this environment: nil when neither URI variable is set,
    /// an error when the full URI is not one they allow.
    public static func url(environment: Environment) throws(CredentialProviderError) -> String? {
        if let relative = environment["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"] {
            return relativeURL(relative)
        }
        guard let full = environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"] else { return nil }
        guard let components = URLComponents(string: full), let scheme = components.scheme?.lowercased(),
            let host = components.host, !host.isEmpty
        else {
            throw CredentialProviderError(
                code: .invalidCredentialsEndpoint, message: "AWS_CONTAINER_CREDENTIALS_FULL_URI is not an absolute URL")
        }
        switch scheme {
        case "https":
            return full
        case "http" where isAllowedHTTPHost(host):
            return full
        case "http":
            throw CredentialProviderError(
                code: .invalidCredentialsEndpoint,
                message: "AWS_CONTAINER_CREDENTIALS_FULL_URI host \(host) is not allowed over http: "
                    + "use https, a loopback address, 169.254.170.2, 169.254.170.23 or fd00:ec2::23")
        default:
            throw CredentialProviderError(
                code: .invalidCredentialsEndpoint,
                message: "AWS_CONTAINER_CREDENTIALS_FULL_URI scheme \(scheme) is not http or https")
        }
    }

    /// The ECS endpoint plus `relativeURI`, with the `/` between them that the variable may lack.
    public static func relativeURL(_ relativeURI: String) -> String {
        relativeURI.hasPrefix("/") ? ecsEndpoint + relativeURI : ecsEndpoint + "/" + relativeURI
    }

    /// Whether `host` may serve credentials over plain http: loopback (all of 127.0.0.0/8, `::1`,
    /// `localhost`) or the ECS and EKS Pod Identity link-local addresses.
    static func isAllowedHTTPHost(_ host: String) -> Bool {
        var host = host.lowercased()
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        switch host {
        case "localhost", "169.254.170.2", "169.254.170.23":
            return true
        default:
            if let address = IPv6Address(host) { return address == IPv6Address("::1") || address == IPv6Address("fd00:ec2::23") }
            let octets = host.split(separator: ".", omittingEmptySubsequences: false)
            return octets.count == 4 && octets[0] == "127"
                && octets.allSatisfy { !$0.isEmpty && $0.count <= 3 && $0.allSatisfy(\.isASCII) && (UInt8($0) != nil) }
        }
    }

    /// The `Authorization` value: the token file's content (surrounding whitespace removed), else
    /// the token variable, else nil.
    private func authorization() throws(CredentialProviderError) -> String? {
        let token: String
        let source: String
        if let path = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] {
            guard let data = FileManager.default.contents(atPath: path), let text = String(validating: data, as: UTF8.self) else {
                throw CredentialProviderError(
                    code: .unreadableFile, message: "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE \(path)")
            }
            token = text.trimmingWhitespace()
            source = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE \(path)"
        } else if let value = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN"] {
            token = value
            source = "AWS_CONTAINER_AUTHORIZATION_TOKEN"
        } else {
            return nil
        }
        // A line break would split the header; the SDKs refuse such a token rather than send it.
        guard !token.isEmpty, !token.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw CredentialProviderError(
                code: .invalidAuthorizationToken, message: "the token in \(source) is empty or holds control characters")
        }
        return token
    }
}

/// A loose IPv6 address value, enough to compare literals written in different forms
/// (`::1` and `0:0:0:0:0:0:0:1`).
private struct IPv6Address: Equatable {
    var groups: [UInt16]

    init?(_ text: String) {
        guard text.contains(":") else { return nil }
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func parse(_ part: String) -> [UInt16]? {
            if part.isEmpty { return [] }
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            let values = pieces.compactMap { $0.count <= 4 ? UInt16($0, radix: 16) : nil }
            return values.count == pieces.count ? values : nil
        }
        guard let head = parse(halves[0]) else { return nil }
        if halves.count == 1 {
            guard head.count == 8 else { return nil }
            groups = head
        } else {
            guard let tail = parse(halves[1]), head.count + tail.count < 8 else { return nil }
            groups = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        }
    }
}

extension CredentialProviderError.Code {
    /// A credentials endpoint variable names a URL the SDKs would not fetch credentials from.
    public static let invalidCredentialsEndpoint = Self(rawValue: "InvalidCredentialsEndpoint")
    /// A credentials endpoint could not be reached or did not answer with credentials.
    public static let credentialsEndpointFailed = Self(rawValue: "CredentialsEndpointFailed")
    /// A credentials endpoint answered with something that is not a credentials document.
    public static let malformedCredentials = Self(rawValue: "MalformedCredentials")
    /// The container authorization token cannot be sent as a header.
    public static let invalidAuthorizationToken = Self(rawValue: "InvalidAuthorizationToken")
}

/// What the container and instance metadata providers share: retrying a request and reading the
/// credentials document both endpoints answer with.
enum CredentialsEndpoint {
    /// Sends `request`, again while the transport fails or the status is 5xx and `retryPolicy`
    /// allows, waiting with `sleep`; returns the last response, or throws a log-safe error naming
    /// `endpoint` for the last transport failure.
    static func send(
        _ request: HTTPRequest, http: any HTTPClient, retryPolicy: RetryPolicy, endpoint: String, sleep: RetryPolicy.Sleep
    ) async throws -> HTTPResponse {
        // Straight to the endpoint: a proxy named in the environment would be handed the
        // instance's or the task's credentials.
        var request = request
        request.bypassesProxy = true
        var attempts = 0
        do {
            return try await retryPolicy.run(service: "credentials", operation: request.method, logger: nil, sleep: sleep) {
                attempts += 1
                let response = try await http.execute(request)
                guard response.status >= 500 else { return .success(response) }
                return .failure(Unavailable(response: response), .serverError(status: response.status), retryAfter: nil)
            }
        } catch let unavailable as Unavailable {
            return unavailable.response
        } catch let error as HTTPError {
            throw CredentialProviderError(
                code: .credentialsEndpointFailed, message: "\(request.method) \(endpoint) failed after \(attempts) attempt(s): \(error)")
        }
    }

    /// A 5xx answer, carried out of the retry loop to be returned as it is.
    private struct Unavailable: Error {
        var response: HTTPResponse
    }

    /// `url` without its query and fragment, for messages.
    static func redacted(_ url: String) -> String {
        String(url.prefix { $0 != "?" && $0 != "#" })
    }

    /// The credentials in a JSON document with `AccessKeyId`, `SecretAccessKey`, `Token` and
    /// `Expiration` (ISO-8601). Errors name the endpoint and the missing field, never a value.
    static func credentials(from body: [UInt8], endpoint: String, requireExpiration: Bool) throws(CredentialProviderError) -> Credentials {
        func malformed(_ why: String) -> CredentialProviderError {
            CredentialProviderError(code: .malformedCredentials, message: "\(endpoint) answered \(why)")
        }
        guard case .object(let document)? = try? JSONValue.parse(body) else {
            throw malformed("with a body that is not a JSON object (\(body.count) bytes)")
        }
        func string(_ key: String) throws(CredentialProviderError) -> String? {
            switch document[key] {
            case nil, .null?: return nil
            case .string(let value)? where !value.isEmpty: return value
            default: throw malformed("with \(key) that is not a non-empty string")
            }
        }
        guard let accessKeyID = try string("AccessKeyId"), let secretAccessKey = try string("SecretAccessKey") else {
            throw malformed("without AccessKeyId and SecretAccessKey")
        }
        var expiration: Date?
        if let text = try string("Expiration") {
            guard let date = parseDate(text) else { throw malformed("with an Expiration that is not an ISO-8601 time") }
            expiration = date
        } else if requireExpiration {
            throw malformed("without Expiration")
        }
        return Credentials(
            accessKeyID: accessKeyID, secretAccessKey: secretAccessKey, sessionToken: try string("Token"),
            expiration: expiration)
    }

    /// An ISO-8601 time such as `2026-11-21T14:00:00Z`, with or without fractional seconds.
    static func parseDate(_ text: String) -> Date? {
        ISO8601Timestamp.secondsSince1970(text).map(Date.init(timeIntervalSince1970:))
    }
}
