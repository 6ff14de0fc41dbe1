/// A failure of the store itself rather than of SQLite: a database from a newer build, a
/// closed store, or a transaction used where it may not be.
public struct StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong.
    public enum Code: String, Sendable {
        /// The database's schema version is newer than this build knows.
        case schemaTooNew
        /// The database file could not be created or opened.
        case cannotOpen
        /// The store was closed.
        case closed
        /// A transaction was used after its closure returned.
        case transactionEnded
        /// A read transaction tried to change the database.
        case writeInReadTransaction
        /// A stored value is not one this build can read (e.g. an unknown outbox action).
        case corruptRow
        /// A decision read something it had not declared (a programming error).
        case undeclaredRead
        /// A decision kept conflicting with concurrent changes and was given up on (it is retried
        /// with its message).
        case contended
        /// A decision's effects exceed what the engine can write atomically.
        case tooLarge
    }

    /// What went wrong.
    public var code: Code
    /// A sentence for an operator; never holds a task token or a body.
    public var message: String

    /// An error with its code and message.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// One line for logs: the code and the message.
    public var description: String { "store error \(code.rawValue): \(message)" }
}
