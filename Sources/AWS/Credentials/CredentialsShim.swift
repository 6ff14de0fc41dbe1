import Foundation

// Temporary until the SigV4 module lands; the lead deletes this file at merge and imports SigV4.
public struct Credentials: Sendable, Equatable {
    public var accessKeyID: String; public var secretAccessKey: String; public var sessionToken: String?; public var expiration: Date?
    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil, expiration: Date? = nil) { self.accessKeyID = accessKeyID; self.secretAccessKey = secretAccessKey; self.sessionToken = sessionToken; self.expiration = expiration }
}
