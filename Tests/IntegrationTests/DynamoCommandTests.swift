import AWS
import DynamoStore
import Foundation
import JSON
import Logging
import Moto
import Relay
import CallbackStore
import SigV4
import Testing

/// The command line on a DynamoDB table: the real binary, every command, against moto.
/// One test at a time: each starts moto and the binary, and the suite shares two cores with
/// timing-sensitive tests (a 3 s heartbeat contract).
@Suite("Commands on a DynamoDB table", .serialized, .timeLimit(.minutes(5)))
struct DynamoCommandTests {
    static let wait = "wait-for-processing-job"
    static let events = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("events")

    @Test("serve on dynamodb://TABLE completes an execution end to end, and leaves nothing on the local disk")
    func serveEndToEnd() async throws {
        let emulator = try await Emulator.start("dynamo-serve")
        defer { emulator.stop() }
        let d = emulator.deployment
        let database = try await emulator.createStateTable()
        let store = try await emulator.openTable(database)
        defer { store.close() }
        let workingDirectory = emulator.directory.appendingPathComponent("cwd")
        try FileManager.default.createDirectory(at: workingDirectory, withIntermediateDirectories: true)
        var environment = emulator.perServiceEndpoints
        environment["SAGEMAKER_CALLBACK_DATABASE"] = database
        let service = try ServiceProcess(
            ["serve"], environment: environment, log: emulator.directory.appendingPathComponent("service.log"), directory: workingDirectory
        )
        defer { if service.process.isRunning { print(service.output.suffix(3000)) } }

        let arn = try await d.startExecution(Self.wait, name: "run-dynamo", input: ["ProcessingJobName": "job-dynamo"])
        try await emulator.eventually("the callback is pending in the table", timeout: .seconds(60)) { try await store.counts().pending == 1 }
        try await d.publishProcessingJob("job-dynamo", status: "Completed")
        let description = try await d.waitForExecution(arn, timeout: .seconds(90))
        #expect(description["status"] == "SUCCEEDED", "\(service.output.suffix(3000))")
        let output = try JSONValue.parse(try #require(description["output"]?.stringValue))
        #expect(output["ProcessingJob"]?["ProcessingJobName"] == "job-dynamo")
        try await emulator.eventually("the outbox empties") { try await store.counts().outbox == 0 }
        let counts = try await store.counts()
        #expect(counts.pending == 0)
        #expect(counts.closed == 1)
        let (status, _) = try await service.terminate()
        #expect(status == 0, "\(service.output.suffix(2000))")
        #expect(service.output.contains("store.opened"), "the table was the store")
        #expect(service.output.contains("AWS credentials resolved"), "the start-up lines held until the store opened are written")
        #expect(try FileManager.default.contentsOfDirectory(atPath: workingDirectory.path) == [], "nothing of the state on the local disk")
    }

    /// `serve` that must refuse to start: exit `code` within a few seconds, one line on stderr
    /// naming the table and containing `problem`, and a registration sent beforehand still in
    /// the requests queue (received here, so it was neither deleted nor in flight).
    static func refusesToServe(
        _ emulator: Emulator, database: String, environment extra: [String: String] = [:], sqs: SQS? = nil,
        code: Int32, problem: String
    ) async throws {
        let d = emulator.deployment
        let sqs = sqs ?? SQS(client: d.client)
        let body = #"{"TaskToken":"untouched-\#(UUID().uuidString)","ProcessingJobName":"job-untouched"}"#
        try await sqs.sendMessage(queueURL: d.requestsQueueURL, body: body)
        var environment = emulator.serviceEnvironment.merging(extra) { _, override in override }
        environment["SAGEMAKER_CALLBACK_DATABASE"] = database
        let start = ContinuousClock.now
        let result = try await ServiceProcess.run(["serve"], environment: environment, timeout: .seconds(60))
        let took = ContinuousClock.now - start
        #expect(result.status == code, "exit \(result.status): \(result.err)")
        #expect(took < .seconds(30), "took \(took)")
        let lines = result.err.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.isEmpty }
        #expect(lines.count == 1, "stderr: \(result.err)")
        #expect(result.err.contains(database), "stderr names the table: \(result.err)")
        #expect(result.err.contains(problem), "stderr names the problem: \(result.err)")
        #expect(result.out.isEmpty, "stdout: \(result.out)")
        let left = try await sqs.receiveMessages(queueURL: d.requestsQueueURL, waitSeconds: 2)
        #expect(left.map(\.body).contains(body), "the registration is still queued, untouched: \(left.map(\.body))")
        if let message = left.first(where: { $0.body == body }) {
            _ = try await sqs.deleteMessageBatch(queueURL: d.requestsQueueURL, receiptHandles: [(id: "0", receiptHandle: message.receiptHandle)])
        }
    }

    @Test("serve on a missing table, a table of another design, or DynamoDB out of reach: one line, 64 or 69, nothing consumed")
    func serveRefuses() async throws {
        let emulator = try await Emulator.start("dynamo-refuse")
        defer { emulator.stop() }
        try await Self.refusesToServe(emulator, database: "dynamodb://no-such-table", code: 64, problem: "no such table")

        let other = "other-\(UUID().uuidString.prefix(8).lowercased())"
        try await DynamoDB.createTable(
            client: emulator.deployment.client,
            request: [
                "TableName": .string(other), "BillingMode": "PAY_PER_REQUEST",
                "KeySchema": [["AttributeName": "id", "KeyType": "HASH"]],
                "AttributeDefinitions": [["AttributeName": "id", "AttributeType": "S"]],
            ])
        try await Self.refusesToServe(emulator, database: "dynamodb://\(other)", code: 64, problem: "does not fit this service")

        let table = try await emulator.createStateTable()
        try await Self.refusesToServe(
            emulator, database: table, environment: ["AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:1"], code: 69, problem: "cannot"
        )
    }

    @Test("serve with keys allowed SQS, Step Functions and SageMaker but not DynamoDB: exit 64 naming the table and the refused call")
    func serveWithoutPermission() async throws {
        let emulator = try await Emulator.start("dynamo-denied", dedicated: true)
        defer { emulator.stop() }
        let table = try await emulator.createStateTable()
        let (user, _) = try SignatureTests.createIdentity(emulator.moto.endpoint)
        try await emulator.moto.resetAuthentication(unauthenticatedRequests: 0)
        let credentials = ["AWS_ACCESS_KEY_ID": user.accessKeyID, "AWS_SECRET_ACCESS_KEY": user.secretAccessKey]
        try await Self.refusesToServe(
            emulator, database: table, environment: credentials, sqs: SQS(client: try emulator.moto.client(credentials: user)),
            code: 64, problem: "dynamodb:DescribeTable"
        )
    }

    @Test("register, list, replay and list --json on dynamodb://TABLE with --endpoint-url: the execution completes with no serve running")
    func registerReplayList() async throws {
        let emulator = try await Emulator.start("dynamo-by-hand")
        defer { emulator.stop() }
        let d = emulator.deployment
        let database = try await emulator.createStateTable()
        // The job the recorded event is about.
        let job = "adhoc-export-20240519"
        let arn = try await d.startExecution(Self.wait, name: "run-dynamo-by-hand", input: ["ProcessingJobName": .string(job)])
        var registration: SQSMessage?
        try await emulator.eventually("the registration reaches the requests queue") {
            registration = try await SQS(client: d.client).receiveMessages(queueURL: d.requestsQueueURL, waitSeconds: 1).first
            return registration != nil
        }
        // No endpoint variable at all: --endpoint-url alone points every call, DynamoDB's too, at moto.
        var environment = emulator.moto.processEnvironment()
        environment["AWS_ENDPOINT_URL"] = nil
        let common = ["--database", database, "--endpoint-url", emulator.moto.endpoint]

        let registered = try await ServiceProcess.run(["register", "--message", try #require(registration).body] + common, environment: environment)
        #expect(registered.status == 0, "\(registered.err)")
        #expect(registered.out.hasPrefix("registered"), "\(registered.out)")

        let pending = try await ServiceProcess.run(["list", "--json"] + common, environment: environment)
        #expect(pending.status == 0, "\(pending.err)")
        let before = try JSONValue.parse(pending.out)
        #expect(before["counts"]?["pending"] == 1, "\(pending.out)")
        #expect(before["pending"]?[0]?["job"]?.stringValue == job, "\(pending.out)")
        #expect(before["pending"]?[0]?["executionArn"]?.stringValue == arn, "\(pending.out)")
        let text = try await ServiceProcess.run(["list"] + common, environment: environment)
        #expect(text.status == 0, "\(text.err)")
        #expect(text.out.contains("Pending callbacks: 1"), "\(text.out)")
        #expect(text.out.contains(job), "\(text.out)")

        let replayed = try await ServiceProcess.run(
            ["replay", Self.events.appendingPathComponent("processing-completed-minimal.json").path] + common, environment: environment
        )
        #expect(replayed.status == 0, "\(replayed.err)")
        #expect(replayed.out.contains("1 event, 0 rejected"), "\(replayed.out)")
        #expect(replayed.out.contains("outcomes delivered: 1"), "\(replayed.out)")
        let description = try await d.waitForExecution(arn)
        #expect(description["status"] == "SUCCEEDED")
        #expect(try JSONValue.parse(try #require(description["output"]?.stringValue))["ProcessingJob"]?["ProcessingJobStatus"] == "Completed")

        let after = try await ServiceProcess.run(["list", "--json"] + common, environment: environment)
        #expect(after.status == 0, "\(after.err)")
        let listing = try JSONValue.parse(after.out)
        #expect(listing["counts"]?["pending"] == 0, "\(after.out)")
        #expect(listing["counts"]?["outbox"] == 0, "\(after.out)")
        #expect(listing["counts"]?["closed"] == 1, "\(after.out)")
        let again = try await ServiceProcess.run(["list"] + common, environment: environment)
        #expect(again.out.contains("Pending callbacks: 0"), "\(again.out)")
        #expect(again.out.contains("Undelivered outcomes (outbox): 0"), "\(again.out)")

        // The commands, like serve, refuse a missing table in one line.
        for command in [["list"], ["register", "--task-token", "t", "--processing-job-name", "job"]] {
            let missing = try await ServiceProcess.run(
                command + ["--database", "dynamodb://no-such-table", "--endpoint-url", emulator.moto.endpoint], environment: environment)
            #expect(missing.status == 64, "\(command): \(missing.err)")
            #expect(missing.err.split(separator: "\n").count == 1, "\(command): \(missing.err)")
            #expect(missing.err.contains("dynamodb://no-such-table: no such table"), "\(command): \(missing.err)")
        }
    }

    @Test(
        "doctor on dynamodb://TABLE: ok for the database and its access, AWS_ENDPOINT_URL_DYNAMODB over AWS_ENDPOINT_URL; a missing table fails, exit 1"
    )
    func doctor() async throws {
        let emulator = try await Emulator.start("dynamo-doctor")
        defer { emulator.stop() }
        let database = try await emulator.createStateTable()
        let environment = emulator.perServiceEndpoints

        let healthy = try await ServiceProcess.run(["doctor", "--database", database], environment: environment)
        #expect(healthy.status == 0, "\(healthy.out)\(healthy.err)")
        #expect(healthy.out.contains("ok   endpoint dynamodb: \(emulator.moto.endpoint) (AWS_ENDPOINT_URL_DYNAMODB)"), "\(healthy.out)")
        #expect(healthy.out.contains("ok   database: \(database): 0 pending, 0 undelivered"), "\(healthy.out)")
        #expect(healthy.out.contains("ok   table access: \(database): "), "\(healthy.out)")
        #expect(!healthy.out.contains("FAIL"), "\(healthy.out)")

        let missing = try await ServiceProcess.run(["doctor", "--database", "dynamodb://no-such-table"], environment: environment)
        #expect(missing.status == 1, "\(missing.out)\(missing.err)")
        let failures = missing.out.split(separator: "\n").filter { $0.hasPrefix("FAIL") }
        #expect(failures.count == 1, "\(missing.out)")
        #expect(failures.first?.hasPrefix("FAIL database: dynamodb://no-such-table: no such table") == true, "\(missing.out)")
        #expect(missing.out.contains("ok   events queue"), "the other checks still run: \(missing.out)")
    }

    @Test(
        "a malformed table name: one line naming --database, exit 64, for every command",
        arguments: [
            ["serve"], ["list"], ["register", "--task-token", "t", "--processing-job-name", "job"], ["replay", "-"],
        ], ["dynamodb://x", "dynamodb://bad name"])
    func badTableName(command: [String], database: String) async throws {
        let environment = [
            "SAGEMAKER_CALLBACK_EVENTS_QUEUE_URL": "http://127.0.0.1:1/123456789012/events", "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y",
        ]
        let result = try await ServiceProcess.run(command + ["--database", database], environment: environment, timeout: .seconds(60))
        #expect(result.status == 64, "\(result.err)")
        let lines = result.err.split(separator: "\n")
        #expect(lines.count == 1, "stderr: \(result.err)")
        #expect(result.err.contains("--database"), "stderr: \(result.err)")
        #expect(result.err.contains(database), "stderr: \(result.err)")
    }
}

extension Emulator {
    /// The service's environment with AWS_ENDPOINT_URL pointing nowhere and each service's own
    /// variable (DynamoDB's included) at moto: only a service that follows its own variable works.
    var perServiceEndpoints: [String: String] {
        var environment = serviceEnvironment
        environment["AWS_ENDPOINT_URL"] = "http://127.0.0.1:1"
        for service in [AWSService.sqs, .stepFunctions, .sageMaker, .dynamoDB] { environment[service.endpointEnvironmentKey] = moto.endpoint }
        return environment
    }

    /// The table a `dynamodb://TABLE` value names, opened here to watch what the service writes.
    func openTable(_ database: String) async throws -> DynamoStore {
        guard case .dynamoDB(let table) = try StoreLocation(parsing: database) else { throw MotoUnavailable(message: "\(database) is no table") }
        return try await DynamoStore.open(table: table, client: deployment.client, logger: Logger(label: "test"))
    }
}
