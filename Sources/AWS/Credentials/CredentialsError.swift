/// No provider of a ``CredentialChain`` produced credentials.
///
/// Lists every provider tried, in order, with why it failed or had nothing; never a secret.
public struct CredentialsError: Error, Sendable, CustomStringConvertible {
    /// One provider's answer.
    public struct Attempt: Sendable, Equatable {
        /// The provider's name.
        public var provider: String
        /// Why it gave nothing: its `notFoundReason`, or the error it threw.
        public var reason: String

        /// An attempt by `provider` that ended for `reason`.
        public init(provider: String, reason: String) {
            self.provider = provider
            self.reason = reason
        }
    }

    /// Always `NoCredentials`, for matching and logs.
    public var code: String { "NoCredentials" }
    /// Every provider tried, in chain order.
    public var attempts: [Attempt]

    /// An error listing `attempts`.
    public init(attempts: [Attempt]) {
        self.attempts = attempts
    }

    public var description: String {
        let tried = attempts.map { "\($0.provider): \($0.reason)" }.joined(separator: "; ")
        return "no AWS credentials found; tried \(tried.isEmpty ? "no providers" : tried)"
    }
}
