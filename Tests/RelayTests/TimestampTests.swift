import JSON
import Relay
import Testing

@Suite("Timestamps in every form SageMaker sends")
struct TimestampTests {
    @Test(
        "forms",
        arguments: [
            (JSONValue.number("1589879479000"), Int64(1_589_879_479_000)),
            (.string("1589879479000"), 1_589_879_479_000),
            (.number("1589879479.123"), 1_589_879_479_123),
            (.string("1589879479.5"), 1_589_879_479_500),
            (.number("1589879479"), 1_589_879_479_000),
            (.string("2020-05-19T09:11:19Z"), 1_589_879_479_000),
            (.string("2020-05-19T09:11:19.123Z"), 1_589_879_479_123),
            (.string("2020-05-19T11:11:19+02:00"), 1_589_879_479_000),
            (.string("2020-05-19 09:11:19.1Z"), 1_589_879_479_100),
            (.string("2020-05-19T09:11:19"), 1_589_879_479_000),
        ])
    func forms(value: JSONValue, expected: Int64) {
        #expect(Timestamp.milliseconds(value) == expected)
    }

    @Test(
        "what is not a timestamp",
        arguments: [
            JSONValue.string("yesterday"), .string("2020-13-01T00:00:00Z"), .string("2020-05-19T09:11:19Q"),
            .bool(true), .null, .string(""), .number("-5"), .string("1e400"),
        ])
    func notTimestamps(value: JSONValue) {
        #expect(Timestamp.milliseconds(value) == nil)
    }
}
