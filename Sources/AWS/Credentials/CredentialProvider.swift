public import SigV4

/// Something that can produce AWS credentials: one link of a ``CredentialChain``.
///
/// `name` is logged when the provider answers; a provider never logs or reports a secret.
public protocol CredentialProvider: Sendable {
    /// A short, stable name for logs and errors, such as `environment` or `shared-files`.
    var name: String { get }

    /// Why this provider had nothing to offer, for the chain's error when no provider answers
    /// (for instance which variables or files it looked at). Never contains a secret.
    var notFoundReason: String { get }

    /// The credentials this provider holds: nil when it has nothing to offer (not configured);
    /// throws when it is configured but broken.
    func credentials() async throws -> Credentials?
}

extension CredentialProvider {
    /// The default reason: nothing configured.
    public var notFoundReason: String { "nothing configured" }
}

/// A credential provider that is configured but cannot produce credentials.
///
/// The message names variables, files and profiles, never a key or token.
public struct CredentialProviderError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, stable enough to match on.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// One half of a key pair is set without the other.
        public static let incompleteCredentials = Code(rawValue: "IncompleteCredentials")
        /// A profile that was asked for by name exists in no shared file.
        public static let profileNotFound = Code(rawValue: "ProfileNotFound")
        /// A shared file exists but cannot be read or is not UTF-8.
        public static let unreadableFile = Code(rawValue: "UnreadableFile")
    }

    /// What went wrong.
    public var code: Code
    /// A sentence saying what went wrong and where; safe to log.
    public var message: String

    /// An error with `code` and a log-safe `message`.
    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
