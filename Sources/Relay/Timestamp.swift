import JSON

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

    /// `YYYY-MM-DDTHH:MM:SS[.fff][Z|±HH:MM]`, also with a space instead of `T`.
    static func iso8601(_ text: String) -> Int64? {
        let bytes = Array(text.utf8)
        func number(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[from..<(from + count)] {
                guard (0x30...0x39).contains(byte) else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            return value
        }
        guard bytes.count >= 19,
              let year = number(0, 4), bytes[4] == UInt8(ascii: "-"),
              let month = number(5, 2), bytes[7] == UInt8(ascii: "-"),
              let day = number(8, 2), bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: " "),
              let hour = number(11, 2), bytes[13] == UInt8(ascii: ":"),
              let minute = number(14, 2), bytes[16] == UInt8(ascii: ":"),
              let second = number(17, 2),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var index = 19
        var millis = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            var scale = 100
            let start = index
            while index < bytes.count, (0x30...0x39).contains(bytes[index]) {
                millis += Int(bytes[index] - 0x30) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { return nil }
        }
        var offsetSeconds = 0
        if index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "Z"), UInt8(ascii: "z"):
                index += 1
            case UInt8(ascii: "+"), UInt8(ascii: "-"):
                let sign = bytes[index] == UInt8(ascii: "-") ? -1 : 1
                guard let hours = number(index + 1, 2) else { return nil }
                var minutesAt = index + 3
                if minutesAt < bytes.count, bytes[minutesAt] == UInt8(ascii: ":") { minutesAt += 1 }
                guard let minutes = number(minutesAt, 2) else { return nil }
                offsetSeconds = sign * (hours * 3600 + minutes * 60)
                index = minutesAt + 2
            default:
                return nil
            }
        }
        guard index == bytes.count else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offsetSeconds)
        return seconds * 1000 + Int64(millis)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
