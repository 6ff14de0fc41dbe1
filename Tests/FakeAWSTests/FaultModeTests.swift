import AWS
import FakeAWS
import HTTP
import JSON
import Testing

/// Each fault mode does what it says, seen through our own AWS client (one attempt, no retries),
/// and whether the fake applied the request is what the mode promises.
@Suite("The fake's fault modes", .timeLimit(.minutes(1)))
struct FaultModeTests {
    static func plan(_ mode: FaultMode, rate: Double = 1, seed: UInt64 = 1, stall: Duration = .seconds(3)) -> FaultPlan {
        FaultPlan(sqs: ServiceFaults([mode: rate]), stepFunctions: ServiceFaults([mode: rate]), stall: stall, seed: seed)
    }

    /// What one attempt ended with: nil for success, else the AWS error code, `HTTPError(kind)`
    /// or `unusable` (a response that is not JSON).
    static func outcome(_ call: () async throws -> Void) async -> String? {
        do {
            try await call()
            return nil
        } catch let error as AWSError {
            return "\(error.code) \(error.httpStatus)"
        } catch let error as AWSTransportError {
            return "HTTPError(\(error.underlying.kind))"
        } catch is AWSResponseError {
            return "unusable"
        } catch {
            return "\(error)"
        }
    }

    static let expected: [(FaultMode, String, applied: Bool)] = [
        (.internalFailure, "InternalFailure 500", false),
        (.serviceUnavailable, "ServiceUnavailable 503", false),
        (.throttling, "ThrottlingException 400", false),
        (.dropBeforeApplying, "HTTPError(receive)", false),
        (.dropAfterApplying, "HTTPError(receive)", true),
        (.stall, "HTTPError(timeout)", true),
        (.truncatedBody, "unusable", true),
        (.nonJSONBody, "unusable", true),
    ]

    @Test("a SendTaskSuccess meets the fault and is applied or not as the mode says", arguments: expected.indices)
    func stepFunctionsFault(_ index: Int) async throws {
        let (mode, answer, applied) = Self.expected[index]
        try await FakeAWSTests.withFake { fake, client in
            fake.setFaults(Self.plan(mode))
            let token = "token-\(mode.rawValue)"
            let started = ContinuousClock.now
            let result = await Self.outcome {
                // A 1 s timeout against a 3 s stall.
                _ = try await client.call(.stepFunctions, "SendTaskSuccess", ["taskToken": .string(token), "output": "{}"], timeout: .seconds(1))
            }
            #expect(result == answer)
            #expect((fake.outcomeTimes(of: [token]).first! != nil) == applied)
            #expect(fake.faultCounts.injected["AWSStepFunctions"]?[mode] == 1)
            if mode == .stall { #expect(ContinuousClock.now - started >= .seconds(1)) }
            // Faults off: the same call goes through (or finds the task closed, if it was applied).
            fake.setFaults(.none)
            let again = await Self.outcome {
                try await StepFunctions(client: client).sendTaskSuccess(taskToken: token, output: "{}")
            }
            #expect(again == (applied ? "TaskTimedOut 400" : nil))
        }
    }

    @Test("a DeleteMessageBatch meets the fault; the message is deleted or not as the mode says", arguments: expected.indices)
    func sqsFault(_ index: Int) async throws {
        let (mode, answer, applied) = Self.expected[index]
        try await FakeAWSTests.withFake { fake, client in
            let sqs = SQS(client: client)
            let url = try await FakeAWSTests.createQueue(client, "faults")
            try await sqs.sendMessage(queueURL: url, body: "one")
            let message = try #require(try await sqs.receiveMessages(queueURL: url, waitSeconds: 0).first)
            fake.setFaults(Self.plan(mode))
            let result = await Self.outcome {
                _ = try await client.call(
                    .sqs, "DeleteMessageBatch",
                    [
                        "QueueUrl": .string(url), "Entries": [["Id": "0", "ReceiptHandle": .string(message.receiptHandle)]],
                    ], timeout: .seconds(1))
            }
            #expect(result == answer)
            #expect(fake.counts(queue: "faults")?.deleted == (applied ? 1 : 0))
            // SendMessage, the bench's own call, is never faulted.
            try await sqs.sendMessage(queueURL: url, body: "two")
            // On a reused keep-alive connection closed without a byte of answer, libcurl itself
            // sends the request once more on a fresh one (which meets the fault again): one call
            // of ours, two requests at the fake. Harmless for deletes and for SendTask* (a repeat
            // is answered TaskTimedOut), and counted in `make faults` as what it is.
            let dropped = mode == .dropBeforeApplying || mode == .dropAfterApplying
            #expect(fake.faultCounts.injected["AmazonSQS"]?[mode] == (dropped ? 2 : 1))
        }
    }

    @Test("a redelivery fault makes a received message visible again at once, with a new receipt handle")
    func earlyRedelivery() async throws {
        try await FakeAWSTests.withFake { fake, client in
            let sqs = SQS(client: client)
            let url = try await FakeAWSTests.createQueue(client, "lapse")
            try await sqs.sendMessage(queueURL: url, body: "once")
            fake.setFaults(FaultPlan(sqs: ServiceFaults([.earlyRedelivery: 1])))
            let first = try await sqs.receiveMessages(queueURL: url, waitSeconds: 0, visibilityTimeout: 30)
            // Visible again within the timer's granularity, long before its 30 s timeout.
            let second = try await sqs.receiveMessages(queueURL: url, waitSeconds: 5, visibilityTimeout: 30)
            #expect(first.map(\.body) == ["once"])
            #expect(second.map(\.receiveCount) == [2])
            #expect(second.first?.receiptHandle != first.first?.receiptHandle)
            #expect(fake.faultCounts.redelivered == 2)
        }
    }

    @Test("a seed gives the same faults in the same order; another seed gives others")
    func seededDraws() async throws {
        func pattern(seed: UInt64) async throws -> [Bool] {
            var hits: [Bool] = []
            try await FakeAWSTests.withFake { fake, client in
                fake.setFaults(Self.plan(.throttling, rate: 0.5, seed: seed))
                for i in 0..<24 {
                    hits.append(await Self.outcome { try await StepFunctions(client: client).sendTaskHeartbeat(taskToken: "t\(i)") } != nil)
                }
                #expect(fake.faultCounts.count(.throttling) == hits.filter { $0 }.count)
            }
            return hits
        }
        let first = try await pattern(seed: 42)
        #expect(try await pattern(seed: 42) == first)
        #expect(try await pattern(seed: 43) != first)
        #expect(first.contains(true) && first.contains(false))
    }

    /// The first seed whose first draw meets a fault of rate 0.5 and whose second does not.
    static func seedFaultingOnlyTheFirstRequest() -> UInt64 {
        (1...).lazy.map(UInt64.init).first { seed in
            var generator = SeededGenerator(seed: seed)
            return generator.nextUnit() < 0.5 && generator.nextUnit() >= 0.5
        }!
    }

    @Test("a 200 whose body is cut short is retried like a dropped connection, not given up on", arguments: [FaultMode.truncatedBody, .nonJSONBody])
    func unusableResponseIsRetried(_ mode: FaultMode) async throws {
        try await FakeAWSTests.withFake(retries: 2) { fake, client in
            fake.setFaults(Self.plan(mode, rate: 0.5, seed: Self.seedFaultingOnlyTheFirstRequest()))
            let sqs = SQS(client: client)
            let url = try await FakeAWSTests.createQueue(client, "retried")
            try await sqs.sendMessage(queueURL: url, body: "kept")
            // The first ReceiveMessage is answered unusably (and its message goes in flight);
            // the retry finds nothing visible, but the call itself succeeds instead of throwing.
            let messages = try await sqs.receiveMessages(queueURL: url, waitSeconds: 0)
            #expect(messages.isEmpty)
            #expect(fake.faultCounts.count(mode) == 1)
            #expect(fake.counters.requests["ReceiveMessage"] == 2)
        }
    }
}
