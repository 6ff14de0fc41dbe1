import Foundation
import HTTP
import SigV4
import Testing
@testable import AWS

@Suite(.timeLimit(.minutes(1))) struct WebIdentityCredentialProviderTests {
    static let role = "arn:aws:iam::123456789012:role/web"

    static func environment(_ files: SharedFilesFixture, _ extra: [String: String]) -> Environment {
        files.environment(["AWS_ENDPOINT_URL_STS": "http://127.0.0.1:9"].merging(extra) { $1 })
    }

    @Test func nothingWhenUnset() async throws {
        let transport = ScriptedTransport([])
        let provider = WebIdentityCredentialProvider(environment: Environment(["AWS_ROLE_SESSION_NAME": "s"]), http: transport)
        #expect(try await provider.credentials() == nil)
        #expect(provider.notFoundReason.contains("AWS_WEB_IDENTITY_TOKEN_FILE"))
        #expect(transport.sent.isEmpty)
    }

    @Test(arguments: [
        (["AWS_WEB_IDENTITY_TOKEN_FILE": "/tmp/token"], "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not"),
        (["AWS_ROLE_ARN": "arn:aws:iam::1:role/r"], "AWS_ROLE_ARN is set but AWS_WEB_IDENTITY_TOKEN_FILE is not"),
    ])
    func oneVariableWithoutTheOtherIsAnError(values: [String: String], message: String) async throws {
        let provider = WebIdentityCredentialProvider(environment: Environment(values), http: ScriptedTransport([]))
        let error = try await #require(throws: CredentialProviderError.self) { try await provider.credentials() }
        #expect(error.code == .incompleteCredentials)
        #expect(error.message == message)
    }

    @Test(arguments: ["missing", "empty", "directory"])
    func unreadableOrEmptyTokenFileIsAnErrorNamingIt(kind: String) async throws {
        let files = try SharedFilesFixture()
        let path = files.directory + "/token"
        switch kind {
        case "empty": try "\n".write(toFile: path, atomically: true, encoding: .utf8)
        case "directory": try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        default: break
        }
        let transport = ScriptedTransport([])
        let provider = WebIdentityCredentialProvider(
            environment: Self.environment(files, ["AWS_WEB_IDENTITY_TOKEN_FILE": path, "AWS_ROLE_ARN": Self.role]), http: transport)
        let error = try await #require(throws: CredentialProviderError.self) { try await provider.credentials() }
        #expect(error.code == .unreadableFile)
        #expect(error.message.contains(path))
        #expect(transport.sent.isEmpty)
    }

    @Test func readsTheRotatingTokenOnEveryFetch() async throws {
        let files = try SharedFilesFixture()
        let path = files.directory + "/token"
        let transport = ScriptedTransport([
            STSClientTests.credentialsResponse("AssumeRoleWithWebIdentity"),
            STSClientTests.credentialsResponse("AssumeRoleWithWebIdentity"),
        ])
        let provider = WebIdentityCredentialProvider(
            environment: Self.environment(
                files,
                [
                    "AWS_WEB_IDENTITY_TOKEN_FILE": path, "AWS_ROLE_ARN": Self.role, "AWS_ROLE_SESSION_NAME": "pod-7",
                ]),
            http: transport)
        try "first.jwt\n".write(toFile: path, atomically: true, encoding: .utf8)
        let credentials = try #require(try await provider.credentials())
        #expect(credentials.accessKeyID == "ASIATEMP")
        #expect(credentials.expiration != nil)
        try "second.jwt".write(toFile: path, atomically: true, encoding: .utf8)
        _ = try await provider.credentials()
        let forms = transport.sent.map(STSClientTests.form)
        #expect(forms.map { $0["WebIdentityToken"] } == ["first.jwt", "second.jwt"])
        #expect(forms.allSatisfy { $0["RoleArn"] == Self.role && $0["RoleSessionName"] == "pod-7" && $0["Action"] == "AssumeRoleWithWebIdentity" })
        #expect(transport.sent.allSatisfy { $0.url == "http://127.0.0.1:9/" })
    }

    @Test func defaultSessionNameAndRegionalEndpoint() async throws {
        let files = try SharedFilesFixture()
        let path = files.directory + "/token"
        try "jwt".write(toFile: path, atomically: true, encoding: .utf8)
        let transport = ScriptedTransport([STSClientTests.credentialsResponse("AssumeRoleWithWebIdentity")])
        let provider = WebIdentityCredentialProvider(
            environment: files.environment(["AWS_WEB_IDENTITY_TOKEN_FILE": path, "AWS_ROLE_ARN": Self.role, "AWS_REGION": "eu-central-1"]),
            http: transport, clock: { Date(timeIntervalSince1970: 1_700_000_000) })
        _ = try await provider.credentials()
        let request = try #require(transport.sent.first)
        #expect(request.url == "https://sts.eu-central-1.amazonaws.com/")
        #expect(STSClientTests.form(request)["RoleSessionName"] == "sagemaker-callback-1700000000")
    }

    @Test func theTokenNeverReachesTheError() async throws {
        let files = try SharedFilesFixture()
        let path = files.directory + "/token"
        try "eyJSECRET.JWT".write(toFile: path, atomically: true, encoding: .utf8)
        let transport = ScriptedTransport([
            .success(
                HTTPResponse(
                    status: 400,
                    body: Array(
                        """
                        <ErrorResponse><Error><Code>InvalidIdentityToken</Code><Message>Token eyJSECRET.JWT expired</Message></Error></ErrorResponse>
                        """.utf8)))
        ])
        let provider = WebIdentityCredentialProvider(
            environment: Self.environment(files, ["AWS_WEB_IDENTITY_TOKEN_FILE": path, "AWS_ROLE_ARN": Self.role]), http: transport)
        let error = try await #require(throws: AWSError.self) { try await provider.credentials() }
        #expect(error.code == "InvalidIdentityToken")
        #expect(!"\(error)".contains("eyJSECRET"))
    }
}
