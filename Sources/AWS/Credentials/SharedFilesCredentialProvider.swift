public import SigV4
/// Credentials (and the region) from the shared AWS files, `~/.aws/credentials` and
/// `~/.aws/config`.
///
/// Paths come from `AWS_SHARED_CREDENTIALS_FILE` and `AWS_CONFIG_FILE` (a leading `~` is the
/// home directory), else `$HOME/.aws/…`. The profile is the one named at init, else
/// `AWS_PROFILE`, else `default`. A missing file is nothing configured; a file that exists but
/// cannot be read is an error naming its path. The files are read on every call: the chain
/// caches what they give.
///
/// Where both files hold the same profile, the credentials file wins: for the key pair and token
/// as a unit (so a fresh pair is never mixed with a stale token from the other file), and for
/// other settings such as `region` key by key, as the SDKs merge them.
public struct SharedFilesCredentialProvider: CredentialProvider {
    /// The profile read when `credentials()` or `region()` is not told another.
    public let profile: String
    /// The credentials file's path, or nil when neither its variable nor `HOME` is set.
    public let credentialsPath: String?
    /// The config file's path, or nil when neither its variable nor `HOME` is set.
    public let configPath: String?
    /// Whether the profile was asked for by name (an argument or `AWS_PROFILE`): a named profile
    /// that no file holds is an error, a missing `default` is only nothing configured.
    private let profileIsNamed: Bool

    private static let keyNames = ["aws_access_key_id", "aws_secret_access_key", "aws_session_token"]

    /// A provider for `profile` (else `AWS_PROFILE`, else `default`) with paths from `environment`.
    public init(environment: Environment, profile: String? = nil) {
        let named = profile ?? environment["AWS_PROFILE"]
        self.profile = named ?? "default"
        self.profileIsNamed = named != nil
        let home = environment["HOME"]
        self.credentialsPath = Self.path(environment["AWS_SHARED_CREDENTIALS_FILE"], home: home, defaultName: "credentials")
        self.configPath = Self.path(environment["AWS_CONFIG_FILE"], home: home, defaultName: "config")
    }

    public var name: String { "shared-files" }

    public var notFoundReason: String {
        "no aws_access_key_id/aws_secret_access_key for profile '\(profile)' in \(pathsDescription)"
    }

    public func credentials() async throws -> Credentials? {
        let files = try loadFiles()
        guard files.contains(where: { $0.profiles[profile] != nil }) else {
            if profileIsNamed {
                throw CredentialProviderError(
                    code: .profileNotFound,
                    message: "profile '\(profile)' is in neither \(pathsDescription)"
                )
            }
            return nil
        }
        return try Self.staticCredentials(profile: profile, in: files, pathsDescription: pathsDescription)
    }

    /// The key pair (and token) of `profile` in `files`: nil when no file gives the profile a key,
    /// an error when a file gives one half of the pair only. The first file (credentials before
    /// config) that holds any key supplies all of them.
    static func staticCredentials(profile: String, in files: [ProfileFile], pathsDescription: String) throws(CredentialProviderError) -> Credentials?
    {
        guard
            let keys = files.lazy.compactMap({ $0.profiles[profile] })
                .first(where: { settings in Self.keyNames.contains { settings[$0] != nil } })
        else { return nil }
        guard let accessKeyID = keys["aws_access_key_id"], let secretAccessKey = keys["aws_secret_access_key"] else {
            let missing = keys["aws_access_key_id"] == nil ? "aws_access_key_id" : "aws_secret_access_key"
            throw CredentialProviderError(
                code: .incompleteCredentials,
                message: "profile '\(profile)' in \(pathsDescription) lacks \(missing)"
            )
        }
        return Credentials(
            accessKeyID: accessKeyID,
            secretAccessKey: secretAccessKey,
            sessionToken: keys["aws_session_token"]
        )
    }

    /// The value of `key` in `profile`, the credentials file winning over the config file.
    static func setting(_ key: String, profile: String, in files: [ProfileFile]) -> String? {
        files.lazy.compactMap { $0.profiles[profile]?[key] }.first
    }

    /// The `region` setting of `profile` (else this provider's profile), the credentials file
    /// winning over the config file; nil when no file sets it.
    public func region(profile: String? = nil) throws -> String? {
        let name = profile ?? self.profile
        return Self.setting("region", profile: name, in: try loadFiles())
    }

    /// The files that exist, credentials file first.
    func loadFiles() throws(CredentialProviderError) -> [ProfileFile] {
        var files: [ProfileFile] = []
        if let credentialsPath, let file = try ProfileFile.load(path: credentialsPath, kind: .credentials) {
            files.append(file)
        }
        if let configPath, let file = try ProfileFile.load(path: configPath, kind: .config) {
            files.append(file)
        }
        return files
    }

    /// Both paths, for messages.
    var pathsDescription: String {
        "\(credentialsPath ?? "(no credentials file: HOME unset)") or \(configPath ?? "(no config file: HOME unset)")"
    }

    private static func path(_ configured: String?, home: String?, defaultName: String) -> String? {
        if let configured {
            guard configured == "~" || configured.hasPrefix("~/"), let home else { return configured }
            return home + configured.dropFirst()
        }
        return home.map { "\($0)/.aws/\(defaultName)" }
    }
}
