/// Where `--database` says the state lives: a SQLite file on this host, or a DynamoDB table
/// that several replicas share.
public enum StoreLocation: Sendable, Equatable, CustomStringConvertible {
    /// A SQLite database file (created if missing).
    case sqlite(path: String)
    /// A DynamoDB table, written `dynamodb://TABLE`.
    case dynamoDB(table: String)

    /// The scheme that names a DynamoDB table.
    public static let dynamoDBScheme = "dynamodb://"

    /// Reads a `--database` value: `dynamodb://TABLE`, else a file path. Throws a sentence
    /// saying what is wrong (an empty value, a malformed table name).
    public init(parsing text: String) throws(StoreLocationError) {
        guard !text.isEmpty else { throw StoreLocationError(message: "is empty") }
        guard text.lowercased().hasPrefix(Self.dynamoDBScheme) else {
            self = .sqlite(path: text)
            return
        }
        let table = String(text.dropFirst(Self.dynamoDBScheme.count))
        // DynamoDB's rule for table names: 3 to 255 of a-z, A-Z, 0-9, '_', '-' and '.'.
        let allowed = table.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
        }
        guard (3...255).contains(table.utf8.count), allowed else {
            throw StoreLocationError(
                message: "'\(text.prefix(300))' names no valid DynamoDB table: 3 to 255 letters, digits, '_', '-' or '.' after dynamodb://"
            )
        }
        self = .dynamoDB(table: table)
    }

    /// As given on the command line: the path, or `dynamodb://TABLE`.
    public var description: String {
        switch self {
        case .sqlite(let path): path
        case .dynamoDB(let table): Self.dynamoDBScheme + table
        }
    }
}

/// A `--database` value that names no usable store.
public struct StoreLocationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong; safe to show.
    public var message: String
    public var description: String { message }
}
