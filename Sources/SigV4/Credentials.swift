#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// AWS credentials: an access key pair and, for temporary credentials, a session token.
///
/// `description` is safe to log: it shows only the last four characters of the access key ID and
/// never the secret or the token.
public struct Credentials: Sendable, Equatable, CustomStringConvertible {
    /// The access key ID (`AKIA…` for long-term keys, `ASIA…` for temporary ones).
    public var accessKeyID: String
    /// The secret access key. Never logged.
    public var secretAccessKey: String
    /// The session token of temporary credentials. Never logged.
    public var sessionToken: String?
    /// When temporary credentials stop working; `nil` means they do not expire.
    public var expiration: Date?

    /// Credentials from their parts; `expiration` is `nil` for keys that do not expire.
    public init(
        accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil,
        expiration: Date? = nil
    ) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.expiration = expiration
    }

    /// A redacted rendering, e.g.
    /// `Credentials(accessKeyID: ****MPLE, secretAccessKey: <redacted>, sessionToken: <redacted>, expiration: 2015-08-30T13:36:00Z)`.
    public var description: String {
        let token = sessionToken == nil ? "none" : "<redacted>"
        let expires = expiration.map { String(decoding: AmzDate($0).iso8601, as: UTF8.self) } ?? "never"
        return "Credentials(accessKeyID: \(redactedAccessKeyID), secretAccessKey: <redacted>, "
            + "sessionToken: \(token), expiration: \(expires))"
    }

    /// The access key ID reduced to its last four characters, enough to tell keys apart.
    var redactedAccessKeyID: String {
        accessKeyID.count > 8 ? "****" + accessKeyID.suffix(4) : "****"
    }
}

extension Credentials: CustomDebugStringConvertible, CustomReflectable {
    /// The same redacted rendering as `description`, so `String(reflecting:)` and `debugPrint`
    /// cannot reveal the secret either.
    public var debugDescription: String { description }

    /// A mirror without the secret or the token, so `dump` and reflection-based loggers cannot
    /// reveal them.
    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "accessKeyID": redactedAccessKeyID, "secretAccessKey": "<redacted>",
                "sessionToken": sessionToken == nil ? "none" : "<redacted>",
                "expiration": expiration as Any,
            ], displayStyle: .struct)
    }
}
