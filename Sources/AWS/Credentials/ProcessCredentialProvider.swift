public import SigV4

/// Credentials printed by the profile's `credential_process` command in the shared files.
///
/// Nothing to offer when the profile has no `credential_process`; an error when the command fails,
/// times out or prints something unusable (see ``CredentialProviderError/Code/credentialProcessFailed``).
/// The command runs on every fetch: the chain caches what it gives until it nears `Expiration`.
public struct ProcessCredentialProvider: CredentialProvider {
    private let files: SharedFilesCredentialProvider
    private let timeout: Duration

    /// A provider for `profile` (else `AWS_PROFILE`, else `default`) with paths from `environment`;
    /// the command is killed after `timeout`.
    public init(environment: Environment, profile: String? = nil, timeout: Duration = .seconds(60)) {
        self.files = SharedFilesCredentialProvider(environment: environment, profile: profile)
        self.timeout = timeout
    }

    public var name: String { "process" }

    public var notFoundReason: String { "no credential_process for profile '\(files.profile)' in \(files.pathsDescription)" }

    public func credentials() async throws -> Credentials? {
        let loaded = try files.loadFiles()
        guard let command = SharedFilesCredentialProvider.setting("credential_process", profile: files.profile, in: loaded) else {
            return nil
        }
        return try await CredentialProcess(command: command, profile: files.profile, timeout: timeout).credentials()
    }
}
