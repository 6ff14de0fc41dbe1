import Glibc
import JSON
import Logging
@testable import Relay
import Synchronization
import Testing

@Suite("JSON log lines")
struct JSONLogHandlerTests {
    final class Lines: Sendable {
        let lines = Mutex<[[UInt8]]>([])
        func append(_ bytes: [UInt8]) { lines.withLock { $0.append(bytes) } }
        var all: [[UInt8]] { lines.withLock { $0 } }
    }

    @Test("one object per line: timestamp, level, message, logger, then flat dotted metadata")
    func fields() throws {
        let lines = Lines()
        var handler = JSONLogHandler(label: "sagemaker-callback", output: { lines.append($0) })
        handler.logLevel = .debug
        handler[metadataKey: "sqs.queue"] = "events"
        let logger = Logger(label: "sagemaker-callback") { _ in handler }
        logger.info(
            "callback.delivered",
            metadata: [
                "token.hash": "abc123", "job.name": "a \"quoted\"\nname", "level": "shadowed", "nested": ["x": "1"],
            ])
        let written = lines.all
        try #require(written.count == 1)
        #expect(written[0].last == UInt8(ascii: "\n"))
        #expect(!written[0].dropLast().contains(UInt8(ascii: "\n")), "a newline in a value is escaped")
        let object = try JSONValue.parse(Array(written[0].dropLast()))
        #expect(object["level"]?.stringValue == "info")
        #expect(object["message"]?.stringValue == "callback.delivered")
        #expect(object["logger"]?.stringValue == "sagemaker-callback")
        #expect(object["sqs.queue"]?.stringValue == "events")
        #expect(object["token.hash"]?.stringValue == "abc123")
        #expect(object["job.name"]?.stringValue == "a \"quoted\"\nname")
        #expect(object["metadata.level"]?.stringValue == "shadowed")
        #expect(object["nested"]?["x"]?.stringValue == "1")
        let timestamp = try #require(object["timestamp"]?.stringValue)
        #expect(timestamp.utf8.count == 24 && timestamp.hasSuffix("Z") && timestamp.contains("T"), "\(timestamp)")
    }

    @Test(
        "RFC 3339 with milliseconds, UTC",
        arguments: [
            (Int(0), Int(0), "1970-01-01T00:00:00.000Z"),
            (1_764_781_466, 123_999_999, "2025-12-03T17:04:26.123Z"),
            (951_782_400, 5_000_000, "2000-02-29T00:00:00.005Z"),
        ])
    func timestamp(seconds: Int, nanoseconds: Int, expected: String) {
        #expect(JSONLogHandler.timestamp(timespec(tv_sec: seconds, tv_nsec: nanoseconds)) == expected)
    }

    @Test("what a json line costs beside a text line (printed; recorded in the README)")
    func cost() {
        let event = LogEvent(
            level: .info, message: "callback.delivered",
            metadata: [
                "outbox.action": "success", "token.hash": "0123456789ab", "outcome": "delivered: success",
                "job.name": "training-job-000123", "outbox.age_ms": "12",
            ], source: "Relay", file: #fileID, function: #function, line: #line)
        let rounds = 20_000
        var bytes = 0
        let clock = ContinuousClock()
        let json = clock.measure {
            for _ in 0..<rounds {
                bytes &+=
                    JSONLogHandler.line(
                        event, label: "sagemaker-callback", handlerMetadata: ["sqs.queue": "events"], provided: nil, now: JSONLogHandler.now()
                    ).count
            }
        }
        #expect(bytes > rounds * 100)
        print("json log line: \(json / rounds) each over \(rounds) lines of \(bytes / rounds) bytes (formatting only, no write)")
    }
}
