import InMemoryLogging
import SigV4
import Foundation
import Logging
import Synchronization
import TestSupport
import Testing
@testable import AWS

/// A temporary directory for shared AWS files, removed when the fixture goes away.
final class SharedFilesFixture {
    let directory: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("awsconf-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: directory)
    }

    var credentialsPath: String { directory + "/credentials" }
    var configPath: String { directory + "/config" }

    func writeCredentials(_ text: String) throws {
        try text.write(toFile: credentialsPath, atomically: true, encoding: .utf8)
    }

    func writeConfig(_ text: String) throws {
        try text.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    /// An environment pointing both file variables into the directory (the files may not exist).
    func environment(_ extra: [String: String] = [:]) -> Environment {
        Environment(
            ["AWS_SHARED_CREDENTIALS_FILE": credentialsPath, "AWS_CONFIG_FILE": configPath]
                .merging(extra) { $1 }
        )
    }
}

@Suite(.timeLimit(.minutes(1))) struct EnvironmentCredentialProviderTests {
    @Test(arguments: [nil, "token-1"])
    func readsKeys(sessionToken: String?) async throws {
        var values = ["AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "SECRET"]
        values["AWS_SESSION_TOKEN"] = sessionToken
        let credentials = try await EnvironmentCredentialProvider(environment: Environment(values)).credentials()
        #expect(credentials == Credentials(accessKeyID: "AKID", secretAccessKey: "SECRET", sessionToken: sessionToken))
    }

    @Test func nothingWhenUnset() async throws {
        let provider = EnvironmentCredentialProvider(environment: Environment(["AWS_SESSION_TOKEN": "token"]))
        #expect(try await provider.credentials() == nil)
    }

    @Test(arguments: [
        (["AWS_ACCESS_KEY_ID": "AKIDVALUE"], "AWS_SECRET_ACCESS_KEY is not"),
        (["AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI"], "AWS_ACCESS_KEY_ID is not"),
    ])
    func oneKeyWithoutTheOtherIsAnError(values: [String: String], expected: String) async throws {
        let provider = EnvironmentCredentialProvider(environment: Environment(values))
        let error = try await #require(throws: CredentialProviderError.self) { try await provider.credentials() }
        #expect(error.code == .incompleteCredentials)
        #expect(error.description.contains(expected))
        #expect(!error.description.contains("AKIDVALUE") && !error.description.contains("wJalrXUtnFEMI"))
    }
}

@Suite(.timeLimit(.minutes(1))) struct SharedFilesCredentialProviderTests {
    @Test func defaultProfileFromCredentialsFile() async throws {
        let files = try SharedFilesFixture()
        try files.writeCredentials(
            """
            [other]
            aws_access_key_id = OTHER
            aws_secret_access_key = OTHERSECRET

            [default]
            aws_access_key_id = AKID
            aws_secret_access_key = SECRET
            aws_session_token = TOKEN
            """)
        let credentials = try await SharedFilesCredentialProvider(environment: files.environment()).credentials()
        #expect(credentials == Credentials(accessKeyID: "AKID", secretAccessKey: "SECRET", sessionToken: "TOKEN"))
    }

    @Test func namedProfileFromAWSProfile() async throws {
        let files = try SharedFilesFixture()
        try files.writeCredentials(
            """
            [default]
            aws_access_key_id = DEFAULT
            aws_secret_access_key = DEFAULTSECRET
            [ci]
            aws_access_key_id = CI
            aws_secret_access_key = CISECRET
            """)
        let provider = SharedFilesCredentialProvider(environment: files.environment(["AWS_PROFILE": "ci"]))
        #expect(provider.profile == "ci")
        #expect(try await provider.credentials()?.accessKeyID == "CI")
    }

    @Test func explicitProfileBeatsAWSProfile() async throws {
        let files = try SharedFilesFixture()
        try files.writeCredentials("[a]\naws_access_key_id = A\naws_secret_access_key = AS\n[b]\naws_access_key_id = B\naws_secret_access_key = BS\n")
        let provider = SharedFilesCredentialProvider(environment: files.environment(["AWS_PROFILE": "a"]), profile: "b")
        #expect(try await provider.credentials()?.accessKeyID == "B")
    }

    @Test func profileSectionInConfigFile() async throws {
        let files = try SharedFilesFixture()
        try files.writeConfig(
            """
            [default]
            region = us-east-1
            [profile build]
            aws_access_key_id = BUILD
            aws_secret_access_key = BUILDSECRET
            [build]
            aws_access_key_id = NOT-A-PROFILE-IN-CONFIG
            aws_secret_access_key = X
            """)
        let provider = SharedFilesCredentialProvider(environment: files.environment(), profile: "build")
        #expect(try await provider.credentials() == Credentials(accessKeyID: "BUILD", secretAccessKey: "BUILDSECRET"))
    }

    @Test func credentialsFileWinsOverConfigAsAUnit() async throws {
        let files = try SharedFilesFixture()
        try files.writeCredentials("[default]\naws_access_key_id = FRESH\naws_secret_access_key = FRESHSECRET\n")
        try files.writeConfig("[default]\naws_access_key_id = STALE\naws_secret_access_key = STALESECRET\naws_session_token = STALETOKEN\n")
        let credentials = try await SharedFilesCredentialProvider(environment: files.environment()).credentials()
        // The stale token from the config file must not ride along with the fresh pair.
        #expect(credentials == Credentials(accessKeyID: "FRESH", secretAccessKey: "FRESHSECRET"))
    }

    @Test func configSuppliesKeysWhenCredentialsFileProfileHasNone() async throws {
        let files = try SharedFilesFixture()
        try files.writeCredentials("[default]\nregion = eu-west-1\n")
        try files.writeConfig("[default]\naws_access_key_id = CONFIG\naws_secret_access_key = CONFIGSECRET\n")
        #expect(try await SharedFilesCredentialProvider(environment: files.environment()).credentials()?.accessKeyID == "CONFIG")
    }

    @Test func missingFilesAreNothingConfigured() async throws {
        let files = try SharedFilesFixture()
        let provider = SharedFilesCredentialProvider(environment: files.environment())
        #expect(try await provider.credentials() == nil)
        #expect(try provider.region() == nil)
        #expect(provider.notFoundReason.contains(files.credentialsPath))
    }

    @Test func profileWithoutKeysIsNothingConfigured() async throws {
        let files = try SharedFilesFixture()
        try files.writeConfig("[default]\nregion = us-west-2\nrole_arn = arn:aws:iam::123456789012:role/x\n")
        #expect(try await SharedFilesCredentialProvider(environment: files.environment()).credentials() == nil)
    }

    @Test func namedProfileMissingFromEveryFileIsAnError() async throws {
        let files = try SharedFilesFixture()
        try files.writeCredentials("[default]\naws_access_key_id = A\naws_secret_access_key = S\n")
        let provider = SharedFilesCredentialProvider(environment: files.environment(["AWS_PROFILE": "typo"]))
        let error = try await #require(throws: CredentialProviderError.self) { try await provider.credentials() }
        #expect(error.code == .profileNotFound)
        #expect(error.message.contains("'typo'"))
    }

    @Test func incompleteProfileIsAnError() async throws {
        let files = try SharedFilesFixture()
        try files.writeCredentials("[default]\naws_access_key_id = AKID\n")
        let provider = SharedFilesCredentialProvider(environment: files.environment())
        let error = try await #require(throws: CredentialProviderError.self) { try await provider.credentials() }
        #expect(error.code == .incompleteCredentials)
        #expect(error.message.contains("aws_secret_access_key"))
        #expect(!error.message.contains("AKID"))
    }

    @Test func unreadableFileIsAnErrorNamingThePath() async throws {
        let files = try SharedFilesFixture()
        // A directory where the file should be cannot be read, even by root.
        try FileManager.default.createDirectory(atPath: files.credentialsPath, withIntermediateDirectories: false)
        let provider = SharedFilesCredentialProvider(environment: files.environment())
        let error = try await #require(throws: CredentialProviderError.self) { try await provider.credentials() }
        #expect(error.code == .unreadableFile)
        #expect(error.message.contains(files.credentialsPath))
    }

    @Test func regionFromProfileInConfig() throws {
        let files = try SharedFilesFixture()
        try files.writeConfig("[default]\nregion = us-east-1\n[profile eu]\nregion = eu-central-1\n")
        let provider = SharedFilesCredentialProvider(environment: files.environment())
        #expect(try provider.region() == "us-east-1")
        #expect(try provider.region(profile: "eu") == "eu-central-1")
        #expect(try provider.region(profile: "absent") == nil)
    }

    @Test func pathsFromHomeAndTilde() throws {
        let files = try SharedFilesFixture()
        let fromHome = SharedFilesCredentialProvider(environment: Environment(["HOME": "/home/u"]))
        #expect(fromHome.credentialsPath == "/home/u/.aws/credentials")
        #expect(fromHome.configPath == "/home/u/.aws/config")
        let tilde = SharedFilesCredentialProvider(
            environment: Environment([
                "HOME": files.directory, "AWS_SHARED_CREDENTIALS_FILE": "~/creds", "AWS_CONFIG_FILE": "/etc/aws/config",
            ]))
        #expect(tilde.credentialsPath == files.directory + "/creds")
        #expect(tilde.configPath == "/etc/aws/config")
        #expect(SharedFilesCredentialProvider(environment: Environment([:])).credentialsPath == nil)
    }
}

@Suite struct ProfileFileTests {
    @Test func parsesTheINIDialectOfTheSDKs() {
        let file = ProfileFile.parse(
            """
            # a comment
            ; another comment
            [default]   # comment after a header
            AWS_Access_Key_ID=AKID
              aws_secret_access_key   =   SECRET   ; inline comment
            aws_session_token = abc#def==
            s3 =
              max_concurrent_requests = 20
            region = us-east-1

            [Default]
            region = eu-west-1
            no equals sign here
            = no key
            empty =
            """, kind: .credentials)
        #expect(
            file.profiles["default"] == [
                "aws_access_key_id": "AKID",
                "aws_secret_access_key": "SECRET",
                "aws_session_token": "abc#def==",
                "region": "us-east-1",
            ])
        // Section names are case-sensitive.
        #expect(file.profiles["Default"] == ["region": "eu-west-1"])
    }

    @Test(arguments: [
        ("[profile x]", "x"),
        ("[profile   x ]", "x"),
        ("[ default ]", "default"),
        ("[profile default]", "default"),
    ])
    func configSectionsThatAreProfiles(header: String, profile: String) {
        let file = ProfileFile.parse("\(header)\nregion = r\n", kind: .config)
        #expect(file.profiles == [profile: ["region": "r"]])
    }

    @Test(arguments: ["[x]", "[sso-session x]", "[services x]", "[profile]", "[profile x"])
    func configSectionsThatAreNotProfiles(header: String) {
        let file = ProfileFile.parse("\(header)\nregion = r\n", kind: .config)
        #expect(file.profiles.isEmpty)
    }

    @Test func credentialsFileSectionsAreNamesAsIs() {
        let file = ProfileFile.parse("[profile x]\nregion = r\n", kind: .credentials)
        #expect(file.profiles == ["profile x": ["region": "r"]])
    }

    @Test func windowsLineEndings() {
        let file = ProfileFile.parse("[default]\r\naws_access_key_id = AKID\r\n", kind: .credentials)
        #expect(file.profiles["default"]?["aws_access_key_id"] == "AKID")
    }
}

@Suite(.timeLimit(.minutes(1))) struct CredentialChainTests {
    static let base = Date(timeIntervalSince1970: 1_700_000_000)

    /// The first two providers of the default chain, which need no network.
    static func environmentThenFiles(_ environment: Environment, logger: Logger) -> CredentialChain {
        CredentialChain(
            providers: [EnvironmentCredentialProvider(environment: environment), SharedFilesCredentialProvider(environment: environment)],
            logger: logger
        )
    }

    @Test func environmentBeatsSharedFilesAndTheWinnerIsLogged() async throws {
        let files = try SharedFilesFixture()
        try files.writeCredentials("[default]\naws_access_key_id = FILE\naws_secret_access_key = FILESECRET\n")
        let log = recordingLogger()
        let chain = Self.environmentThenFiles(
            files.environment(["AWS_ACCESS_KEY_ID": "ENV", "AWS_SECRET_ACCESS_KEY": "ENVSECRET"]), logger: log.logger)
        #expect(chain.name == "chain(environment, shared-files)")
        #expect(try await chain.credentials().accessKeyID == "ENV")
        let info = log.handler.entries.filter { $0.level == .info }
        #expect(info.map { $0.metadata["aws.credentials.provider"] } == ["environment"])
        #expect(!log.handler.entries.contains { "\($0.message) \($0.metadata)".contains("ENVSECRET") })
    }

    @Test func sharedFilesAnswerWhenEnvironmentIsEmpty() async throws {
        let files = try SharedFilesFixture()
        try files.writeCredentials("[default]\naws_access_key_id = FILE\naws_secret_access_key = FILESECRET\n")
        let chain = Self.environmentThenFiles(files.environment(), logger: silentLogger)
        #expect(try await chain.credentials().accessKeyID == "FILE")
    }

    @Test func aBrokenProviderIsPassedOverAndLogged() async throws {
        let broken = StubProvider(name: "broken") { _ in throw CredentialProviderError(code: .unreadableFile, message: "cannot read /x") }
        let good = StubProvider(name: "good") { _ in Credentials(accessKeyID: "GOOD", secretAccessKey: "S") }
        let log = recordingLogger()
        let chain = CredentialChain(providers: [broken, good], logger: log.logger)
        #expect(try await chain.credentials().accessKeyID == "GOOD")
        #expect(log.handler.entries.contains { $0.level == .warning && $0.metadata["aws.credentials.provider"] == "broken" })
    }

    @Test func cachesCredentials() async throws {
        let provider = StubProvider(name: "stub") { call in
            Credentials(accessKeyID: "AKID\(call)", secretAccessKey: "S", expiration: Self.base + 3600)
        }
        let chain = CredentialChain(providers: [provider], logger: silentLogger, clock: { Self.base })
        #expect(try await chain.credentials().accessKeyID == "AKID1")
        #expect(try await chain.credentials().accessKeyID == "AKID1")
        #expect(provider.calls == 1)
    }

    @Test func credentialsWithoutExpiryAreNeverRefreshed() async throws {
        let clock = ManualClock(Self.base)
        let provider = StubProvider(name: "stub") { _ in Credentials(accessKeyID: "AKID", secretAccessKey: "S") }
        let chain = CredentialChain(providers: [provider], logger: silentLogger, clock: clock.read)
        _ = try await chain.credentials()
        clock.set(Self.base + 365 * 86400)
        _ = try await chain.credentials()
        #expect(provider.calls == 1)
    }

    @Test func refreshesWithinTheMarginBeforeExpiry() async throws {
        let clock = ManualClock(Self.base)
        let provider = StubProvider(name: "stub") { call in
            Credentials(accessKeyID: "AKID\(call)", secretAccessKey: "S", expiration: Self.base + 3600 * Double(call))
        }
        let chain = CredentialChain(providers: [provider], logger: silentLogger, clock: clock.read, refreshMargin: .seconds(300))
        #expect(try await chain.credentials().accessKeyID == "AKID1")
        clock.set(Self.base + 3600 - 301)
        #expect(try await chain.credentials().accessKeyID == "AKID1")
        clock.set(Self.base + 3600 - 299)
        #expect(try await chain.credentials().accessKeyID == "AKID2")
        #expect(provider.calls == 2)
    }

    @Test func concurrentCallersDuringARefreshShareOneFetch() async throws {
        let clock = ManualClock(Self.base)
        let gate = Gate()
        let provider = StubProvider(name: "gated") { call in
            Credentials(accessKeyID: "AKID\(call)", secretAccessKey: "S", expiration: Self.base + 3600 * Double(call))
        }
        let gated = GatedProvider(inner: provider, gate: gate, fromCall: 2)
        let chain = CredentialChain(providers: [gated], logger: silentLogger, clock: clock.read)
        _ = try await chain.credentials()
        clock.set(Self.base + 3600 - 60)

        async let first = chain.credentials()
        async let second = chain.credentials()
        try await eventually("both callers wait on one refresh", timeout: .seconds(10), every: .milliseconds(1)) {
            let suspended = await gate.waiting
            let joined = await chain.joinedRefreshes
            return suspended == 1 && joined == 1
        }
        await gate.open()
        let (a, b) = try await (first, second)
        #expect(a.accessKeyID == "AKID2")
        #expect(b == a)
        #expect(provider.calls == 2)
    }

    @Test func noAnswerListsEveryProviderTried() async throws {
        let files = try SharedFilesFixture()
        let environment = files.environment(["AWS_ACCESS_KEY_ID": "AKIDVALUE"])
        let extra = StubProvider(name: "imds") { _ in
            throw CredentialProviderError(code: .init(rawValue: "Unreachable"), message: "no answer from 169.254.169.254")
        }
        let chain = CredentialChain(
            providers: [EnvironmentCredentialProvider(environment: environment), SharedFilesCredentialProvider(environment: environment), extra],
            logger: silentLogger
        )
        let error = try await #require(throws: CredentialsError.self) { try await chain.credentials() }
        #expect(error.attempts.map(\.provider) == ["environment", "shared-files", "imds"])
        #expect(error.attempts[0].reason == "IncompleteCredentials: AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")
        #expect(error.attempts[1].reason.contains(files.credentialsPath))
        #expect(error.attempts[2].reason.contains("169.254.169.254"))
        #expect(error.description.hasPrefix("no AWS credentials found; tried environment: "))
        #expect(!error.description.contains("AKIDVALUE"))
    }

    @Test func aFailedRefreshKeepsUnexpiredCredentialsThenFails() async throws {
        let clock = ManualClock(Self.base)
        let provider = StubProvider(name: "flaky") { call in
            guard call == 1 else { throw CredentialProviderError(code: .init(rawValue: "Unreachable"), message: "down") }
            return Credentials(accessKeyID: "AKID", secretAccessKey: "S", expiration: Self.base + 3600)
        }
        let chain = CredentialChain(providers: [provider], logger: silentLogger, clock: clock.read)
        _ = try await chain.credentials()
        clock.set(Self.base + 3600 - 60)
        #expect(try await chain.credentials().accessKeyID == "AKID")
        clock.set(Self.base + 3600)
        await #expect(throws: CredentialsError.self) { try await chain.credentials() }
        #expect(provider.calls == 3)
    }

    @Test func theChainSaysWhichProviderAnswered() async throws {
        let empty = StubProvider(name: "empty") { _ in nil }
        let good = StubProvider(name: "good") { _ in Credentials(accessKeyID: "GOOD", secretAccessKey: "S") }
        let chain = CredentialChain(providers: [empty, good], logger: silentLogger)
        let resolved = try await chain.resolve()
        #expect(resolved.provider == "good")
        #expect(resolved.credentials.accessKeyID == "GOOD")
        #expect(try await chain.resolve().provider == "good", "from the cache, the same provider")
        #expect(empty.calls == 1 && good.calls == 1)
    }

    @Test func aRefreshAsksTheProviderThatAnsweredBeforeTheOthers() async throws {
        let clock = ManualClock(Self.base)
        let empty = StubProvider(name: "empty") { _ in nil }
        let expiring = StubProvider(name: "expiring") { call in
            guard call <= 2 else { return nil }
            return Credentials(accessKeyID: "AKID\(call)", secretAccessKey: "S", expiration: Self.base + 3600 * Double(call))
        }
        let last = StubProvider(name: "last") { _ in Credentials(accessKeyID: "LAST", secretAccessKey: "S") }
        let chain = CredentialChain(providers: [empty, expiring, last], logger: silentLogger, clock: clock.read)
        #expect(try await chain.credentials().accessKeyID == "AKID1")
        clock.set(Self.base + 3600 - 60)
        #expect(try await chain.credentials().accessKeyID == "AKID2")
        #expect(empty.calls == 1, "the refresh went straight to the provider that answered")
        clock.set(Self.base + 7200 - 60)
        // The kept provider has nothing now: the others are asked in their order, each once.
        let resolved = try await chain.resolve()
        #expect(resolved.provider == "last" && resolved.credentials.accessKeyID == "LAST")
        #expect(empty.calls == 2 && expiring.calls == 3 && last.calls == 1)
    }
}

// MARK: - Test doubles

/// A provider answering with `answer(callNumber)`, counting calls.
private final class StubProvider: CredentialProvider {
    let name: String
    private let answer: @Sendable (Int) throws -> Credentials?
    private let count = Mutex(0)

    init(name: String, answer: @escaping @Sendable (Int) throws -> Credentials?) {
        self.name = name
        self.answer = answer
    }

    var calls: Int { count.withLock { $0 } }

    func credentials() async throws -> Credentials? {
        try answer(
            count.withLock {
                $0 += 1; return $0
            })
    }
}

/// Suspends the inner provider's calls from `fromCall` on until the gate opens.
private final class GatedProvider: CredentialProvider {
    let inner: StubProvider
    let gate: Gate
    let fromCall: Int
    private let count = Mutex(0)

    init(inner: StubProvider, gate: Gate, fromCall: Int) {
        self.inner = inner
        self.gate = gate
        self.fromCall = fromCall
    }

    var name: String { inner.name }

    func credentials() async throws -> Credentials? {
        if count.withLock({
            $0 += 1; return $0
        }) >= fromCall {
            await gate.pass()
        }
        return try await inner.credentials()
    }
}

private actor Gate {
    private var isOpen = false
    private var waiters: [CheckedContinuation<Void, Never>] = []
    var waiting: Int { waiters.count }

    func pass() async {
        if isOpen { return }
        await withCheckedContinuation { waiters.append($0) }
    }

    func open() {
        isOpen = true
        for waiter in waiters { waiter.resume() }
        waiters.removeAll()
    }
}

private final class ManualClock: Sendable {
    private let now: Mutex<Date>
    init(_ start: Date) { now = Mutex(start) }
    func set(_ date: Date) { now.withLock { $0 = date } }
    var read: @Sendable () -> Date { { self.now.withLock { $0 } } }
}
