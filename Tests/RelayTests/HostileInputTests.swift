import Foundation
import JSON
import Relay
import CallbackStore
import Store
import TestSupport
import Testing

/// Input built to hurt, through the engine and the real store exactly as `serve` takes a batch:
/// each bad message gets a rejection recorded (reason safe to show, body bounded), and the good
/// message after it in the same batch is still handled, so the queue keeps draining.
@Suite("Hostile input", .timeLimit(.minutes(2)))
struct HostileInputTests {
    /// A good message of each role, put after the hostile one in its batch.
    static let goodEvent = IntakeTests.event("after-hostile", "Completed")
    static let goodRegistration = IntakeTests.registration("after-hostile-token", job: "after-hostile-job")

    /// Runs `[hostile, good]` through intake; returns the hostile message's decision and the rows
    /// the store recorded as rejected.
    static func process(_ hostile: String, role: MessageRole) async throws -> (Decision, [RejectedMessage], TemporaryStore) {
        let temporary = try TemporaryStore()
        let intake = MessageIntake(store: temporary.store)
        let good = role == .events ? goodEvent : goodRegistration
        let decisions = try await intake.process([IncomingMessage(messageID: "hostile", body: hostile), good], role: role, source: role.rawValue)
        #expect(decisions.count == 2)
        // The good message after it is handled as if the hostile one were not there.
        #expect(decisions.last?.verdict == (role == .events ? .keptEarly(.completed) : .registered))
        let rejected = try await temporary.store.read { try $0.listRejected(limit: 10) }
        return (decisions[0], rejected, temporary)
    }

    /// Expects one rejection, of the hostile message, whose reason contains `reason`, with its
    /// body cut to the store's bound.
    static func expectRejected(_ hostile: String, role: MessageRole, reason: String) async throws {
        let (decision, rejected, _) = try await process(hostile, role: role)
        #expect(decision.verdict.isRejection, "\(decision.verdict)")
        #expect(rejected.count == 1)
        let row = try #require(rejected.first)
        #expect(row.messageID == "hostile")
        #expect(row.reason.contains(reason), "reason: \(row.reason)")
        #expect(row.body.utf8.count <= StoreOptions().rejectedBodyLimit)
        #expect(!row.body.contains(token), "the whole token is kept")
    }

    /// A token as long as Step Functions' own, so that its redaction in a kept body is visible.
    static let token = "AQCEAAAAKgAAAAMAAAAAAAAAAcRq8Yw3bJ0p5N1mQ7kXzT2vLhE9sWfU4iDoGyBcVaPn"

    static func nested(_ depth: Int, open: String = "[", close: String = "]", inner: String = "1") -> String {
        String(repeating: open, count: depth) + inner + String(repeating: close, count: depth)
    }

    @Test("100,000-deep nesting is rejected as too deep, on both queues, without using up the stack")
    func deepNesting() async throws {
        try await Self.expectRejected(Self.nested(100_000), role: .events, reason: "nesting too deep")
        try await Self.expectRejected(Self.nested(100_000, open: #"{"a":"#, close: "}"), role: .events, reason: "nesting too deep")
        try await Self.expectRejected(
            #"{"TaskToken":"\#(Self.token)","ProcessingJobName":"j","X":"# + Self.nested(100_000) + "}", role: .requests, reason: "not JSON")
    }

    @Test("an SNS envelope whose Message nests 100,000 deep is rejected")
    func deepNestingInsideAnEnvelope() async throws {
        let inner = Self.nested(100_000).replacingOccurrences(of: "1", with: "0")
        let envelope = JSONValue.object(["Type": "Notification", "Message": .string(inner)]).serialized()
        try await Self.expectRejected(envelope, role: .events, reason: "nesting too deep")
    }

    @Test("a body at SQS's 256 KiB limit: an event is used (its output bounded), junk is rejected with its body cut")
    func bodyAtTheSizeLimit() async throws {
        let limit = 262_144
        let prefix =
            #"{"detail-type":"SageMaker Processing Job State Change","source":"aws.sagemaker","detail":{"ProcessingJobName":"big-job","ProcessingJobStatus":"Completed","Padding":""#
        let suffix = #""}}"#
        let event = prefix + String(repeating: "x", count: limit - prefix.utf8.count - suffix.utf8.count) + suffix
        #expect(event.utf8.count == limit)
        let temporary = try TemporaryStore()
        let intake = MessageIntake(store: temporary.store)
        _ = try await intake.process([IntakeTests.registration("big-token", job: "big-job")], role: .requests, source: "requests")
        let decisions = try await intake.process([IncomingMessage(messageID: "big", body: event), Self.goodEvent], role: .events, source: "events")
        #expect(decisions.map(\.verdict) == [.completed(.completed, callbacks: 1), .keptEarly(.completed)])
        let output = try #require(try await temporary.store.read { try $0.listOutbox(limit: 10) }.first?.payload)
        #expect(output.utf8.count <= 262_144)
        #expect((try? JSONValue.parse(output)) != nil)

        let junk = String(repeating: "\u{7F}junk", count: limit / 5)
        try await Self.expectRejected(junk, role: .events, reason: "JSON")
        try await Self.expectRejected(junk, role: .requests, reason: "not JSON")
    }

    @Test(
        "invalid UTF-8 is rejected by every decoder, naming it",
        arguments: [
            [0xFF], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82],
        ] as [[UInt8]])
    func invalidUTF8(_ bad: [UInt8]) throws {
        let event =
            Array(#"{"detail-type":"SageMaker Processing Job State Change","detail":{"ProcessingJobName":""#.utf8) + bad
            + Array(#"","ProcessingJobStatus":"Completed"}}"#.utf8)
        let error = #expect(throws: MessageRejection.self) { try EventMessage.parse(event) }
        #expect(error?.reason.contains("invalid UTF-8") == true, "\(String(describing: error))")
        let registration = Array(#"{"TaskToken":""#.utf8) + bad + Array(#"","ProcessingJobName":"j"}"#.utf8)
        #expect(RegistrationMessage.parse(registration) == .invalid(taskToken: nil, reason: "not JSON"))
    }

    @Test("bytes that are not UTF-8, as SQS hands them over (replaced), are rejected and recorded")
    func replacedInvalidUTF8() async throws {
        let body = String(
            decoding: Array(#"{"TaskToken":"\#(Self.token)","ProcessingJobName":"job-"#.utf8) + [0xFF, 0xFE] + Array(#""}"#.utf8), as: UTF8.self)
        try await Self.expectRejected(body, role: .requests, reason: "not a valid SageMaker job name")
    }

    @Test("NUL bytes: raw in the text, escaped in a job name, escaped in a token")
    func nulBytes() async throws {
        try await Self.expectRejected("{\"TaskToken\":\"\(Self.token)\u{0}\",\"ProcessingJobName\":\"j\"}", role: .requests, reason: "not JSON")
        try await Self.expectRejected(
            #"{"TaskToken":"\#(Self.token)","ProcessingJobName":"job\u0000name"}"#, role: .requests, reason: "not a valid SageMaker job name")
        try await Self.expectRejected(
            #"{"detail-type":"SageMaker Processing Job State Change","detail":{"ProcessingJobName":"a\u0000b","ProcessingJobStatus":"Completed"}}"#,
            role: .events, reason: "ProcessingJobName")
        try await Self.expectRejected("\u{0}", role: .events, reason: "JSON")
        // A token is opaque: NUL inside it is the workflow's business, and the task is told at once.
        let (decision, rejected, _) = try await Self.process(#"{"TaskToken":"t\u0000k","ProcessingJobName":"bad_name"}"#, role: .requests)
        guard case .rejectedAndFailed = decision.verdict else {
            Issue.record("a registration with a readable token fails its task: \(decision.verdict)")
            return
        }
        #expect(rejected.count == 1)
    }

    @Test(
        "numbers out of range: a timestamp that does not fit is dropped, a Heartbeat rejected, nothing traps",
        arguments: [
            "1e400", "-1e400", "123456789012345678901234567890", "-9223372036854775809", "1e-400", "9223372036854775807",
        ])
    func numbersOutOfRange(_ number: String) async throws {
        let event =
            #"{"detail-type":"SageMaker Processing Job State Change","time":\#(number),"detail":{"ProcessingJobName":"after-hostile","ProcessingJobStatus":"Failed","LastModifiedTime":\#(number),"ProcessingEndTime":\#(number)}}"#
        let temporary = try TemporaryStore()
        let intake = MessageIntake(store: temporary.store)
        let decisions = try await intake.process([IncomingMessage(messageID: "n", body: event), Self.goodEvent], role: .events, source: "events")
        #expect(decisions.count == 2)
        // A timestamp that does not fit is no reason to lose the event: it is used without one.
        #expect(decisions[0].verdict == .keptEarly(.failed), "\(decisions[0].verdict)")
        #expect(try await temporary.store.read { try $0.listRejected(limit: 10) }.isEmpty)

        let registration = #"{"TaskToken":"\#(Self.token)","ProcessingJobName":"j","Heartbeat":\#(number)}"#
        try await Self.expectRejected(registration, role: .requests, reason: "Heartbeat is not true or false")
    }

    @Test("a registration whose token is 1 MiB is rejected without keeping or naming the token")
    func oneMebibyteToken() async throws {
        let token = String(repeating: "A", count: 1 << 20)
        let body = #"{"TaskToken":"\#(token)","ProcessingJobName":"job-1"}"#
        try await Self.expectRejected(body, role: .requests, reason: "TaskToken longer than 2048 characters")
        let (decision, rejected, temporary) = try await Self.process(body, role: .requests)
        // Step Functions would refuse a token this long: there is no task to fail.
        #expect(decision.verdict == .rejected("TaskToken longer than 2048 characters"))
        #expect(!rejected[0].reason.contains("AAAA"))
        let kept = rejected[0].body
        #expect(kept == #"{"TaskToken":"<token \#(TaskTokens.short(TaskTokens.hash(token)))>","ProcessingJobName":"job-1"}"#)
        #expect(try await temporary.store.read { try $0.listOutbox(limit: 10) }.isEmpty)
        // The longest token Step Functions issues is accepted.
        let longest = IncomingMessage(messageID: "l", body: #"{"TaskToken":"\#(String(repeating: "B", count: 2048))","ProcessingJobName":"job-2"}"#)
        #expect(
            try await MessageIntake(store: temporary.store).process([longest], role: .requests, source: "requests").map(\.verdict) == [.registered])
    }

    @Test("10,000 registrations for one job, in SQS-sized batches, are all completed by one event; 10,000 copies of the event change nothing more")
    func tenThousandMessagesForOneJob() async throws {
        let temporary = try TemporaryStore()
        let intake = MessageIntake(store: temporary.store)
        let count = 10_000
        for batch in stride(from: 0, to: count, by: 10) {
            let messages = (batch..<batch + 10).map { IntakeTests.registration("same-\($0)", job: "same-job") }
            let verdicts = try await intake.process(messages, role: .requests, source: "requests").map(\.verdict)
            #expect(verdicts == Array(repeating: .registered, count: 10))
        }
        #expect(try await temporary.store.read { try $0.counts().pending } == count)
        let event = IntakeTests.event("same-job", "Completed")
        let first = try await intake.process([event] + Array(repeating: event, count: 9), role: .events, source: "events")
        #expect(first.first?.verdict == .completed(.completed, callbacks: count))
        #expect(first.dropFirst().allSatisfy { $0.verdict == .duplicateEvent(.completed) })
        for _ in 1..<(count / 10) {
            let verdicts = try await intake.process(Array(repeating: event, count: 10), role: .events, source: "events").map(\.verdict)
            #expect(verdicts == Array(repeating: .duplicateEvent(.completed), count: 10))
        }
        let counts = try await temporary.store.read { try $0.counts() }
        #expect(counts.pending == 0)
        #expect(counts.outbox == count)
        #expect(counts.rejected == 0)
    }
}
