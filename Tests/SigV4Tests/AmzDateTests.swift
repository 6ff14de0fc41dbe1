import Foundation
import Glibc
import Testing

@testable import SigV4

@Suite struct AmzDateTests {
    @Test(
        arguments: [
            (0, "19700101T000000Z"),
            (-1, "19691231T235959Z"),
            (-0.5, "19691231T235959Z"), // whole seconds are floored, not rounded toward zero
            (1_440_938_160.999, "20150830T123600Z"),
            (951_825_600, "20000229T120000Z"), // leap day of a century divisible by 400
            (1_709_251_199, "20240229T235959Z"),
            (4_107_542_399, "21000228T235959Z"), // 2100 is not a leap year
            (4_107_542_400, "21000301T000000Z"),
            (946_684_799, "19991231T235959Z"),
            (2_147_483_648, "20380119T031408Z"), // past the 32-bit time_t limit
            (253_402_300_799, "99991231T235959Z"),
            (-11_670_912_000, "16000301T000000Z"),
            (-62_135_596_800, "00010101T000000Z"),
        ] as [(Double, String)])
    func edgeDates(secondsSince1970: Double, expected: String) {
        let date = AmzDate(Date(timeIntervalSince1970: secondsSince1970))
        #expect(String(decoding: date.dateTime, as: UTF8.self) == expected)
        #expect(String(decoding: date.date, as: UTF8.self) == String(expected.prefix(8)))
    }

    /// Agrees with the C library's `gmtime_r` every 3 days, 1 hour, 1 minute and 1 second from
    /// 1900 to 2200: a stride that walks through every hour, minute, day of month and leap year.
    @Test func agreesWithGmtime() {
        func digits(_ value: Int32, _ count: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, count - text.count)) + text
        }
        var mismatches: [String] = []
        var seconds = -2_208_988_800 // 1900-01-01
        while seconds < 7_258_118_400 { // 2200-01-01
            var time = time_t(seconds)
            var parts = tm()
            gmtime_r(&time, &parts)
            let expected =
                digits(parts.tm_year + 1900, 4) + digits(parts.tm_mon + 1, 2)
                + digits(parts.tm_mday, 2) + "T" + digits(parts.tm_hour, 2) + digits(parts.tm_min, 2)
                + digits(parts.tm_sec, 2) + "Z"
            let actual = String(
                decoding: AmzDate(Date(timeIntervalSince1970: Double(seconds))).dateTime, as: UTF8.self)
            if actual != expected { mismatches.append("\(seconds): \(actual) != \(expected)") }
            seconds += 3 * 86_400 + 3_661
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
    }

    @Test func nonFiniteDatesDoNotTrap() {
        #expect(AmzDate(Date(timeIntervalSince1970: .nan)).dateTime.count == 16)
        #expect(AmzDate(Date(timeIntervalSince1970: .infinity)).dateTime.count == 16)
    }

    @Test func iso8601() {
        let date = AmzDate(Date(timeIntervalSince1970: 1_440_938_160))
        #expect(String(decoding: date.iso8601, as: UTF8.self) == "2015-08-30T12:36:00Z")
    }
}
