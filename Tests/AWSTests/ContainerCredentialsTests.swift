import Foundation
import HTTP
import Logging
import Moto
import SigV4
import Synchronization
import Testing
@testable import AWS

/// The ECS / EKS Pod Identity credentials endpoint as it behaves: it checks the `Authorization`
/// header when it has a token, and answers with temporary credentials that expire.
final class ContainerEndpoint: Sendable {
    static let path = "/v2/credentials/5c9f8c16-task"

    private let state: SharedState<(token: String?, failures: Int, issued: Int, body: String?)>
    let expiration: Date
    let server: MetadataServer

    init(token: String?, expiresIn: TimeInterval = 3600) throws {
        let state = SharedState<(token: String?, failures: Int, issued: Int, body: String?)>((token, 0, 0, nil))
        let expiration = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 + expiresIn).rounded(.down))
        self.state = state
        self.expiration = expiration
        server = try MetadataServer { request in
            state.withLock { state in
                guard request.method == "GET", request.path == Self.path else { return .init(status: 404) }
                if let token = state.token, request.header("Authorization") != token {
                    return .init(status: 403, body: #"{"code":"AccessDenied","message":"bad token"}"#)
                }
                if state.failures > 0 {
                    state.failures -= 1
                    return .init(status: 500)
                }
                if let body = state.body { return .init(status: 200, body: body) }
                state.issued += 1
                return .init(
                    status: 200,
                    body: """
                        {"RoleArn":"arn:aws:iam::123456789012:role/task","AccessKeyId":"ASIAKEY\(state.issued)",\
                        "SecretAccessKey":"SECRET\(state.issued)","Token":"SESSION\(state.issued)",\
                        "Expiration":"\(ISO8601DateFormatter().string(from: expiration))"}
                        """)
            }
        }
    }

    var url: String { server.endpoint + Self.path }

    /// The token the endpoint expects from now on (EKS rotates it).
    func expect(token: String?) { state.withLock { $0.token = token } }
    /// Answers the next `count` requests with a 500.
    func fail(next count: Int) { state.withLock { $0.failures = count } }
    /// Answers every later request with `body`.
    func answer(_ body: String) { state.withLock { $0.body = body } }
}

@Suite(.timeLimit(.minutes(1))) struct ContainerCredentialsTests {
    static let http: CurlHTTPClient = try! CurlHTTPClient()

    static func provider(_ values: [String: String]) -> ContainerCredentialProvider {
        ContainerCredentialProvider(http: http, environment: Environment(values), timeout: .seconds(2))
    }

    @Test(arguments: [
        ("/v2/credentials/abc", "http://169.254.170.2/v2/credentials/abc"),
        ("v2/credentials/abc", "http://169.254.170.2/v2/credentials/abc"),
    ])
    func relativeURIIsFetchedFromTheECSEndpoint(relative: String, expected: String) throws {
        #expect(ContainerCredentialProvider.relativeURL(relative) == expected)
        let environment = Environment([
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": relative,
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:9/ignored",
        ])
        #expect(try ContainerCredentialProvider.url(environment: environment) == expected)
    }

    @Test(arguments: ["@evil.example/creds", "//evil.example/creds", ":80@evil.example/", "/..//evil.example", "?@evil.example", "#@evil.example"])
    func aRelativeURINeverLeavesTheECSEndpoint(relative: String) throws {
        let url = try #require(try ContainerCredentialProvider.url(environment: Environment(["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": relative])))
        let components = try #require(URLComponents(string: url))
        #expect(components.host == "169.254.170.2")
        #expect(components.port == nil && components.user == nil && components.password == nil)
    }

    @Test(arguments: [
        "http://127.0.0.1:8080/creds", "http://127.4.5.6/creds", "http://[::1]:80/creds", "http://localhost/creds",
        "http://169.254.170.2/v2/credentials/x", "http://169.254.170.23/v1/credentials", "http://[fd00:ec2::23]/v1/credentials",
        "https://credentials.example.com/creds",
    ])
    func allowedFullURI(url: String) throws {
        let environment = Environment(["AWS_CONTAINER_CREDENTIALS_FULL_URI": url])
        #expect(try ContainerCredentialProvider.url(environment: environment) == url)
    }

    @Test(arguments: [
        "http://credentials.example.com/creds", "http://169.254.169.254/latest", "http://128.0.0.1/creds",
        "http://[fd00:ec2::24]/creds", "http://127.0.0.1.example.com/creds", "ftp://127.0.0.1/creds", "not a url",
    ])
    func disallowedFullURIIsRejected(url: String) async throws {
        let provider = Self.provider(["AWS_CONTAINER_CREDENTIALS_FULL_URI": url, "AWS_CONTAINER_AUTHORIZATION_TOKEN": "secret-auth"])
        let error = try await #require(throws: CredentialProviderError.self) { try await provider.credentials() }
        #expect(error.code == .invalidCredentialsEndpoint)
        #expect(error.description.contains("AWS_CONTAINER_CREDENTIALS_FULL_URI"))
        #expect(!error.description.contains("secret-auth"))
    }

    @Test func nothingWhenNeitherVariableIsSet() async throws {
        let provider = Self.provider(["AWS_CONTAINER_AUTHORIZATION_TOKEN": "token"])
        #expect(try await provider.credentials() == nil)
        #expect(provider.notFoundReason.contains("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"))
        #expect(provider.name == "ecs-container")
    }

    @Test func fetchesCredentialsWithExpirationAndTheAuthorizationToken() async throws {
        let endpoint = try ContainerEndpoint(token: "auth-token-1")
        defer { endpoint.server.stop() }
        let provider = Self.provider([
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": endpoint.url, "AWS_CONTAINER_AUTHORIZATION_TOKEN": "auth-token-1",
        ])
        let credentials = try await provider.credentials()
        #expect(
            credentials
                == Credentials(
                    accessKeyID: "ASIAKEY1", secretAccessKey: "SECRET1", sessionToken: "SESSION1", expiration: endpoint.expiration))
        let request = try #require(endpoint.server.requests.first)
        #expect(request.method == "GET" && request.header("Authorization") == "auth-token-1")
    }

    @Test func tokenFileIsReadAgainOnEveryFetchAndWinsOverTheVariable() async throws {
        let files = try SharedFilesFixture()
        let tokenFile = files.directory + "/eks-pod-identity-token"
        try "token-before\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let endpoint = try ContainerEndpoint(token: "token-before")
        defer { endpoint.server.stop() }
        let provider = Self.provider([
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": endpoint.url,
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": tokenFile,
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": "token-from-variable",
        ])
        #expect(try await provider.credentials()?.accessKeyID == "ASIAKEY1")

        try "token-after".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        endpoint.expect(token: "token-after")
        #expect(try await provider.credentials()?.accessKeyID == "ASIAKEY2")
        #expect(endpoint.server.requests.map { $0.header("Authorization") } == ["token-before", "token-after"])
    }

    @Test func unreadableTokenFileIsAnErrorNamingIt() async throws {
        let files = try SharedFilesFixture()
        let provider = Self.provider([
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:9/creds",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": files.directory + "/missing-token",
        ])
        let error = try await #require(throws: CredentialProviderError.self) { try await provider.credentials() }
        #expect(error.code == .unreadableFile)
        #expect(error.description.contains("missing-token"))
    }

    @Test func tokenWithALineBreakIsRefusedWithoutSendingOrShowingIt() async throws {
        let endpoint = try ContainerEndpoint(token: nil)
        defer { endpoint.server.stop() }
        let provider = Self.provider([
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": endpoint.url, "AWS_CONTAINER_AUTHORIZATION_TOKEN": "secret\r\nX-Injected: 1",
        ])
        let error = try await #require(throws: CredentialProviderError.self) { try await provider.credentials() }
        #expect(error.code == .invalidAuthorizationToken)
        #expect(!error.description.contains("secret"))
        #expect(endpoint.server.requests.isEmpty)
    }

    @Test func oneServerErrorIsRetried() async throws {
        let endpoint = try ContainerEndpoint(token: nil)
        defer { endpoint.server.stop() }
        endpoint.fail(next: 1)
        let credentials = try await Self.provider(["AWS_CONTAINER_CREDENTIALS_FULL_URI": endpoint.url]).credentials()
        #expect(credentials?.accessKeyID == "ASIAKEY1")
        #expect(endpoint.server.requests.count == 2)
    }

    @Test func persistentServerErrorsGiveUpAfterThreeAttempts() async throws {
        let endpoint = try ContainerEndpoint(token: nil)
        defer { endpoint.server.stop() }
        endpoint.fail(next: 10)
        let provider = Self.provider(["AWS_CONTAINER_CREDENTIALS_FULL_URI": endpoint.url])
        let error = try await #require(throws: CredentialProviderError.self) { try await provider.credentials() }
        #expect(error.code == .credentialsEndpointFailed)
        #expect(error.description.contains("HTTP 500"))
        #expect(endpoint.server.requests.count == 3)
    }

    @Test func wrongTokenIsNotRetriedAndNotShown() async throws {
        let endpoint = try ContainerEndpoint(token: "the-right-token")
        defer { endpoint.server.stop() }
        let provider = Self.provider([
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": endpoint.url, "AWS_CONTAINER_AUTHORIZATION_TOKEN": "a-wrong-token",
        ])
        let error = try await #require(throws: CredentialProviderError.self) { try await provider.credentials() }
        #expect(error.description.contains("HTTP 403") && error.description.contains(endpoint.url))
        #expect(!error.description.contains("wrong-token") && !error.description.contains("bad token"))
        #expect(endpoint.server.requests.count == 1)
    }

    @Test func unreachableEndpointIsAnErrorNamingIt() async throws {
        let port = try MetadataServer { _ in .init(status: 200) }
        port.stop()
        let url = "http://127.0.0.1:\(port.port)/creds"
        let provider = Self.provider(["AWS_CONTAINER_CREDENTIALS_FULL_URI": url, "AWS_CONTAINER_AUTHORIZATION_TOKEN": "auth-secret"])
        let error = try await #require(throws: CredentialProviderError.self) { try await provider.credentials() }
        #expect(error.code == .credentialsEndpointFailed)
        #expect(error.description.contains(url) && error.description.contains("3 attempt"))
        #expect(!error.description.contains("auth-secret"))
    }

    @Test(arguments: [
        (#"{"AccessKeyId":"ASIALEAKED","SecretAccessKey":"LEAKEDSECRET","Token":"LEAKED"#, "not a JSON object"),
        (#"{"AccessKeyId":"ASIALEAKED","Token":"LEAKEDTOKEN","Expiration":"2030-01-01T00:00:00Z"}"#, "without AccessKeyId and SecretAccessKey"),
        (#"{"AccessKeyId":"ASIALEAKED","SecretAccessKey":"LEAKEDSECRET","Expiration":"tomorrow"}"#, "Expiration"),
        (#"{"AccessKeyId":"ASIALEAKED","SecretAccessKey":42}"#, "SecretAccessKey"),
        ("<html>LEAKED</html>", "not a JSON object"),
    ])
    func malformedAnswerIsAClearErrorWithoutSecrets(body: String, expected: String) async throws {
        let endpoint = try ContainerEndpoint(token: nil)
        defer { endpoint.server.stop() }
        endpoint.answer(body)
        let provider = Self.provider(["AWS_CONTAINER_CREDENTIALS_FULL_URI": endpoint.url])
        let error = try await #require(throws: CredentialProviderError.self) { try await provider.credentials() }
        #expect(error.code == .malformedCredentials)
        #expect(error.description.contains(expected) && error.description.contains(endpoint.url))
        #expect(!error.description.contains("LEAKED"))
    }

    @Test func expiringCredentialsAreFetchedAgainByTheChain() async throws {
        // Four minutes left is inside the chain's five-minute margin, so every call refreshes.
        let endpoint = try ContainerEndpoint(token: nil, expiresIn: 240)
        defer { endpoint.server.stop() }
        let chain = CredentialChain(
            providers: [Self.provider(["AWS_CONTAINER_CREDENTIALS_FULL_URI": endpoint.url])], logger: Logger(label: "test"))
        #expect(try await chain.credentials().accessKeyID == "ASIAKEY1")
        #expect(try await chain.credentials().accessKeyID == "ASIAKEY2")
    }
}
