extension StringProtocol {
    /// The text without leading and trailing whitespace or newlines (Unicode White_Space):
    /// Foundation's `trimmingCharacters(in:)`, which FoundationEssentials does not have.
    package func trimmingWhitespace() -> String {
        guard let first = firstIndex(where: { !$0.isWhitespace }), let last = lastIndex(where: { !$0.isWhitespace }) else {
            return ""
        }
        return String(self[first...last])
    }
}
