import AWS
import FakeAWS
import HTTP
import JSON
import Logging
import SigV4
import Synchronization
import Testing

/// The fake behaves like AWS wherever the load bench depends on it, as seen through our own client.
@Suite("Fake SQS and Step Functions", .timeLimit(.minutes(1)))
struct FakeAWSTests {
    /// A fake on a free loopback port, a client for it that never retries (unless told), torn down after `body`.
    static func withFake(
        _ behavior: StepFunctionsBehavior = .init(),
        retries: Int = 0,
        _ body: (FakeAWS, AWSClient) async throws -> Void
    ) async throws {
        let fake = try await FakeAWS.start(stepFunctions: behavior)
        let http = try CurlHTTPClient()
        let endpoint = Endpoint(url: fake.endpoint, host: "127.0.0.1:\(fake.port)", source: "test")
        let client = AWSClient(
            http: http, credentials: { Credentials(accessKeyID: "AKIDFAKE", secretAccessKey: "fake-secret") },
            region: "us-east-1", endpoints: [.sqs: endpoint, .stepFunctions: endpoint],
            retryPolicy: RetryPolicy(maxAttempts: 1 + retries, base: .milliseconds(1), cap: .milliseconds(5)), logger: Logger(label: "fake-test")
        )
        do {
            try await body(fake, client)
        } catch {
            http.shutdown()
            try await fake.shutdown()
            throw error
        }
        http.shutdown()
        try await fake.shutdown()
    }

    static func createQueue(_ client: AWSClient, _ name: String) async throws -> String {
        try #require(try await client.call(.sqs, "CreateQueue", ["QueueName": .string(name)])["QueueUrl"]?.stringValue)
    }

    static func code(of call: () async throws -> Void) async -> String? {
        do {
            try await call()
            return nil
        } catch let error as AWSError {
            return error.code
        } catch {
            return "\(error)"
        }
    }

    @Test("a long poll is answered as soon as a message is sent, not at the end of its wait")
    func longPollWakes() async throws {
        try await Self.withFake { fake, client in
            let sqs = SQS(client: client)
            let url = try await Self.createQueue(client, "wake")
            #expect(url == "\(fake.endpoint)/123456789012/wake")
            let started = ContinuousClock.now
            let poll = Task { try await sqs.receiveMessages(queueURL: url, waitSeconds: 20) }
            try await Task.sleep(for: .milliseconds(200))
            let id = try await sqs.sendMessage(queueURL: url, body: #"{"hello":1}"#)
            let messages = try await poll.value
            // Well inside the 20 s wait, with room for a CI machine that stalls for seconds.
            #expect(ContinuousClock.now - started < .seconds(12))
            #expect(messages.map(\.body) == [#"{"hello":1}"#])
            #expect(messages.first?.messageID == id)
            #expect(messages.first?.receiveCount == 1)
            #expect(messages.first?.sentAt != nil)
            #expect(fake.counts(queue: "wake") == FakeQueueCounts(visible: 0, inFlight: 1, sent: 1, deleted: 0))
            #expect(fake.firstDeliveries(ofMessageIDs: [id]).first! != nil)
        }
    }

    @Test("a message not deleted within its visibility timeout is delivered again, ApproximateReceiveCount 2, with a new receipt handle")
    func visibilityTimeoutRedelivers() async throws {
        try await Self.withFake { fake, client in
            let sqs = SQS(client: client)
            let url = try await Self.createQueue(client, "redeliver")
            try await sqs.sendMessage(queueURL: url, body: "once")
            let first = try await sqs.receiveMessages(queueURL: url, waitSeconds: 0, visibilityTimeout: 5)
            #expect(try await sqs.receiveMessages(queueURL: url, waitSeconds: 0).isEmpty, "invisible while in flight")
            let attributes = try await client.call(.sqs, "GetQueueAttributes", ["QueueUrl": .string(url), "AttributeNames": ["All"]])
            #expect(attributes["Attributes"]?["ApproximateNumberOfMessagesNotVisible"] == "1")
            let started = ContinuousClock.now
            // Delivered again by the visibility timer (5 s), long before the 20 s wait ends.
            let second = try await sqs.receiveMessages(queueURL: url, waitSeconds: 20)
            #expect(ContinuousClock.now - started < .seconds(15))
            #expect(second.map(\.receiveCount) == [2])
            #expect(second.first?.messageID == first.first?.messageID)
            #expect(second.first?.receiptHandle != first.first?.receiptHandle)
            #expect(fake.counters.deliveries == 2)
        }
    }

    @Test("a batch delete deletes known receipt handles and lists unknown ones as Failed in a 200 answer")
    func batchDeleteReportsUnknownHandles() async throws {
        try await Self.withFake { fake, client in
            let sqs = SQS(client: client)
            let url = try await Self.createQueue(client, "delete")
            let sent = try await client.call(
                .sqs, "SendMessageBatch",
                [
                    "QueueUrl": .string(url),
                    "Entries": [["Id": "a", "MessageBody": "one"], ["Id": "b", "MessageBody": "two"]],
                ])
            #expect(sent["Successful"]?.arrayValue?.count == 2)
            let messages = try await sqs.receiveMessages(queueURL: url, waitSeconds: 0)
            #expect(messages.count == 2)
            let failures = try await sqs.deleteMessageBatch(
                queueURL: url,
                receiptHandles: messages.enumerated().map { (id: "m\($0.offset)", receiptHandle: $0.element.receiptHandle) } + [
                    (id: "bogus", receiptHandle: "not-a-handle")
                ]
            )
            #expect(failures.map(\.id) == ["bogus"])
            #expect(failures.first?.code == "ReceiptHandleIsInvalid")
            #expect(failures.first?.senderFault == true)
            #expect(fake.counts(queue: "delete") == FakeQueueCounts(visible: 0, inFlight: 0, sent: 2, deleted: 2))
            let tooMany = (0..<11).map { JSONValue.object(["Id": .string("e\($0)"), "MessageBody": "x"]) }
            let code = await Self.code {
                _ = try await client.call(.sqs, "SendMessageBatch", ["QueueUrl": .string(url), "Entries": .array(tooMany)])
            }
            #expect(code == "TooManyEntriesInBatchRequest")
            let missing = await Self.code { _ = try await client.call(.sqs, "GetQueueUrl", ["QueueName": "nope"]) }
            #expect(missing == "QueueDoesNotExist")
        }
    }

    @Test("beyond the token bucket, SendTask* answers ThrottlingException and is counted")
    func throttle() async throws {
        // A bucket that refills once in 1,000 s: a slow machine cannot refill it mid-test.
        try await Self.withFake(StepFunctionsBehavior(ratePerSecond: 0.001, burst: 3)) { fake, client in
            let sfn = StepFunctions(client: client)
            var codes: [String?] = []
            for i in 0..<5 {
                // One attempt each: the client's own retries would wait out the throttle.
                codes.append(
                    await Self.code {
                        try await sfn.sendTaskSuccess(taskToken: "token-\(i)", output: "{}", retryPolicy: RetryPolicy(maxAttempts: 1))
                    })
            }
            #expect(codes == [nil, nil, nil, "ThrottlingException", "ThrottlingException"])
            let counters = fake.counters
            #expect(counters.throttled == 2)
            #expect(counters.succeeded == 3)
            #expect(counters.requests["SendTaskSuccess"] == 5)
        }
    }

    @Test("a second outcome for a closed token answers TaskTimedOut and counts a duplicate; the first outcome's time is kept")
    func duplicateOutcome() async throws {
        try await Self.withFake(StepFunctionsBehavior(acceptsAnyToken: false)) { fake, client in
            let sfn = StepFunctions(client: client)
            let token = String(repeating: "T", count: 1000)
            fake.announce(tokens: [token])
            #expect(await Self.code { try await sfn.sendTaskSuccess(taskToken: "unknown", output: "{}") } == "TaskDoesNotExist")
            try await sfn.sendTaskHeartbeat(taskToken: token)
            let before = FakeAWS.uptime()
            try await sfn.sendTaskFailure(taskToken: token, error: "SageMaker.ProcessingJobFailed", cause: "{}")
            let closedAt = try #require(fake.outcomeTimes(of: [token]).first ?? nil)
            #expect(closedAt >= before)
            #expect(await Self.code { try await sfn.sendTaskSuccess(taskToken: token, output: "{}") } == "TaskTimedOut")
            #expect(await Self.code { try await sfn.sendTaskHeartbeat(taskToken: token) } == "TaskTimedOut")
            #expect(fake.outcomeTimes(of: [token]) == [closedAt])
            let counters = fake.counters
            #expect(counters.duplicates == 1)
            #expect(counters.outcomes == 1)
            #expect(counters.heartbeats == 1)
        }
    }

    @Test("Step Functions answers after the configured latency")
    func latency() async throws {
        try await Self.withFake(StepFunctionsBehavior(latency: .milliseconds(150))) { _, client in
            let sfn = StepFunctions(client: client)
            try await sfn.sendTaskHeartbeat(taskToken: "warm-up") // the connection is made outside the timing
            let started = ContinuousClock.now
            try await sfn.sendTaskSuccess(taskToken: "slow", output: "{}")
            let elapsed = ContinuousClock.now - started
            #expect(elapsed >= .milliseconds(150))
            // Bounded, with room for a CI machine that stalls for seconds.
            #expect(elapsed < .seconds(10))
        }
    }

    @Test("a body with a character SQS refuses (a raw NUL, U+FFFF) is refused InvalidMessageContents, alone or in a batch; an escaped NUL is text")
    func refusedCharacters() async throws {
        try await Self.withFake { fake, client in
            let sqs = SQS(client: client)
            let url = try await Self.createQueue(client, "characters")
            let nul = await Self.code { try await sqs.sendMessage(queueURL: url, body: "{\"a\":\"\u{0}\"}") }
            #expect(nul == "InvalidMessageContents")
            let batch = try await client.call(
                .sqs, "SendMessageBatch",
                [
                    "QueueUrl": .string(url),
                    "Entries": [["Id": "a", "MessageBody": "\u{FFFF}"], ["Id": "b", "MessageBody": #"{"a":"\u0000 tab\t"}"#]],
                ])
            #expect(batch["Failed"]?[0]?["Code"] == "InvalidMessageContents")
            #expect(batch["Failed"]?[0]?["Id"] == "a")
            #expect(batch["Successful"]?.arrayValue?.count == 1)
            #expect(fake.counts(queue: "characters")?.sent == 1)
        }
    }

    @Test("a second listener serves the same queues, and receives and held calls name the port they arrived at")
    func listenersNameTheirPort() async throws {
        try await Self.withFake { fake, client in
            let url = try await Self.createQueue(client, "ports")
            let second = try await fake.addListener()
            let secondPort = try #require(Int(second.split(separator: ":").last ?? ""))
            #expect(secondPort != fake.port)
            let http = try CurlHTTPClient()
            defer { http.shutdown() }
            let other = AWSClient(
                http: http, credentials: { Credentials(accessKeyID: "AKIDFAKE", secretAccessKey: "fake-secret") }, region: "us-east-1",
                endpoints: [
                    .sqs: Endpoint(url: second, host: "127.0.0.1:\(secondPort)", source: "test"),
                    .stepFunctions: Endpoint(url: second, host: "127.0.0.1:\(secondPort)", source: "test"),
                ],
                retryPolicy: RetryPolicy(maxAttempts: 1), logger: Logger(label: "fake-test")
            )
            let seen = Mutex<[Int]>([])
            fake.observeReceives { handles, port in seen.withLock { $0.append(handles.isEmpty ? -port : port) } }
            try await SQS(client: client).sendMessage(queueURL: url, body: "one")
            let received = try await SQS(client: other).receiveMessages(queueURL: url, waitSeconds: 0)
            #expect(received.map(\.body) == ["one"])
            _ = try await SQS(client: client).receiveMessages(queueURL: url, waitSeconds: 0)
            #expect(seen.withLock { $0 } == [secondPort, -fake.port])
            fake.holdClosingCalls(1)
            let call = Task { try await StepFunctions(client: other).sendTaskSuccess(taskToken: "held", output: "{}") }
            try await Self.waitFor { fake.heldCalls == 1 }
            #expect(fake.heldCallPorts == [secondPort])
            #expect(fake.releaseHeld(applying: true) == 1)
            try await call.value
        }
    }

    @Test("a fault mode's limit: past it, its draws are served as if none was drawn; exempt operations meet none")
    func faultLimit() async throws {
        try await Self.withFake { fake, client in
            let url = try await Self.createQueue(client, "limited")
            fake.setFaults(FaultPlan(sqs: ServiceFaults([.throttling: 1], exempt: ServiceFaults.allButReceive, limits: [.throttling: 2])))
            var codes: [String?] = []
            for _ in 0..<4 { codes.append(await Self.code { _ = try await SQS(client: client).receiveMessages(queueURL: url, waitSeconds: 0) }) }
            #expect(codes == ["ThrottlingException", "ThrottlingException", nil, nil])
            // Deletes are exempt: even an unknown handle gets the fake's own answer, not a fault.
            let failures = try await SQS(client: client).deleteMessageBatch(queueURL: url, receiptHandles: [(id: "0", receiptHandle: "bogus")])
            #expect(failures.map(\.code) == ["ReceiptHandleIsInvalid"])
            #expect(fake.faultCounts.count(.throttling) == 2)
        }
    }

    /// Waits (5 ms steps, at most 10 s) until `condition` holds.
    static func waitFor(_ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while !condition() {
            guard ContinuousClock.now < deadline else { throw CancellationError() }
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}
