#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif
public import HTTP
public import Logging
public import SigV4

/// Credentials for the IAM role a shared-files profile names with `role_arn`, assumed through STS
/// with the credentials of its `source_profile`, as the SDKs do.
///
/// The source profile's credentials are, in order: another role (`role_arn` with its own
/// `source_profile`, so roles chain), its `credential_process`, or its static keys. A profile
/// whose `source_profile` is itself uses its own static keys. `external_id`,
/// `role_session_name` (default `sagemaker-callback-<epoch seconds>`) and `duration_seconds` are
/// passed to `AssumeRole`. Nothing to offer when the profile has no `role_arn`; an error for a
/// missing or cyclic `source_profile`, for `credential_source` (not supported here), and for
/// anything STS refuses.
public struct ProfileRoleCredentialProvider: CredentialProvider {
    private let files: SharedFilesCredentialProvider
    private let environment: Environment
    private let http: any HTTPClient
    private let processTimeout: Duration
    private let clock: @Sendable () -> Date
    private let logger: Logger?

    /// A provider for `profile` (else `AWS_PROFILE`, else `default`) with paths from `environment`,
    /// calling STS over `http`. A source profile's `credential_process` is killed after
    /// `processTimeout`; `clock` names default sessions; STS's retries are logged to `logger`.
    public init(
        environment: Environment, profile: String? = nil, http: any HTTPClient,
        processTimeout: Duration = .seconds(60), clock: @escaping @Sendable () -> Date = { Date() }, logger: Logger? = nil
    ) {
        self.files = SharedFilesCredentialProvider(environment: environment, profile: profile)
        self.environment = environment
        self.http = http
        self.processTimeout = processTimeout
        self.clock = clock
        self.logger = logger
    }

    public var name: String { "assume-role" }

    public var notFoundReason: String { "no role_arn for profile '\(files.profile)' in \(files.pathsDescription)" }

    public func credentials() async throws -> Credentials? {
        let loaded = try files.loadFiles()
        guard SharedFilesCredentialProvider.setting("role_arn", profile: files.profile, in: loaded) != nil else {
            return nil
        }
        let sts = try STSClient.forCredentials(http: http, environment: environment, profile: files.profile, logger: logger)
        return try await credentials(of: files.profile, in: loaded, sts: sts, visited: [])
    }

    /// The credentials `profile` stands for; `visited` holds the profiles that led here.
    private func credentials(of profile: String, in loaded: [ProfileFile], sts: STSClient, visited: [String]) async throws -> Credentials {
        func setting(_ key: String) -> String? {
            SharedFilesCredentialProvider.setting(key, profile: profile, in: loaded)
        }
        func invalid(_ message: String) -> CredentialProviderError {
            CredentialProviderError(code: .invalidProfile, message: "profile '\(profile)' \(message)")
        }
        guard loaded.contains(where: { $0.profiles[profile] != nil }) else {
            throw CredentialProviderError(
                code: .profileNotFound,
                message: "source_profile '\(profile)' of profile '\(visited.last ?? profile)' is in neither \(files.pathsDescription)"
            )
        }
        guard let roleArn = setting("role_arn") else {
            if let command = setting("credential_process") {
                return try await CredentialProcess(command: command, profile: profile, timeout: processTimeout).credentials()
            }
            guard
                let keys = try SharedFilesCredentialProvider.staticCredentials(profile: profile, in: loaded, pathsDescription: files.pathsDescription)
            else {
                throw invalid("has no role_arn, credential_process or aws_access_key_id to use as a source profile")
            }
            return keys
        }
        guard let source = setting("source_profile") else {
            if setting("credential_source") != nil {
                throw invalid("uses credential_source, which is not supported; use source_profile")
            }
            throw invalid("has role_arn but no source_profile")
        }
        var durationSeconds: Int?
        if let text = setting("duration_seconds") {
            guard let value = Int(text), value > 0 else { throw invalid("has duration_seconds '\(text)', not a number of seconds") }
            durationSeconds = value
        }
        let sourceCredentials: Credentials
        if source == profile {
            // The SDKs' rule: a role sourcing itself is assumed with the profile's own keys.
            guard
                let keys = try SharedFilesCredentialProvider.staticCredentials(profile: profile, in: loaded, pathsDescription: files.pathsDescription)
            else {
                throw invalid("is its own source_profile but has no aws_access_key_id")
            }
            sourceCredentials = keys
        } else {
            let path = visited + [profile]
            if path.contains(source) {
                throw invalid("has a source_profile cycle: \((path + [source]).joined(separator: " -> "))")
            }
            sourceCredentials = try await credentials(of: source, in: loaded, sts: sts, visited: path)
        }
        return try await sts.assumeRole(
            roleArn: roleArn,
            sessionName: setting("role_session_name") ?? STSClient.defaultSessionName(at: clock()),
            externalID: setting("external_id"),
            durationSeconds: durationSeconds,
            credentials: sourceCredentials
        )
    }
}
