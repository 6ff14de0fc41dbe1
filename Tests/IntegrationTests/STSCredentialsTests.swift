import AWS
import Foundation
import HTTP
import Logging
import Moto
import SigV4
import Testing

/// The STS-backed credential providers against moto's STS (request authentication off, its
/// default: moto answers AssumeRoleWithWebIdentity and AssumeRole then).
@Suite("STS credentials on the emulator", .timeLimit(.minutes(2)))
struct STSCredentialsTests {
    /// A moto server, an HTTP client and a temporary directory for one test.
    struct Fixture {
        let moto: MotoServer
        let http: CurlHTTPClient
        let directory: String

        static func start() async throws -> Fixture {
            let moto = try await startMoto()
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sts-\(UUID().uuidString.prefix(8))").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            return Fixture(moto: moto, http: try CurlHTTPClient(), directory: directory)
        }

        /// An environment that reaches moto's STS and no real shared file.
        func environment(_ extra: [String: String]) -> Environment {
            Environment(
                [
                    "AWS_ENDPOINT_URL_STS": moto.endpoint, "AWS_REGION": MotoServer.region,
                    "AWS_CONFIG_FILE": directory + "/config", "AWS_SHARED_CREDENTIALS_FILE": directory + "/credentials",
                ].merging(extra) { $1 })
        }

        var sts: STSClient {
            get throws { try STSClient(http: http, region: MotoServer.region, environment: environment([:])) }
        }

        func stop() {
            http.shutdown()
            moto.stop()
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    @Test("GetCallerIdentity answers for signed static keys")
    func callerIdentity() async throws {
        let fixture = try await Fixture.start()
        defer { fixture.stop() }
        let identity = try await fixture.sts.getCallerIdentity(credentials: MotoServer.credentials)
        #expect(identity.account == MotoServer.accountID)
        #expect(identity.arn.hasPrefix("arn:aws:sts::\(MotoServer.accountID):"))
        #expect(!identity.userID.isEmpty)
    }

    @Test("web identity: the token file and role from the environment give a role session")
    func webIdentity() async throws {
        let fixture = try await Fixture.start()
        defer { fixture.stop() }
        let tokenFile = fixture.directory + "/token"
        try "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJwb2QifQ.c2ln".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let environment = fixture.environment([
            "AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile,
            "AWS_ROLE_ARN": "arn:aws:iam::\(MotoServer.accountID):role/pod-role",
            "AWS_ROLE_SESSION_NAME": "pod-1",
        ])
        // The whole default chain, so the order is proven too: nothing before web identity answers.
        let chain = CredentialChain.default(environment: environment, http: fixture.http, logger: Logger(label: "test"))
        let credentials = try await chain.credentials()
        #expect(credentials.accessKeyID.hasPrefix("ASIA"))
        #expect(credentials.sessionToken?.isEmpty == false)
        let expiration = try #require(credentials.expiration)
        #expect(expiration > Date())
        let identity = try await fixture.sts.getCallerIdentity(credentials: credentials)
        #expect(identity.arn == "arn:aws:sts::\(MotoServer.accountID):assumed-role/pod-role/pod-1")
    }

    @Test("assume-role: a profile's role_arn is assumed with its source profile's keys, through a chain of roles")
    func profileRole() async throws {
        let fixture = try await Fixture.start()
        defer { fixture.stop() }
        try """
        [base]
        aws_access_key_id = \(MotoServer.credentials.accessKeyID)
        aws_secret_access_key = \(MotoServer.credentials.secretAccessKey)
        """.write(toFile: fixture.directory + "/credentials", atomically: true, encoding: .utf8)
        try """
        [profile hop]
        role_arn = arn:aws:iam::\(MotoServer.accountID):role/hop
        source_profile = base
        [profile deploy]
        role_arn = arn:aws:iam::\(MotoServer.accountID):role/deploy
        source_profile = hop
        role_session_name = deploy-session
        external_id = ext-1
        duration_seconds = 900
        """.write(toFile: fixture.directory + "/config", atomically: true, encoding: .utf8)
        let provider = ProfileRoleCredentialProvider(environment: fixture.environment([:]), profile: "deploy", http: fixture.http)
        let credentials = try #require(try await provider.credentials())
        #expect(credentials.accessKeyID.hasPrefix("ASIA"))
        let expiration = try #require(credentials.expiration)
        // duration_seconds reached STS: the session ends in about 15 minutes.
        #expect(abs(expiration.timeIntervalSinceNow - 900) < 120)
        let identity = try await fixture.sts.getCallerIdentity(credentials: credentials)
        #expect(identity.arn == "arn:aws:sts::\(MotoServer.accountID):assumed-role/deploy/deploy-session")
    }
}
