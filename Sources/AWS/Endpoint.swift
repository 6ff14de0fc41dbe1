#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The AWS services this project talks to.
public enum AWSService: String, Sendable, CaseIterable {
    case sqs
    case stepFunctions = "states"
    case sageMaker = "sagemaker"
    case eventBridge = "events"
    case dynamoDB = "dynamodb"
    case sts

    /// The SigV4 signing name (the service part of the credential scope).
    public var signingName: String { rawValue }

    /// The service-specific endpoint variable, named by the SDKs' service identifiers.
    public var endpointEnvironmentKey: String {
        switch self {
        case .sqs: "AWS_ENDPOINT_URL_SQS"
        case .stepFunctions: "AWS_ENDPOINT_URL_SFN"
        case .sageMaker: "AWS_ENDPOINT_URL_SAGEMAKER"
        case .eventBridge: "AWS_ENDPOINT_URL_EVENTBRIDGE"
        case .dynamoDB: "AWS_ENDPOINT_URL_DYNAMODB"
        case .sts: "AWS_ENDPOINT_URL_STS"
        }
    }

    /// The first label(s) of the service's default host, before the region.
    var hostPrefix: String {
        self == .sageMaker ? "api.sagemaker" : rawValue
    }
}

/// Where to send a service's requests.
public struct Endpoint: Sendable, Equatable {
    /// The base URL, scheme and host lowercased, without a trailing slash:
    /// `https://sqs.us-east-1.amazonaws.com`.
    public var url: String
    /// The `Host` header value: the lowercased host, with `:port` when the port is not the
    /// scheme's default.
    public var host: String
    /// Where the URL came from: `--endpoint-url`, the variable's name, or `default`.
    public var source: String

    /// An endpoint; ``EndpointResolver`` makes validated ones.
    public init(url: String, host: String, source: String) {
        self.url = url
        self.host = host
        self.source = source
    }
}

/// Chooses a service's endpoint as the AWS SDKs do.
public enum EndpointResolver {
    /// The endpoint from, in order: `explicit` (`--endpoint-url`), the service's variable (such as
    /// `AWS_ENDPOINT_URL_SQS`), `AWS_ENDPOINT_URL`, and the default for `region`
    /// (`.amazonaws.com.cn` for `cn-` regions). The variables are skipped when
    /// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` is `true`, as in the SDKs.
    ///
    /// A configured URL must be `http` or `https` with a host and no user, query or fragment;
    /// otherwise ``EndpointError`` names the option or variable it came from.
    public static func resolve(_ service: AWSService, region: String, explicit: String?, environment: Environment) throws -> Endpoint {
        if let explicit, !explicit.isEmpty {
            return try endpoint(explicit, source: "--endpoint-url")
        }
        if environment["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"]?.lowercased() != "true" {
            for key in [service.endpointEnvironmentKey, "AWS_ENDPOINT_URL"] {
                if let value = environment[key] {
                    return try endpoint(value, source: key)
                }
            }
        }
        guard RegionResolver.isRegionName(region) else {
            throw EndpointError(source: "region", message: "'\(region)' is not a region name")
        }
        let suffix = region.hasPrefix("cn-") ? "amazonaws.com.cn" : "amazonaws.com"
        let host = "\(service.hostPrefix).\(region).\(suffix)"
        return Endpoint(url: "https://\(host)", host: host, source: "default")
    }

    /// Validates and normalises a configured URL.
    private static func endpoint(_ value: String, source: String) throws(EndpointError) -> Endpoint {
        func invalid(_ reason: String) -> EndpointError {
            EndpointError(source: source, message: reason)
        }
        guard let components = URLComponents(string: value) else {
            throw invalid("'\(value)' is not a URL")
        }
        // Before anything echoes the value: it may carry a password.
        guard components.user == nil, components.password == nil else {
            throw invalid("the URL must not contain a user or password")
        }
        guard let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            throw invalid("'\(value)' must start with http:// or https://")
        }
        guard let rawHost = components.host, !rawHost.isEmpty else {
            throw invalid("'\(value)' has no host")
        }
        if let port = components.port, !(1...65535).contains(port) {
            throw invalid("'\(value)' has port \(port), outside 1-65535")
        }
        guard components.query == nil, components.fragment == nil else {
            throw invalid("'\(value)' must not have a query or fragment")
        }
        let lowercasedHost = rawHost.lowercased()
        var host = lowercasedHost
        if let port = components.port, port != (scheme == "https" ? 443 : 80) {
            host += ":\(port)"
        }
        var path = Substring(components.percentEncodedPath)
        while path.hasSuffix("/") { path = path.dropLast() }
        let port = components.port.map { ":\($0)" } ?? ""
        return Endpoint(url: "\(scheme)://\(lowercasedHost)\(port)\(path)", host: host, source: source)
    }
}

/// A configured endpoint URL is not usable.
public struct EndpointError: Error, Sendable, CustomStringConvertible {
    /// Always `InvalidEndpoint`, for matching and logs.
    public var code: String { "InvalidEndpoint" }
    /// The option or variable the URL came from: `--endpoint-url`, `AWS_ENDPOINT_URL_SQS`, …
    public var source: String
    /// What is wrong with it; safe to log (never a password from the URL).
    public var message: String

    public var description: String { "\(source): \(message)" }
}
