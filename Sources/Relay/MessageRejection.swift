/// Why a message cannot be used. The reason is safe to log: it names fields, never their values
/// (a task token, a body).
public struct MessageRejection: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}
