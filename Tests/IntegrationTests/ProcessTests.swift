import AWS
import Foundation
import JSON
import Moto
import Relay
import CallbackStore
import Store
import Testing

/// The real binary: signals, restarts, kill -9, and its command line.
@Suite("The service process", .timeLimit(.minutes(5)))
struct ProcessTests {
    static let wait = "wait-for-processing-job"

    @Test("registrations survive a restart, and SIGTERM exits 0 within 10 s")
    func restart() async throws {
        let emulator = try await Emulator.start("restart")
        defer { emulator.stop() }
        let d = emulator.deployment
        let log = emulator.directory.appendingPathComponent("service.log")
        let first = try ServiceProcess(["serve"], environment: emulator.serviceEnvironment, log: log)
        let arn = try await d.startExecution(Self.wait, name: "run-restart", input: ["ProcessingJobName": "job-restart"])
        try await emulator.eventually("the callback is pending") { try emulator.counts().pending == 1 }
        let token = try emulator.read { try $0.listPending(limit: 1) }.first?.taskToken ?? ""
        #expect(!token.isEmpty)
        let (status, took) = try await first.terminate()
        #expect(status == 0, "exit status \(status): \(first.output.suffix(2000))")
        #expect(took < .seconds(10), "SIGTERM took \(took)")

        let second = try ServiceProcess(["serve"], environment: emulator.serviceEnvironment, log: log)
        try await d.publishProcessingJob("job-restart", status: "Completed")
        #expect(try await d.waitForExecution(arn)["status"] == "SUCCEEDED")
        let (again, _) = try await second.terminate()
        #expect(again == 0)
        #expect(second.output.contains("callback.delivered"), "the delivery is logged")
        #expect(!second.output.contains(token), "no task token in the logs")
    }

    @Test("kill -9 in the middle of a burst of completions loses nothing and completes each task once")
    func crash() async throws {
        let emulator = try await Emulator.start("crash")
        defer { emulator.stop() }
        let d = emulator.deployment
        let log = emulator.directory.appendingPathComponent("service.log")
        var service = try ServiceProcess(["serve"], environment: emulator.serviceEnvironment, log: log)
        let total = 40
        var executions: [String] = []
        for index in 0..<total {
            executions.append(
                try await d.startExecution(Self.wait, name: "burst-\(index)", input: ["ProcessingJobName": .string("burst-job-\(index)")]))
        }
        try await emulator.eventually("\(total) callbacks pending", timeout: .seconds(60)) { try emulator.counts().pending == total }

        for index in 0..<(total / 2) { try await d.publishProcessingJob("burst-job-\(index)", status: "Completed") }
        try await emulator.eventually("the first completions are under way") { try emulator.counts().closed > 0 }
        service.crash()
        let atCrash = try emulator.counts()
        for index in (total / 2)..<total { try await d.publishProcessingJob("burst-job-\(index)", status: "Completed") }
        #expect(atCrash.pending > 0 || atCrash.outbox > 0, "the kill came after the burst: \(atCrash)")

        service = try ServiceProcess(["serve"], environment: emulator.serviceEnvironment, log: log)
        for arn in executions {
            #expect(try await d.waitForExecution(arn, timeout: .seconds(90))["status"] == "SUCCEEDED")
        }
        for arn in executions {
            #expect(try await emulator.historyTypes(arn).filter { $0 == "TaskSucceeded" }.count == 1)
        }
        try await emulator.eventually("the outbox empties") { try emulator.counts().outbox == 0 }
        let end = try emulator.counts()
        #expect(end.pending == 0)
        #expect(end.closed == total)
        _ = try await service.terminate()
    }

    @Test(
        "bad configuration: one line naming the option, exit 64",
        arguments: [
            ([String](), [String: String](), "--events-queue-url"),
            (["--events-queue-url", "nope"], [:], "--events-queue-url"),
            (["--log-level", "loud"], ["SAGEMAKER_CALLBACK_EVENTS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/1/q"], "--log-level"),
            (["--bogus-flag"], [:], "--bogus-flag"),
            (["--events-queue-url", "http://127.0.0.1:1/1/q"], ["AWS_EC2_METADATA_DISABLED": "true"], "--region"),
        ])
    func badConfiguration(arguments: [String], environment: [String: String], option: String) async throws {
        let result = try await ServiceProcess.run(["serve"] + arguments, environment: environment)
        #expect(result.status == 64)
        let lines = result.err.split(separator: "\n")
        #expect(lines.count == 1, "stderr: \(result.err)")
        #expect(result.err.contains(option), "stderr: \(result.err)")
    }

    @Test("replay: recorded events into a fresh database, and what it answers")
    func replay() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("replay-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let events = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("events")
        let database = directory.appendingPathComponent("r.sqlite").path
        let valid = try await ServiceProcess.run(
            [
                "replay", "--database", database, events.appendingPathComponent("batch-jsonl.jsonl").path,
                events.appendingPathComponent("other-detail-type.json").path,
            ], environment: [:])
        #expect(valid.status == 0, "\(valid.err)")
        #expect(valid.out.contains("6 events, 0 rejected"), "\(valid.out)")
        let dry = try await ServiceProcess.run(
            ["replay", "--dry-run", "--database", database, events.appendingPathComponent("processing-failed.json").path], environment: [:])
        #expect(dry.status == 0)
        #expect(dry.out.contains("kept for a registration"), "\(dry.out)")
        let bad = try await ServiceProcess.run(
            ["replay", "--database", database, events.appendingPathComponent("malformed-not-json.txt").path], environment: [:])
        #expect(bad.status == 65)
        #expect(bad.out.contains("rejected: not JSON"))
        let list = try await ServiceProcess.run(["list", "--json", "--database", database], environment: [:])
        #expect(list.status == 0)
        let listing = try JSONValue.parse(list.out)
        #expect(listing["counts"]?["earlyEvents"] == 4)
        #expect(listing["counts"]?["rejected"] == 2)
        let attributes = try FileManager.default.attributesOfItem(atPath: database)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }

    @Test("register by hand, then replay a recorded event: the execution completes, with no serve running")
    func registerAndReplay() async throws {
        let emulator = try await Emulator.start("by-hand")
        defer { emulator.stop() }
        let d = emulator.deployment
        let arn = try await d.startExecution(Self.wait, name: "run-by-hand", input: ["ProcessingJobName": "job-by-hand"])
        var registration: SQSMessage?
        try await emulator.eventually("the registration reaches the requests queue") {
            registration = try await SQS(client: d.client).receiveMessages(queueURL: d.requestsQueueURL, waitSeconds: 1).first
            return registration != nil
        }
        var environment = emulator.moto.processEnvironment()
        environment["SAGEMAKER_CALLBACK_DATABASE"] = emulator.databasePath

        let registered = try await ServiceProcess.run(["register", "--message", try #require(registration).body], environment: environment)
        #expect(registered.status == 0, "\(registered.err)")
        #expect(registered.out.hasPrefix("registered"), "\(registered.out)")
        #expect(!registered.out.contains(try #require(registration).body), "the token is never printed")
        let invalid = try await ServiceProcess.run(["register", "--task-token", "t", "--processing-job-name", "bad_name"], environment: environment)
        #expect(invalid.status == 65)

        let event = emulator.directory.appendingPathComponent("event.json")
        let detail = LocalDeployment.processingDetail("job-by-hand", status: "Completed")
        let body: JSONObject = ["detail-type": "SageMaker Processing Job State Change", "source": "aws.sagemaker", "detail": .object(detail)]
        try JSONValue.object(body).serialized().write(to: event, atomically: true, encoding: .utf8)
        let replayed = try await ServiceProcess.run(["replay", event.path], environment: environment)
        #expect(replayed.status == 0, "\(replayed.err)")
        #expect(replayed.out.contains("outcomes delivered: 1"), "\(replayed.out)")
        #expect(try await d.waitForExecution(arn)["status"] == "SUCCEEDED")
    }

    @Test("doctor: a healthy set-up passes every check; each broken part fails with one line")
    func doctor() async throws {
        let emulator = try await Emulator.start("doctor")
        defer { emulator.stop() }
        let healthy = try await ServiceProcess.run(["doctor"], environment: emulator.serviceEnvironment)
        #expect(healthy.status == 0, "\(healthy.out)\(healthy.err)")
        for name in [
            "region", "credentials", "account", "events queue", "requests queue", "states:SendTaskHeartbeat", "sagemaker:DescribeProcessingJob",
            "sagemaker:StopProcessingJob", "database",
        ] {
            #expect(healthy.out.contains("ok   \(name)"), "\(name): \(healthy.out)")
        }

        var missingQueue = emulator.serviceEnvironment
        missingQueue["SAGEMAKER_CALLBACK_REQUESTS_QUEUE_URL"] = emulator.deployment.requestsQueueURL + "-gone"
        let queue = try await ServiceProcess.run(["doctor"], environment: missingQueue)
        #expect(queue.status != 0)
        #expect(
            queue.out.split(separator: "\n").filter { $0.hasPrefix("FAIL") }.map(String.init).contains { $0.hasPrefix("FAIL requests queue: ") },
            "\(queue.out)")

        var noCredentials = emulator.serviceEnvironment
        noCredentials["AWS_ACCESS_KEY_ID"] = nil
        noCredentials["AWS_SECRET_ACCESS_KEY"] = nil
        noCredentials["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent/credentials"
        noCredentials["AWS_CONFIG_FILE"] = "/nonexistent/config"
        // Only loopback traffic in tests: the instance metadata service is not asked.
        noCredentials["AWS_EC2_METADATA_DISABLED"] = "true"
        let credentials = try await ServiceProcess.run(["doctor"], environment: noCredentials)
        #expect(credentials.status != 0)
        #expect(credentials.out.contains("FAIL credentials:"), "\(credentials.out)")

        var unreachable = emulator.serviceEnvironment
        unreachable["AWS_ENDPOINT_URL"] = "http://127.0.0.1:1"
        let down = try await ServiceProcess.run(["doctor"], environment: unreachable)
        #expect(down.status != 0)
        #expect(down.out.contains("FAIL events queue: unreachable"), "\(down.out)")

        let unconfigured = try await ServiceProcess.run(["doctor"], environment: [:])
        #expect(unconfigured.status != 0)
        #expect(unconfigured.out.contains("FAIL configuration: --events-queue-url"), "\(unconfigured.out)")
    }

    @Test("the region chain ends at the instance metadata service (IMDSv2), here a loopback stand-in, asked directly whatever http_proxy says")
    func instanceRegion() async throws {
        let script = """
            import http.server, sys
            class IMDS(http.server.BaseHTTPRequestHandler):
                def log_message(self, *args): pass
                def answer(self, status, body):
                    self.send_response(status); self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
                def do_PUT(self):
                    ok = self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
                    self.answer(200 if ok else 400, b"imds-token" if ok else b"")
                def do_GET(self):
                    if self.headers.get("X-aws-ec2-metadata-token") != "imds-token": return self.answer(401, b"")
                    self.answer(200, b"eu-north-1") if self.path == "/latest/meta-data/placement/region" else self.answer(404, b"")
            server = http.server.HTTPServer(("127.0.0.1", 0), IMDS)
            print(server.server_address[1], flush=True)
            server.serve_forever()
            """
        let imds = Process()
        imds.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        imds.arguments = ["python3", "-c", script]
        let pipe = Pipe()
        imds.standardOutput = pipe
        try imds.run()
        // SIGKILL: a child of a Swift process inherits its blocked signals, SIGTERM among them.
        defer { kill(imds.processIdentifier, SIGKILL); imds.waitUntilExit() }
        let port = String(decoding: pipe.fileHandleForReading.availableData, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(Int(port) != nil)
        let result = try await ServiceProcess.run(
            ["doctor", "--events-queue-url", "http://127.0.0.1:1/123456789012/events"],
            environment: [
                "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:\(port)", "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
                // A proxy nothing listens on (curl would send even loopback requests to it): the
                // metadata service must be asked straight, never through whatever the environment names.
                "http_proxy": "http://127.0.0.1:1", "all_proxy": "http://127.0.0.1:1",
                "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y",
                "AWS_CONFIG_FILE": "/nonexistent/config", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
            ])
        #expect(result.out.hasPrefix("ok   region: eu-north-1"), "\(result.out)\(result.err)")
        #expect(result.status != 0, "the queue is unreachable")
    }
}
