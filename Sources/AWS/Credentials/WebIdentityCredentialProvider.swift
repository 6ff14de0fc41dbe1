#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif
public import HTTP
public import Logging
public import SigV4

/// Credentials for an IAM role, exchanged for the web identity (OIDC) token in a file: what EKS
/// (IRSA, Pod Identity webhooks) and other OIDC setups give a workload.
///
/// Reads `AWS_WEB_IDENTITY_TOKEN_FILE`, `AWS_ROLE_ARN` and optionally `AWS_ROLE_SESSION_NAME`
/// (default `sagemaker-callback-<epoch seconds>`). The token file is read on every fetch because
/// the platform rotates it. Nothing to offer when neither variable is set; an error when only one
/// is, or when the file cannot be read or is empty. The token never appears in an error or log.
public struct WebIdentityCredentialProvider: CredentialProvider {
    /// The token file's path, from `AWS_WEB_IDENTITY_TOKEN_FILE`.
    public let tokenFile: String?
    /// The role to assume, from `AWS_ROLE_ARN`.
    public let roleArn: String?
    private let sessionName: String?
    private let environment: Environment
    private let http: any HTTPClient
    private let clock: @Sendable () -> Date
    private let logger: Logger?

    /// A provider reading `environment`, calling STS over `http` (its retries logged to `logger`);
    /// `clock` names default sessions.
    public init(environment: Environment, http: any HTTPClient, clock: @escaping @Sendable () -> Date = { Date() }, logger: Logger? = nil) {
        self.tokenFile = environment["AWS_WEB_IDENTITY_TOKEN_FILE"]
        self.roleArn = environment["AWS_ROLE_ARN"]
        self.sessionName = environment["AWS_ROLE_SESSION_NAME"]
        self.environment = environment
        self.http = http
        self.clock = clock
        self.logger = logger
    }

    public var name: String { "web-identity" }

    public var notFoundReason: String { "AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN are not set" }

    public func credentials() async throws -> Credentials? {
        let (tokenFile, roleArn): (String, String)
        switch (self.tokenFile, self.roleArn) {
        case (nil, nil):
            return nil
        case let (file?, role?):
            (tokenFile, roleArn) = (file, role)
        case (_?, nil):
            throw CredentialProviderError(code: .incompleteCredentials, message: "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not")
        case (nil, _?):
            throw CredentialProviderError(code: .incompleteCredentials, message: "AWS_ROLE_ARN is set but AWS_WEB_IDENTITY_TOKEN_FILE is not")
        }
        let token = try Self.readToken(tokenFile)
        let sts = try STSClient.forCredentials(http: http, environment: environment, profile: nil, logger: logger)
        return try await sts.assumeRoleWithWebIdentity(
            roleArn: roleArn,
            sessionName: sessionName ?? STSClient.defaultSessionName(at: clock()),
            webIdentityToken: token
        )
    }

    /// The token in `path`, without the trailing newline an editor or `echo` may have added.
    static func readToken(_ path: String) throws(CredentialProviderError) -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CredentialProviderError(
                code: .unreadableFile, message: "cannot read the web identity token file \(path) (AWS_WEB_IDENTITY_TOKEN_FILE)")
        }
        let token = String(decoding: data, as: UTF8.self).trimmingWhitespace()
        guard !token.isEmpty else {
            throw CredentialProviderError(
                code: .unreadableFile, message: "the web identity token file \(path) (AWS_WEB_IDENTITY_TOKEN_FILE) is empty")
        }
        return token
    }
}
