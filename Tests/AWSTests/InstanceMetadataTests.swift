import Foundation
import HTTP
import Logging
import Moto
import SigV4
import Testing
@testable import AWS

/// The EC2 instance metadata service as it behaves with IMDSv2 required: a session token from
/// `PUT /latest/api/token` (which must ask for a lifetime), every read rejected with 401 without
/// a valid one, the role's temporary credentials with an expiry, and the instance's region.
final class InstanceMetadataService: Sendable {
    struct State: Sendable {
        var validTokens: Set<String> = []
        var tokensIssued = 0
        var credentialsIssued = 0
        var failures = 0
        var role = "app-role"
        var region: String? = "eu-west-1"
        var credentialsBody: String?
        /// How the token endpoint answers when it does not issue a token (an instance without IMDSv2).
        var tokenStatus = 200
    }

    private let state: SharedState<State>
    let expiration: Date
    let server: MetadataServer

    init() throws {
        let state = SharedState(State())
        let expiration = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 + 6 * 3600).rounded(.down))
        self.state = state
        self.expiration = expiration
        server = try MetadataServer { request in
            state.withLock { Self.answer(request, &$0, expiration: expiration) }
        }
    }

    private static func answer(_ request: MetadataServer.Request, _ state: inout State, expiration: Date) -> MetadataServer.Response {
        if state.failures > 0 {
            state.failures -= 1
            return .init(status: 500)
        }
        if request.method == "PUT", request.path == "/latest/api/token" {
            guard state.tokenStatus == 200 else { return .init(status: state.tokenStatus) }
            guard let ttl = request.header("X-aws-ec2-metadata-token-ttl-seconds").flatMap(Int.init), (1...21_600).contains(ttl) else {
                return .init(status: 400)
            }
            state.tokensIssued += 1
            let token = "imds-token-\(state.tokensIssued)"
            state.validTokens.insert(token)
            return .init(status: 200, body: token)
        }
        guard request.method == "GET" else { return .init(status: 405) }
        if state.tokenStatus == 200 {
            guard let token = request.header("X-aws-ec2-metadata-token"), state.validTokens.contains(token) else {
                return .init(status: 401)
            }
        }
        switch request.path {
        case "/latest/meta-data/iam/security-credentials/":
            return state.role.isEmpty ? .init(status: 404) : .init(status: 200, body: state.role)
        case "/latest/meta-data/iam/security-credentials/" + state.role where !state.role.isEmpty:
            if let body = state.credentialsBody { return .init(status: 200, body: body) }
            state.credentialsIssued += 1
            let n = state.credentialsIssued
            return .init(
                status: 200,
                body: """
                    {
                      "Code" : "Success",
                      "LastUpdated" : "2026-11-21T07:00:00Z",
                      "Type" : "AWS-HMAC",
                      "AccessKeyId" : "ASIAIMDS\(n)",
                      "SecretAccessKey" : "IMDSSECRET\(n)",
                      "Token" : "IMDSSESSION\(n)",
                      "Expiration" : "\(ISO8601DateFormatter().string(from: expiration))"
                    }
                    """)
        case "/latest/meta-data/placement/region":
            return state.region.map { .init(status: 200, body: $0) } ?? .init(status: 404)
        default:
            return .init(status: 404)
        }
    }

    func change(_ body: (inout State) -> Void) { state.withLock { body(&$0) } }

    /// Forgets every token issued, as the service does when they expire.
    func expireTokens() { change { $0.validTokens = [] } }
}

@Suite(.timeLimit(.minutes(1))) struct InstanceMetadataTests {
    static let http: CurlHTTPClient = try! CurlHTTPClient()

    static func provider(_ service: InstanceMetadataService, _ extra: [String: String] = [:]) -> InstanceMetadataCredentialProvider {
        let values = ["AWS_EC2_METADATA_SERVICE_ENDPOINT": service.server.endpoint + "/"].merging(extra) { $1 }
        return InstanceMetadataCredentialProvider(http: http, environment: Environment(values))
    }

    static func paths(_ service: InstanceMetadataService) -> [String] {
        service.server.requests.map { "\($0.method) \($0.path)" }
    }

    @Test func fetchesRoleCredentialsWithASessionToken() async throws {
        let service = try InstanceMetadataService()
        defer { service.server.stop() }
        let credentials = try await Self.provider(service).credentials()
        #expect(
            credentials
                == Credentials(
                    accessKeyID: "ASIAIMDS1", secretAccessKey: "IMDSSECRET1", sessionToken: "IMDSSESSION1", expiration: service.expiration))
        #expect(
            Self.paths(service) == [
                "PUT /latest/api/token",
                "GET /latest/meta-data/iam/security-credentials/",
                "GET /latest/meta-data/iam/security-credentials/app-role",
            ])
        let requests = service.server.requests
        #expect(requests[0].header("X-aws-ec2-metadata-token-ttl-seconds") == "21600")
        #expect(requests.dropFirst().allSatisfy { $0.header("X-aws-ec2-metadata-token") == "imds-token-1" })
    }

    @Test func serviceRejectsReadsWithoutAToken() async throws {
        let service = try InstanceMetadataService()
        defer { service.server.stop() }
        let response = try await Self.http.execute(
            HTTPRequest(
                method: "GET", url: service.server.endpoint + "/latest/meta-data/iam/security-credentials/"))
        #expect(response.status == 401)
    }

    @Test func tokenIsKeptBetweenFetches() async throws {
        let service = try InstanceMetadataService()
        defer { service.server.stop() }
        let provider = Self.provider(service)
        #expect(try await provider.credentials()?.accessKeyID == "ASIAIMDS1")
        #expect(try await provider.credentials()?.accessKeyID == "ASIAIMDS2")
        #expect(Self.paths(service).filter { $0.hasPrefix("PUT") }.count == 1)
    }

    @Test func staleTokenIsReplacedOnceOn401() async throws {
        let service = try InstanceMetadataService()
        defer { service.server.stop() }
        let provider = Self.provider(service)
        _ = try await provider.credentials()
        service.expireTokens()
        #expect(try await provider.credentials()?.accessKeyID == "ASIAIMDS2")
        #expect(
            Self.paths(service).suffix(4) == [
                "GET /latest/meta-data/iam/security-credentials/",
                "PUT /latest/api/token",
                "GET /latest/meta-data/iam/security-credentials/",
                "GET /latest/meta-data/iam/security-credentials/app-role",
            ])
        #expect(service.server.requests.last?.header("X-aws-ec2-metadata-token") == "imds-token-2")
    }

    @Test func tokenRejectedAgainAfterRefreshIsAnErrorWithoutIt() async throws {
        // A service that refuses every token it issues: one refresh, then a clear error.
        let refusing = try MetadataServer { request in
            request.method == "PUT" ? .init(status: 200, body: "imds-token-never-valid") : .init(status: 401)
        }
        defer { refusing.stop() }
        let provider = InstanceMetadataCredentialProvider(
            http: Self.http, environment: Environment(["AWS_EC2_METADATA_SERVICE_ENDPOINT": refusing.endpoint]))
        let error = try await #require(throws: CredentialProviderError.self) { try await provider.credentials() }
        #expect(error.code == .credentialsEndpointFailed && error.description.contains("HTTP 401"))
        #expect(!error.description.contains("imds-token"))
        #expect(refusing.requests.map(\.method) == ["PUT", "GET", "PUT", "GET"])
    }

    @Test(arguments: ["true", "TRUE"])
    func disabledFlagGivesNothingWithoutARequest(value: String) async throws {
        let service = try InstanceMetadataService()
        defer { service.server.stop() }
        let provider = Self.provider(service, ["AWS_EC2_METADATA_DISABLED": value])
        #expect(try await provider.credentials() == nil)
        #expect(try await provider.region() == nil)
        #expect(provider.notFoundReason.contains("AWS_EC2_METADATA_DISABLED"))
        #expect(service.server.requests.isEmpty)
    }

    @Test func oneServerErrorIsRetriedOnce() async throws {
        let service = try InstanceMetadataService()
        defer { service.server.stop() }
        service.change { $0.failures = 1 }
        #expect(try await Self.provider(service).credentials()?.accessKeyID == "ASIAIMDS1")
        #expect(Self.paths(service).prefix(2) == ["PUT /latest/api/token", "PUT /latest/api/token"])
    }

    @Test func twoServerErrorsInARowGiveUp() async throws {
        let service = try InstanceMetadataService()
        defer { service.server.stop() }
        service.change { $0.failures = 2 }
        let error = try await #require(throws: CredentialProviderError.self) { try await Self.provider(service).credentials() }
        #expect(error.description.contains("HTTP 500") && error.description.contains("/latest/api/token"))
        #expect(service.server.requests.count == 2)
    }

    @Test func regionComesFromPlacement() async throws {
        let service = try InstanceMetadataService()
        defer { service.server.stop() }
        let provider = Self.provider(service)
        #expect(try await provider.region() == "eu-west-1")
        service.change { $0.region = nil }
        #expect(try await provider.region() == nil)
        service.change { $0.region = "eu west 1" }
        await #expect(throws: CredentialProviderError.self) { try await provider.region() }
    }

    @Test(arguments: [
        (#"{"Code":"Success","AccessKeyId":"ASIALEAKED","SecretAccessKey":"LEAKEDSECRET","Token":"LEAKED"}"#, "without Expiration"),
        (#"{"Code":"Success","AccessKeyId":"ASIALEAKED","SecretAccessKey":"LEAKEDSECRET","Token":"LEAKED""#, "not a JSON object"),
        (#"{"Code":"AssumeRoleUnauthorizedAccess","Message":"LEAKED"}"#, "Code AssumeRoleUnauthorizedAccess"),
    ])
    func malformedCredentialsAreAClearErrorWithoutSecrets(body: String, expected: String) async throws {
        let service = try InstanceMetadataService()
        defer { service.server.stop() }
        service.change { $0.credentialsBody = body }
        let error = try await #require(throws: CredentialProviderError.self) { try await Self.provider(service).credentials() }
        #expect(error.description.contains(expected) && error.description.contains("security-credentials/app-role"))
        #expect(!error.description.contains("LEAKED") && !error.description.contains("imds-token"))
    }

    @Test func instanceWithoutAProfileIsAnError() async throws {
        let service = try InstanceMetadataService()
        defer { service.server.stop() }
        service.change { $0.role = "" }
        let error = try await #require(throws: CredentialProviderError.self) { try await Self.provider(service).credentials() }
        #expect(error.description.contains("HTTP 404") && error.description.contains("role name"))
    }

    @Test func withoutIMDSv2ReadsGoWithoutAToken() async throws {
        let service = try InstanceMetadataService()
        defer { service.server.stop() }
        service.change { $0.tokenStatus = 404 }
        #expect(try await Self.provider(service).credentials()?.accessKeyID == "ASIAIMDS1")
        #expect(service.server.requests.dropFirst().allSatisfy { $0.header("X-aws-ec2-metadata-token") == nil })

        let strict = Self.provider(service, ["AWS_EC2_METADATA_V1_DISABLED": "true"])
        let error = try await #require(throws: CredentialProviderError.self) { try await strict.credentials() }
        #expect(error.description.contains("HTTP 404") && error.description.contains("session token"))
    }

    @Test(arguments: [
        ([:], "http://169.254.169.254"),
        (["AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE": "IPv6"], "http://[fd00:ec2::254]"),
        (["AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE": "IPv4"], "http://169.254.169.254"),
        (["AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://10.0.0.1:1338/", "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE": "IPv6"], "http://10.0.0.1:1338"),
    ])
    func endpointFollowsTheEnvironment(values: [String: String], expected: String) {
        let provider = InstanceMetadataCredentialProvider(http: Self.http, environment: Environment(values))
        #expect(provider.endpoint == expected)
        #expect(provider.name == "ec2-instance-metadata")
    }

    @Test func unreachableServiceFailsFastNamingTheEndpoint() async throws {
        let closed = try MetadataServer { _ in .init(status: 200) }
        closed.stop()
        let provider = InstanceMetadataCredentialProvider(
            http: Self.http, environment: Environment(["AWS_EC2_METADATA_SERVICE_ENDPOINT": closed.endpoint]))
        let start = ContinuousClock.now
        let error = try await #require(throws: CredentialProviderError.self) { try await provider.credentials() }
        #expect(error.description.contains(closed.endpoint) && error.description.contains("2 attempt"))
        // Two refused connections take milliseconds; the bound catches a hang and leaves room for
        // a CI machine starting emulators for every suite at once.
        #expect(ContinuousClock.now - start < .seconds(30))
    }
}
