/// Why a document is not valid JSON, and where.
///
/// The description names only the byte offset and a fixed reason, never any of the input, so it
/// is safe to log for a message body that may hold a task token. Reasons: `empty input`,
/// `unexpected byte order mark`, `unexpected character`, `unexpected end of input`,
/// `unterminated string`, `invalid escape`, `control character in string`, `invalid UTF-8`,
/// `invalid number`, `nesting too deep`, `trailing characters`.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Byte offset of the problem in the input (for an unterminated string, of its opening quote;
    /// for an invalid escape, of its backslash; at the end of the input, the input's length).
    public var offset: Int
    /// A short fixed phrase saying what is wrong.
    public var reason: String

    /// An error at `offset` for `reason`.
    public init(offset: Int, reason: String) {
        self.offset = offset
        self.reason = reason
    }

    /// `invalid JSON at byte N: reason`.
    public var description: String {
        "invalid JSON at byte \(offset): \(reason)"
    }
}

extension JSONParseError {
    static let emptyInput = "empty input"
    static let byteOrderMark = "unexpected byte order mark"
    static let unexpectedCharacter = "unexpected character"
    static let unexpectedEnd = "unexpected end of input"
    static let unterminatedString = "unterminated string"
    static let invalidEscape = "invalid escape"
    static let controlCharacter = "control character in string"
    static let invalidUTF8 = "invalid UTF-8"
    static let invalidNumber = "invalid number"
    static let nestingTooDeep = "nesting too deep"
    static let trailingCharacters = "trailing characters"
}
