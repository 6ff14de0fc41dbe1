public import SigV4
/// Credentials from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and, optionally,
/// `AWS_SESSION_TOKEN`.
///
/// Nothing to offer when neither key variable is set; an error when only one of them is, because
/// that is a mistake the operator wants to hear about rather than silently fall through.
public struct EnvironmentCredentialProvider: CredentialProvider {
    private let environment: Environment

    /// A provider reading `environment`.
    public init(environment: Environment) {
        self.environment = environment
    }

    public var name: String { "environment" }

    public var notFoundReason: String { "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set" }

    public func credentials() async throws -> Credentials? {
        switch (environment["AWS_ACCESS_KEY_ID"], environment["AWS_SECRET_ACCESS_KEY"]) {
        case (nil, nil):
            return nil
        case let (accessKeyID?, secretAccessKey?):
            return Credentials(
                accessKeyID: accessKeyID,
                secretAccessKey: secretAccessKey,
                sessionToken: environment["AWS_SESSION_TOKEN"]
            )
        case (_?, nil):
            throw Self.incomplete(set: "AWS_ACCESS_KEY_ID", missing: "AWS_SECRET_ACCESS_KEY")
        case (nil, _?):
            throw Self.incomplete(set: "AWS_SECRET_ACCESS_KEY", missing: "AWS_ACCESS_KEY_ID")
        }
    }

    private static func incomplete(set: String, missing: String) -> CredentialProviderError {
        CredentialProviderError(code: .incompleteCredentials, message: "\(set) is set but \(missing) is not")
    }
}
