import AWS
import BenchSupport
import FakeAWS
import Foundation
import JSON
import Testing

/// Input built to hurt, sent through real queues (the fast fake, which refuses what SQS refuses)
/// to the real `serve` on SQLite: every hostile message that SQS lets through gets a rejection
/// recorded in the store (`list --json` shows its reason, its body bounded and its token masked),
/// or is used where it is a valid message after all; none stops either queue from draining. The
/// test ends with both queues empty and a normal job, sent after the hostile ones, completed.
@Suite("Hostile input through serve", .timeLimit(.minutes(5)))
struct HostileServeTests {
    /// What a hostile message gets.
    enum Expected: Equatable {
        /// Recorded as rejected, its reason containing this; nothing sent to Step Functions.
        case rejected(String)
        /// Recorded as rejected, and its (readable) token's task failed at once
        /// (`SageMakerCallback.InvalidRegistration`).
        case rejectedAndFailed(String)
        /// A valid message after all: used, and its job's callback completed.
        case used
        /// SQS itself refuses to take it (the error code it answers): it never reaches serve.
        case refusedBySQS(String)
    }

    struct Case {
        var name: String
        var queue: Queue
        var body: String
        var expected: Expected
        /// The token the case's outcome goes to, if any.
        var token: String?
    }

    enum Queue { case requests, events }

    static var eventsDirectory: String { FaultTests.eventsDirectory }

    /// A ~1 KB token of the bench's shape: long enough that a whole one in a listing is visible.
    static func token(_ rig: FakeRig, _ n: Int) -> String { rig.catalog.token(50_000 + n) }

    static func processingEvent(_ job: String, status: String = "Completed", time: String = #""2024-05-19T10:00:00Z""#, padding: Int = 0) -> String {
        let padded = padding > 0 ? #","Padding":""# + String(repeating: "x", count: padding) + #"""# : ""
        return
            #"{"version":"0","id":"hostile-\#(job)","detail-type":"SageMaker Processing Job State Change","source":"aws.sagemaker","account":"123456789012","time":\#(time),"region":"us-east-1","resources":[],"detail":{"ProcessingJobName":"\#(job)","ProcessingJobStatus":"\#(status)","LastModifiedTime":\#(time)\#(padded)}}"#
    }

    static func nested(_ depth: Int, open: String = "[", close: String = "]") -> String {
        String(repeating: open, count: depth) + "0" + String(repeating: close, count: depth)
    }

    /// The hostile registrations, and the registrations the hostile events are about.
    static func registrations(_ rig: FakeRig) -> [Case] {
        let limit = 262_144
        let mebibyte = 1 << 20
        let envelope = #"{"TaskToken":"","ProcessingJobName":"job-1"}"#.utf8.count
        return [
            Case(
                name: "256 KiB of text that is not JSON", queue: .requests, body: String(repeating: "\u{7F}junk", count: limit / 5),
                expected: .rejected("not JSON")),
            Case(
                name: "a field nested 100,000 deep", queue: .requests,
                body: #"{"TaskToken":"\#(token(rig, 1))","ProcessingJobName":"j","X":"# + nested(100_000) + "}", expected: .rejected("not JSON")),
            Case(
                name: "an escaped NUL in the job name", queue: .requests,
                body: #"{"TaskToken":"\#(token(rig, 2))","ProcessingJobName":"job\u0000name"}"#,
                expected: .rejectedAndFailed("not a valid SageMaker job name"), token: token(rig, 2)),
            // Invalid UTF-8 cannot be sent to SQS (it takes Unicode text); an SDK that is handed
            // such bytes sends U+FFFD in their place, which is what reaches serve.
            Case(
                name: "invalid UTF-8, replaced, in the job name", queue: .requests,
                body: #"{"TaskToken":"\#(token(rig, 3))","ProcessingJobName":"job-\#u{FFFD}\#u{FFFD}"}"#,
                expected: .rejectedAndFailed("not a valid SageMaker job name"), token: token(rig, 3)),
            Case(
                name: "Heartbeat 1e400", queue: .requests,
                body: #"{"TaskToken":"\#(token(rig, 4))","ProcessingJobName":"j","Heartbeat":1e400}"#,
                expected: .rejectedAndFailed("Heartbeat is not true or false"), token: token(rig, 4)),
            Case(
                name: "a number too large for any integer as the job name", queue: .requests,
                body: #"{"TaskToken":"\#(token(rig, 5))","ProcessingJobName":123456789012345678901234567890}"#,
                expected: .rejectedAndFailed("ProcessingJobName"), token: token(rig, 5)),
            // A 1 MiB token makes a body over SQS's 1 MiB limit: SQS refuses it. The longest token
            // that fits in the largest body SQS takes reaches serve, which refuses it unnamed.
            Case(
                name: "a registration whose token is 1 MiB", queue: .requests,
                body: #"{"TaskToken":"\#(String(repeating: "A", count: mebibyte))","ProcessingJobName":"job-1"}"#,
                expected: .refusedBySQS("InvalidParameterValue")),
            Case(
                name: "a token as long as the largest body SQS takes allows", queue: .requests,
                body: #"{"TaskToken":"\#(String(repeating: "A", count: mebibyte - envelope))","ProcessingJobName":"job-1"}"#,
                expected: .rejected("TaskToken longer than 2048 characters")),
            Case(
                name: "a raw NUL byte", queue: .requests,
                body: "{\"TaskToken\":\"\(token(rig, 6))\u{0}\",\"ProcessingJobName\":\"j\"}", expected: .refusedBySQS("InvalidMessageContents")),
            // The jobs of the events below that must be used.
            Case(
                name: "registration for the 256 KiB event", queue: .requests,
                body: #"{"TaskToken":"\#(token(rig, 7))","ProcessingJobName":"hostile-big"}"#, expected: .used, token: token(rig, 7)),
            Case(
                name: "registration for the event timed 1e400", queue: .requests,
                body: #"{"TaskToken":"\#(token(rig, 8))","ProcessingJobName":"hostile-time"}"#, expected: .used, token: token(rig, 8)),
        ]
    }

    static func events() -> [Case] {
        let limit = 262_144
        let big = processingEvent("hostile-big", padding: 1)
        return [
            // At SQS's former (and EventBridge's) 256 KiB limit: used, the output bounded.
            Case(name: "a 256 KiB event", queue: .events, body: processingEvent("hostile-big", padding: 1 + limit - big.utf8.count), expected: .used),
            Case(
                name: "256 KiB of text that is not JSON", queue: .events, body: String(repeating: "\u{7F}junk", count: limit / 5),
                expected: .rejected("JSON")),
            Case(name: "arrays nested 100,000 deep", queue: .events, body: nested(100_000), expected: .rejected("nesting too deep")),
            Case(
                name: "objects nested 100,000 deep", queue: .events, body: nested(100_000, open: #"{"a":"#, close: "}"),
                expected: .rejected("nesting too deep")),
            Case(
                name: "an SNS envelope whose Message nests 100,000 deep", queue: .events,
                body: JSONValue.object(["Type": "Notification", "Message": .string(nested(100_000))]).serialized(),
                expected: .rejected("nesting too deep")),
            Case(
                name: "an escaped NUL in the job name", queue: .events, body: processingEvent(#"a\u0000b"#), expected: .rejected("ProcessingJobName")),
            Case(
                name: "invalid UTF-8, replaced, in the job name", queue: .events, body: processingEvent("job-\u{FFFD}"),
                expected: .rejected("ProcessingJobName")),
            // A timestamp that fits no clock is dropped, not a reason to lose the event.
            Case(
                name: "timestamps of 1e400", queue: .events, body: processingEvent("hostile-time", status: "Failed", time: "1e400"), expected: .used),
            Case(name: "a raw NUL byte", queue: .events, body: "{\"detail-type\":\"\u{0}\"}", expected: .refusedBySQS("InvalidMessageContents")),
        ]
    }

    /// Sends one body alone; its message id, or the code SQS refused it with.
    static func send(_ body: String, to queueURL: String, _ rig: FakeRig) async -> Result<String, FailedSend> {
        do {
            let response = try await rig.loader.client.call(.sqs, "SendMessage", ["QueueUrl": .string(queueURL), "MessageBody": .string(body)])
            return .success(response["MessageId"]?.stringValue ?? "")
        } catch let error as AWSError {
            return .failure(FailedSend(code: error.code))
        } catch {
            return .failure(FailedSend(code: "\(error)"))
        }
    }

    struct FailedSend: Error { var code: String }

    @Test(
        "every hostile message on both queues gets a clear rejection recorded (token masked) or is used; 10,000 registrations for one job complete; the queues drain and a normal job after them completes"
    )
    func hostileMessagesDoNotStopTheQueues() async throws {
        // SQS's default visibility timeout: the batch that completes 10,000 callbacks at once takes
        // seconds to commit in a debug build, and a shorter timeout would deliver its messages again.
        let rig = try await FakeRig(run: "hostile", eventsDirectory: Self.eventsDirectory)
        let serve = try await rig.startServeOrShutDown(binary: try FaultTests.binary())
        do {
            try await run(rig, serve)
        } catch {
            serve.kill()
            try await rig.shutdown()
            throw error
        }
        let exit = await serve.stop()
        #expect(exit == 0, "serve's log: \(serve.logFile.path)")
        serve.removeDirectory()
        try await rig.shutdown()
    }

    func run(_ rig: FakeRig, _ serve: ServeProcess) async throws {
        try await until("serve to poll both queues", serve: serve, seconds: 30) { (rig.fake.counters.requests["ReceiveMessage"] ?? 0) >= 2 }
        var ids: [String: Case] = [:]
        func send(_ cases: [Case]) async throws {
            for c in cases {
                let url = c.queue == .requests ? rig.requestsURL : rig.eventsURL
                switch (await Self.send(c.body, to: url, rig), c.expected) {
                case (.success(let id), .refusedBySQS(let code)):
                    Issue.record("\(c.name): SQS took it (\(id)); expected \(code)")
                case (.success(let id), _):
                    ids[id] = c
                case (.failure(let failure), .refusedBySQS(let code)):
                    #expect(failure.code.contains(code), "\(c.name): \(failure.code)")
                case (.failure(let failure), _):
                    Issue.record("\(c.name): SQS refused it: \(failure.code)")
                }
            }
        }
        let registrations = Self.registrations(rig)
        try await send(registrations)
        // 10,000 registrations naming one job, in SQS batches, then its event twice.
        let same = 10_000
        let sameJob = rig.catalog.jobName(0)
        _ = try await rig.loader.send(count: same, to: rig.requestsURL) { i in
            #"{"TaskToken":"\#(rig.catalog.token(i))","ProcessingJobName":"\#(sameJob)"}"#
        }
        try await until("the registrations consumed", serve: serve, seconds: 120) {
            rig.fake.counts(queue: rig.requestsQueue).map { $0.visible + $0.inFlight == 0 } ?? false
        }
        try await send(Self.events())
        _ = try await rig.loader.send(count: 2, to: rig.eventsURL) { _ in rig.catalog.event(0) }
        // A normal job after all of them.
        let normal = same + 1
        _ = try await rig.loader.send([normal], to: rig.requestsURL, body: rig.catalog.registration)
        _ = try await rig.loader.send([normal], to: rig.eventsURL, body: rig.catalog.event)

        let answered = (registrations + Self.events()).compactMap { c -> String? in
            switch c.expected {
            case .rejectedAndFailed, .used: c.token;
            default: nil
            }
        }
        let tokens = (0..<same).map(rig.catalog.token) + [rig.catalog.token(normal)] + answered
        try await until("every outcome, and both queues empty", serve: serve, seconds: 120) {
            rig.fake.outcomeTimes(of: tokens).allSatisfy { $0 != nil } && rig.leftInQueues == 0
        }
        let counters = rig.fake.counters
        #expect(counters.outcomes == tokens.count, "an outcome for exactly these tokens")
        #expect(counters.conflicting == 0)
        // Succeeded: the 10,000 and the 256 KiB event's job (its output cut to fit); failed: the
        // job timed 1e400, the normal job (its event says Stopped), the registrations failed at once.
        #expect(counters.succeeded == same + 1)
        #expect(counters.failed == tokens.count - same - 1)
        #expect(rig.leftInQueues == 0)

        // What the store recorded: one rejection per rejected case, found by its message id.
        let listed = try await ServiceProcess.run(
            ["list", "--json", "--limit", "100", "--database", serve.directory.appendingPathComponent("callbacks.sqlite").path], environment: [:]
        )
        #expect(listed.status == 0, "\(listed.err)")
        let listing = try JSONValue.parse(listed.out)
        let rejected = listing["rejected"]?.arrayValue ?? []
        let expectedRejections = ids.values.filter { c in
            switch c.expected {
            case .rejected, .rejectedAndFailed: true;
            default: false
            }
        }
        #expect(rejected.count == expectedRejections.count, "\(rejected.map { $0["reason"]?.stringValue ?? "" })")
        for row in rejected {
            let id = row["messageId"]?.stringValue ?? ""
            guard let c = ids[id] else {
                Issue.record("a rejection of a message not hostile: \(row["reason"]?.stringValue ?? "")")
                continue
            }
            let reason = row["reason"]?.stringValue ?? ""
            switch c.expected {
            case .rejected(let expected), .rejectedAndFailed(let expected):
                #expect(reason.contains(expected), "\(c.name): \(reason)")
            default:
                Issue.record("\(c.name) was rejected: \(reason)")
            }
            #expect((row["body"]?.stringValue?.utf8.count ?? 0) <= 8_192, "\(c.name): the body kept is bounded")
        }
        #expect(listing["counts"]?["pending"] == 0)
        #expect(listing["counts"]?["outbox"] == 0)
        // No whole token anywhere in the listing, nor in serve's log.
        let log = (try? String(contentsOf: serve.logFile, encoding: .utf8)) ?? ""
        for token in Array(tokens.prefix(3)) + answered + [String(repeating: "A", count: 2049)] {
            #expect(!listed.out.contains(token), "a whole token in list --json")
            #expect(!log.contains(token), "a whole token in serve's log")
        }
    }
}
