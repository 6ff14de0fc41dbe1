import CallbackStore
import JSON
import Relay
import Store
import TestSupport
import Testing

/// A rejected message is kept for `list --json`: whatever queue it came from, no task token in it
/// survives whole. Each kind of body gets its tokens replaced by `<token SHORT-HASH>`.
@Suite("Task tokens in rejected bodies", .timeLimit(.minutes(1)))
struct TokenMaskingTests {
    /// The recorded registration's token (a real Step Functions token's shape: 800 characters).
    static func recordedToken() throws -> String {
        try #require(try JSONValue.parse(RecordedFile.text("registration-wait.json"))["TaskToken"]?.stringValue)
    }

    static func rejectedBodies(after messages: [IncomingMessage], role: MessageRole, source: String) async throws -> [String] {
        let temporary = try TemporaryStore()
        let intake = MessageIntake(store: temporary.store)
        _ = try await intake.process(messages, role: role, source: source)
        return try await temporary.store.read { try $0.listRejected(limit: 100) }.map(\.body)
    }

    @Test("a registration sent to the events queue is kept with its token masked, and still names its job")
    func registrationOnTheEventsQueue() async throws {
        let token = try Self.recordedToken()
        let body = try RecordedFile.text("registration-wait.json")
        let bodies = try await Self.rejectedBodies(after: [IncomingMessage(messageID: "m-1", body: body)], role: .events, source: "events")
        let kept = try #require(bodies.first)
        #expect(bodies.count == 1)
        #expect(!kept.contains(token) && !kept.contains(String(token.prefix(40))))
        #expect(kept.contains("<token \(TaskTokens.short(TaskTokens.hash(token)))>"))
        #expect(kept.contains("churn-features-2024-05-19-09-02-11-604"))
    }

    @Test("a registration wrapped in an SNS envelope on the events queue: the token inside Message is masked, escaped slashes too")
    func snsWrappedRegistration() async throws {
        let token = try Self.recordedToken()
        let inner = JSONValue.object(["TaskToken": .string(token), "ProcessingJobName": "job-1"]).serialized()
        // An SNS publisher that escapes `/` as `\/`, as some JSON serializers do.
        let envelope = JSONValue.object(["Type": "Notification", "MessageId": "n-1", "Message": .string(inner)]).serialized()
            .replacing("/", with: "\\/")
        #expect(envelope.contains("\\/"))
        let bodies = try await Self.rejectedBodies(after: [IncomingMessage(messageID: "m-2", body: envelope)], role: .events, source: "events")
        let kept = try #require(bodies.first)
        #expect(!kept.contains(token) && !kept.contains(token.replacing("/", with: "\\/")))
        #expect(!kept.contains(String(token.prefix(20))))
        #expect(kept.contains("job-1"))
    }

    @Test("a body that is not JSON: a long run of token characters is masked; short words are kept")
    func notJSON() async throws {
        let token = try Self.recordedToken()
        let body = "TaskToken=\(token) ProcessingJobName=job-2 {broken"
        let bodies = try await Self.rejectedBodies(after: [IncomingMessage(messageID: "m-3", body: body)], role: .events, source: "events")
        let kept = try #require(bodies.first)
        #expect(!kept.contains(token) && !kept.contains(String(token.prefix(40))))
        #expect(kept.hasPrefix("TaskToken=<token ") && kept.hasSuffix(" ProcessingJobName=job-2 {broken"))
    }

    @Test("an invalid registration on the requests queue: its token, and a second one under another casing, are masked")
    func invalidRegistration() async throws {
        let bodies = try await Self.rejectedBodies(
            after: [IncomingMessage(messageID: "m-4", body: #"{"TaskToken":"tok-short-1","Nothing":{"taskToken":"tok-short-2"}}"#)],
            role: .requests, source: "requests"
        )
        let kept = try #require(bodies.first)
        #expect(!kept.contains("tok-short-1") && !kept.contains("tok-short-2"))
        #expect(kept.contains("\"Nothing\""))
    }

    @Test("a body without tokens is kept exactly: every recorded event", arguments: RecordedFile.all.filter { !$0.hasPrefix("registration-") })
    func untouched(_ name: String) throws {
        let body = try RecordedFile.text(name)
        #expect(TaskTokens.masked(body) == body)
    }

    @Test("masking is idempotent, and a token that contains another is replaced whole")
    func idempotent() {
        let long = String(repeating: "A", count: 30)
        let body = #"{"TaskToken":"\#(long)B","x":{"TaskToken":"\#(long)"}}"#
        let once = TaskTokens.masked(body)
        #expect(!once.contains(long))
        #expect(TaskTokens.masked(once) == once)
    }
}
