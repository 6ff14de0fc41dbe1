#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A signing time in the two forms SigV4 uses: `yyyyMMdd'T'HHmmss'Z'` (X-Amz-Date) and `yyyyMMdd`
/// (credential scope), always in UTC, computed by civil-calendar arithmetic rather than a
/// formatter because it runs once per signed request.
struct AmzDate: Sendable, Equatable {
    /// `yyyyMMdd'T'HHmmss'Z'`, 16 ASCII bytes.
    let dateTime: [UInt8]

    /// `yyyyMMdd`, the first 8 bytes of `dateTime`.
    var date: ArraySlice<UInt8> { dateTime[0..<8] }

    /// `yyyy-MM-dd'T'HH:mm:ss'Z'`, for humans (not used in signing).
    var iso8601: [UInt8] {
        var text: [UInt8] = []
        text.reserveCapacity(20)
        for (index, byte) in dateTime.enumerated() {
            switch index {
            case 4, 6: text.append(UInt8(ascii: "-"))
            case 11, 13: text.append(UInt8(ascii: ":"))
            default: break
            }
            text.append(byte)
        }
        return text
    }

    init(_ date: Date) {
        // Signatures carry whole seconds; flooring keeps instants before 1970 on the right day.
        let interval = date.timeIntervalSince1970
        // Clamping keeps absurd dates (NaN, ±infinity) from trapping in the conversion.
        let seconds = interval.isFinite ? Int64(min(max(interval, -1e15), 1e15).rounded(.down)) : 0
        let days = seconds.floorDivided(by: 86_400)
        let secondOfDay = seconds - days * 86_400
        let (year, month, day) = Self.civil(fromDays: days)
        var text = [UInt8]()
        text.reserveCapacity(16)
        Self.append(year, digits: 4, to: &text)
        Self.append(month, digits: 2, to: &text)
        Self.append(day, digits: 2, to: &text)
        text.append(UInt8(ascii: "T"))
        Self.append(secondOfDay / 3600, digits: 2, to: &text)
        Self.append(secondOfDay % 3600 / 60, digits: 2, to: &text)
        Self.append(secondOfDay % 60, digits: 2, to: &text)
        text.append(UInt8(ascii: "Z"))
        dateTime = text
    }

    /// Year, month and day of the proleptic Gregorian calendar for a count of days since
    /// 1970-01-01 (Howard Hinnant's `civil_from_days`).
    static func civil(fromDays days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let shifted = days + 719_468
        let era = shifted.floorDivided(by: 146_097)
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }

    private static func append(_ value: Int64, digits: Int, to text: inout [UInt8]) {
        // Years outside 0...9999 do not fit four digits: they keep their low digits rather than
        // trap, and no credential is valid that far from now anyway.
        var remaining = value.magnitude
        let start = text.count
        text.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: digits))
        for index in stride(from: start + digits - 1, through: start, by: -1) {
            text[index] = UInt8(ascii: "0") + UInt8(remaining % 10)
            remaining /= 10
        }
    }
}

extension Int64 {
    /// Division rounding toward negative infinity, so dates before the epoch land on the right day.
    fileprivate func floorDivided(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}
