/// Eight bytes tested at once, so that long runs of plain ASCII in strings (ARNs, S3 URIs,
/// escaped message bodies) are skipped a word at a time. Each test answers only "is there any such
/// byte in the word"; the caller then walks the word byte by byte, so byte order does not matter.
enum ByteWord {
    private static let ones: UInt64 = 0x0101_0101_0101_0101
    private static let highBits: UInt64 = 0x8080_8080_8080_8080
    private static let quotes: UInt64 = 0x2222_2222_2222_2222
    private static let backslashes: UInt64 = 0x5C5C_5C5C_5C5C_5C5C
    private static let spaces: UInt64 = 0x2020_2020_2020_2020

    static func load(_ pointer: UnsafePointer<UInt8>) -> UInt64 {
        UnsafeRawPointer(pointer).loadUnaligned(as: UInt64.self)
    }

    /// Whether the word holds a `"`, a `\` or a control character: what a writer must escape.
    static func needsEscape(_ word: UInt64) -> Bool {
        // `(w - 0x20..) & ~w` flags bytes below 0x20 (the classic "has less than" test).
        let control = (word &- spaces) & ~word & highBits
        return (control | zeroBytes(word ^ quotes) | zeroBytes(word ^ backslashes)) != 0
    }

    private static func zeroBytes(_ word: UInt64) -> UInt64 {
        (word &- ones) & ~word & highBits
    }

    /// Whether the word holds anything a parser must look at inside a string: what a writer would
    /// escape, or a byte of a multi-byte UTF-8 sequence (to validate it).
    static func needsAttention(_ word: UInt64) -> Bool {
        (word & highBits) != 0 || needsEscape(word)
    }
}
