import AWS
public import JSON

/// Reads the timestamps SageMaker events carry, whatever their form: epoch milliseconds as a number
/// or a digit string, epoch seconds with a fraction, or ISO-8601 text.
public enum Timestamp {
    /// Epoch values above this are milliseconds; below, seconds (1e11 s is the year 5138).
    static let millisecondThreshold = 100_000_000_000.0

    /// Milliseconds since the Unix epoch, or nil when the value is no timestamp we know.
    public static func milliseconds(_ value: JSONValue) -> Int64? {
        switch value {
        case .number(let text): return epoch(text)
        case .string(let text):
            if let millis = epoch(text) { return millis }
            return iso8601(text)
        default: return nil
        }
    }

    /// An epoch number written as text: milliseconds when large, else seconds (fractions allowed).
    static func epoch(_ text: String) -> Int64? {
        guard let first = text.utf8.first, first == UInt8(ascii: "-") || (0x30...0x39).contains(first) else { return nil }
        guard let value = Double(text), value.isFinite, value >= 0 else { return nil }
        let millis = value >= millisecondThreshold ? value : value * 1000
        guard millis < 9.0e15 else { return nil }
        return Int64(millis.rounded())
    }

    /// `YYYY-MM-DDTHH:MM:SS[.fff][Z|±HH:MM]`, also with a space instead of `T` or no zone (UTC).
    static func iso8601(_ text: String) -> Int64? {
        ISO8601Timestamp.secondsSince1970(text, lenient: true).map { Int64(($0 * 1000).rounded()) }
    }
}
