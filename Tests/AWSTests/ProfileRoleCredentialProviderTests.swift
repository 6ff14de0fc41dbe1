import Foundation
import HTTP
import Logging
import SigV4
import Testing
@testable import AWS

@Suite(.timeLimit(.minutes(1))) struct ProfileRoleCredentialProviderTests {
    static func provider(_ files: SharedFilesFixture, _ transport: ScriptedTransport, profile: String? = nil) -> ProfileRoleCredentialProvider {
        ProfileRoleCredentialProvider(
            environment: files.environment(["AWS_ENDPOINT_URL_STS": "http://127.0.0.1:9", "AWS_REGION": "eu-west-1"]),
            profile: profile, http: transport, clock: { Date(timeIntervalSince1970: 1_700_000_000) })
    }

    static func accessKey(signing request: HTTPRequest) -> String? {
        guard let authorization = request.headers.first(where: { $0.name == "Authorization" })?.value,
            let start = authorization.range(of: "Credential=")?.upperBound
        else { return nil }
        return String(authorization[start...].prefix { $0 != "/" })
    }

    @Test func nothingWithoutRoleArn() async throws {
        let files = try SharedFilesFixture()
        try files.writeCredentials("[default]\naws_access_key_id = A\naws_secret_access_key = S\n")
        let transport = ScriptedTransport([])
        #expect(try await Self.provider(files, transport).credentials() == nil)
        #expect(transport.sent.isEmpty)
    }

    @Test func assumesTheRoleWithTheSourceProfilesKeys() async throws {
        let files = try SharedFilesFixture()
        try files.writeCredentials("[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = BASESECRET\n")
        try files.writeConfig(
            """
            [profile deploy]
            role_arn = arn:aws:iam::123456789012:role/deploy
            source_profile = base
            external_id = ext-42
            role_session_name = ci-run
            duration_seconds = 1800
            """)
        let transport = ScriptedTransport([STSClientTests.credentialsResponse("AssumeRole")])
        let credentials = try await Self.provider(files, transport, profile: "deploy").credentials()
        #expect(credentials?.accessKeyID == "ASIATEMP")
        let request = try #require(transport.sent.first)
        #expect(Self.accessKey(signing: request) == "AKIDBASE")
        #expect(request.headers.first { $0.name == "Authorization" }?.value.contains("/eu-west-1/sts/aws4_request") == true)
        #expect(
            STSClientTests.form(request) == [
                "Action": "AssumeRole", "Version": "2011-06-15", "RoleArn": "arn:aws:iam::123456789012:role/deploy",
                "RoleSessionName": "ci-run", "ExternalId": "ext-42", "DurationSeconds": "1800",
            ])
    }

    @Test func rolesChainThroughSourceProfiles() async throws {
        let files = try SharedFilesFixture()
        try files.writeConfig(
            """
            [profile base]
            aws_access_key_id = AKIDBASE
            aws_secret_access_key = BASESECRET
            [profile hop]
            role_arn = arn:aws:iam::111111111111:role/hop
            source_profile = base
            [default]
            role_arn = arn:aws:iam::222222222222:role/final
            source_profile = hop
            """)
        let transport = ScriptedTransport([
            STSClientTests.credentialsResponse("AssumeRole"), STSClientTests.credentialsResponse("AssumeRole"),
        ])
        _ = try await Self.provider(files, transport).credentials()
        #expect(
            transport.sent.map { STSClientTests.form($0)["RoleArn"] } == [
                "arn:aws:iam::111111111111:role/hop", "arn:aws:iam::222222222222:role/final",
            ])
        // The second hop is signed with the first hop's temporary credentials, token included.
        #expect(transport.sent.map(Self.accessKey) == ["AKIDBASE", "ASIATEMP"])
        #expect(transport.sent[1].headers.contains { $0.name == "X-Amz-Security-Token" && $0.value == "TOKEN&PART" })
        #expect(STSClientTests.form(transport.sent[0])["RoleSessionName"] == "sagemaker-callback-1700000000")
    }

    @Test func aProfileSourcingItselfUsesItsOwnKeys() async throws {
        let files = try SharedFilesFixture()
        try files.writeCredentials("[default]\naws_access_key_id = AKIDSELF\naws_secret_access_key = SELFSECRET\n")
        try files.writeConfig("[default]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = default\n")
        let transport = ScriptedTransport([STSClientTests.credentialsResponse("AssumeRole")])
        #expect(try await Self.provider(files, transport).credentials()?.accessKeyID == "ASIATEMP")
        #expect(transport.sent.map(Self.accessKey) == ["AKIDSELF"])
    }

    @Test func aSourceProfileWithCredentialProcess() async throws {
        let files = try SharedFilesFixture()
        try files.writeConfig(
            #"""
            [profile tool]
            credential_process = echo '{"Version":1,"AccessKeyId":"AKIDPROC","SecretAccessKey":"PROCSECRET"}'
            [default]
            role_arn = arn:aws:iam::1:role/r
            source_profile = tool
            """#)
        let transport = ScriptedTransport([STSClientTests.credentialsResponse("AssumeRole")])
        _ = try await Self.provider(files, transport).credentials()
        #expect(transport.sent.map(Self.accessKey) == ["AKIDPROC"])
    }

    @Test(arguments: [
        ("[default]\nrole_arn = arn:r\n", CredentialProviderError.Code.invalidProfile, "profile 'default' has role_arn but no source_profile"),
        ("[default]\nrole_arn = arn:r\ncredential_source = Ec2InstanceMetadata\n", .invalidProfile, "credential_source, which is not supported"),
        (
            "[default]\nrole_arn = arn:r\nsource_profile = a\n[profile a]\nrole_arn = arn:a\nsource_profile = b\n[profile b]\nrole_arn = arn:b\nsource_profile = a\n",
            .invalidProfile, "source_profile cycle: default -> a -> b -> a"
        ),
        ("[default]\nrole_arn = arn:r\nsource_profile = ghost\n", .profileNotFound, "source_profile 'ghost' of profile 'default'"),
        (
            "[default]\nrole_arn = arn:r\nsource_profile = empty\n[profile empty]\nregion = us-east-1\n", .invalidProfile,
            "profile 'empty' has no role_arn, credential_process or aws_access_key_id"
        ),
        ("[default]\nrole_arn = arn:r\nsource_profile = default\n", .invalidProfile, "is its own source_profile but has no aws_access_key_id"),
        ("[default]\nrole_arn = arn:r\nsource_profile = default\nduration_seconds = 1h\n", .invalidProfile, "duration_seconds '1h'"),
    ])
    func misconfigurationIsAClearErrorAndCallsNothing(config: String, code: CredentialProviderError.Code, message: String) async throws {
        let files = try SharedFilesFixture()
        try files.writeConfig(config)
        let transport = ScriptedTransport([])
        let error = try await #require(throws: CredentialProviderError.self) { try await Self.provider(files, transport).credentials() }
        #expect(error.code == code)
        #expect(error.message.contains(message), "\(error.message)")
        #expect(transport.sent.isEmpty)
    }

    @Test func anSTSRefusalIsAnAWSErrorWithoutTheSourceSecret() async throws {
        let files = try SharedFilesFixture()
        try files.writeConfig(
            "[default]\nrole_arn = arn:r\nsource_profile = base\n[profile base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = BASESECRET\n")
        let transport = ScriptedTransport([
            .success(
                HTTPResponse(
                    status: 403,
                    body: Array(
                        """
                        <ErrorResponse><Error><Code>AccessDenied</Code><Message>not allowed with BASESECRET</Message></Error><RequestId>r-9</RequestId></ErrorResponse>
                        """.utf8)))
        ])
        let error = try await #require(throws: AWSError.self) { try await Self.provider(files, transport).credentials() }
        #expect(error.code == "AccessDenied")
        #expect(error.requestID == "r-9")
        #expect(error.operation == "AssumeRole")
        #expect(!"\(error)".contains("BASESECRET"))
    }
}

@Suite struct DefaultProvidersTests {
    @Test func theSDKOrder() {
        let chain = CredentialChain.default(environment: Environment([:]), http: ScriptedTransport([]), logger: .init(label: "test"))
        #expect(chain.name == "chain(environment, web-identity, assume-role, shared-files, process, ecs-container, ec2-instance-metadata)")
    }
}
