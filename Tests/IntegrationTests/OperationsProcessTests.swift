import AWS
import CallbackStore
import Foundation
import HTTP
import JSON
import Moto
import Store
import Testing

/// The real binary's operator surface: `/metrics`, `/health/*`, `health`, `--log-format json`,
/// and the listener under hostile clients, against moto.
@Suite("Operations of the service process", .timeLimit(.minutes(6)))
struct OperationsProcessTests {
    static let wait = "wait-for-processing-job"

    /// The Python of the venv moto comes from, with `prometheus_client` (the Makefile installs it).
    static func python() throws -> String {
        let python = URL(fileURLWithPath: try MotoServer.executable()).deletingLastPathComponent().appendingPathComponent("python").path
        return python
    }

    /// Parses exposition text with `prometheus_client`'s parser; returns `name{k="v",…}` → value
    /// (labels sorted), or records an issue when it does not parse.
    static func parse(_ text: String) throws -> [String: Double] {
        let script = """
            import json, sys
            from prometheus_client.parser import text_string_to_metric_families
            out = {}
            for family in text_string_to_metric_families(sys.stdin.read()):
                for s in family.samples:
                    labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
                    out[s.name + ("{" + labels + "}" if labels else "")] = s.value
            print(json.dumps(out))
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try python())
        process.arguments = ["-c", script]
        let input = Pipe(), output = Pipe(), errors = Pipe()
        (process.standardInput, process.standardOutput, process.standardError) = (input, output, errors)
        try process.run()
        input.fileHandleForWriting.write(Data(text.utf8))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let problem = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0, let object = try JSONValue.parse(Array(data)).objectValue else {
            Issue.record("prometheus_client could not parse the exposition (install it: make venv): \(problem.suffix(1000))")
            return [:]
        }
        return Dictionary(uniqueKeysWithValues: object.compactMap { key, value in value.doubleValue.map { (key, $0) } })
    }

    static func get(_ address: String, _ path: String) async throws -> (status: Int, body: String) {
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        let response = try await client.execute(HTTPRequest(method: "GET", url: "http://\(address)\(path)", timeout: .seconds(10)))
        return (response.status, String(decoding: response.body, as: UTF8.self))
    }

    @Test("metrics count what happened; readiness follows the queue endpoint; json logs; hostile clients change nothing")
    func operations() async throws {
        let emulator = try await Emulator.start("ops")
        defer { emulator.stop() }
        let d = emulator.deployment
        let proxy = try CuttableProxy(target: emulator.moto.port)
        var environment = emulator.serviceEnvironment
        environment["AWS_ENDPOINT_URL_SQS"] = proxy.endpoint
        // The chosen address is logged.
        let (service, address, _, _) = try await emulator.startServeWithListener(environment)
        func health() async throws -> (status: Int32, line: String) {
            let result = try await ServiceProcess.run(["health", "--http-address", address], environment: [:])
            return (result.status, result.out.trimmingCharacters(in: .newlines))
        }
        try await emulator.eventually("health exits 0", timeout: .seconds(60)) { try await health().status == 0 }
        #expect(try await health().line == "healthy: serve at \(address) is ready")
        #expect(try await Self.get(address, "/nothing").status == 404)

        // Hostile clients, all the while: slow ones, a 1 MB header, 1,000 connections at once.
        let port = UInt16(address.split(separator: ":").last.map(String.init) ?? "") ?? 0
        let hostile = HostileClients.start(port: port, connections: 1_000)

        let count = 6
        var executions: [String] = []
        for index in 0..<count {
            executions.append(try await d.startExecution(Self.wait, name: "ops-\(index)", input: ["ProcessingJobName": .string("ops-job-\(index)")]))
        }
        let rejected = 2
        for index in 0..<rejected { try await d.sendRegistration(["Nonsense": .string("\(index)")]) }
        try await emulator.eventually("\(count) callbacks pending", timeout: .seconds(60)) { try emulator.counts().pending == count }
        let tokens = try emulator.read { try $0.listPending(limit: count) }.map(\.taskToken)
        // Scraped once the hostile clients are done: while they hold the listener's places, a
        // scrape is turned away like any other connection.
        let survived = await hostile.finish()
        #expect(survived.turnedAway > 0, "some of the 1,000 connections were turned away: \(survived)")
        #expect(survived.slowCut, "the slow client was cut off: \(survived)")
        #expect(survived.hugeHeaderRefused, "the 1 MB header was refused: \(survived)")
        let during = try Self.parse(try await Self.get(address, "/metrics").body)
        #expect(during["sagemaker_callback_registrations_total"] == Double(count))
        for index in 0..<count { try await d.publishProcessingJob("ops-job-\(index)", status: "Completed") }
        for arn in executions {
            #expect(try await d.waitForExecution(arn, timeout: .seconds(90))["status"] == "SUCCEEDED")
        }

        try await emulator.eventually("the delivered callbacks are counted") {
            let after = try Self.parse(try await Self.get(address, "/metrics").body)
            return after[#"sagemaker_callback_callbacks_total{action="success",result="delivered"}"#] == Double(count)
        }
        let after = try Self.parse(try await Self.get(address, "/metrics").body)
        #expect(after["sagemaker_callback_registrations_total"] == Double(count))
        #expect(after[#"sagemaker_callback_messages_decided_total{decision="rejected",queue="requests"}"#] == Double(rejected))
        #expect(after[#"sagemaker_callback_messages_decided_total{decision="completed",queue="events"}"#] == Double(count))
        #expect(after[#"sagemaker_callback_messages_received_total{queue="requests"}"#] == Double(count + rejected))
        #expect(after["sagemaker_callback_event_to_callback_seconds_count"] == Double(count))
        #expect((after[#"sagemaker_callback_aws_calls_total{operation="SendTaskSuccess",outcome="success",service="states"}"#] ?? 0) >= Double(count))
        #expect((after["sagemaker_callback_store_commit_duration_seconds_count"] ?? 0) > 0)
        #expect(after["process_start_time_seconds"] != nil)

        // The queue endpoint goes away: not ready (liveness stays), then ready again.
        proxy.cut()
        try await emulator.eventually("health exits 1", timeout: .seconds(60)) { try await health().status == 1 }
        let down = try await health().line
        #expect(down.hasPrefix("unhealthy:") && down.contains("queue"), "\(down)")
        let ready = try await Self.get(address, "/health/ready")
        #expect(ready.status == 503)
        #expect(try JSONValue.parse(Array(ready.body.utf8))["checks"]?["store"]?["ok"]?.boolValue == true)
        #expect(try await Self.get(address, "/health/live").status == 200)
        try proxy.restore()
        try await emulator.eventually("health exits 0 again", timeout: .seconds(90)) { try await health().status == 0 }

        let (status, _) = try await service.terminate()
        #expect(status == 0)
        #expect(try emulator.read { try $0.listRejected(limit: 10) }.count == rejected)
        // Every line is one JSON object with the fields; none carries a task token.
        let lines = service.output.split(separator: "\n")
        #expect(lines.count > count)
        for line in lines {
            guard let object = try? JSONValue.parse(Array(line.utf8)), object.objectValue != nil else {
                Issue.record("not a JSON object: \(line.prefix(300))")
                continue
            }
            if object["_aws"] != nil { continue }
            for field in ["timestamp", "level", "message", "logger"] {
                #expect(object[field]?.stringValue != nil, "\(field) in \(line.prefix(300))")
            }
        }
        #expect(tokens.count == count && tokens.allSatisfy { !$0.isEmpty })
        for token in tokens { #expect(!service.output.contains(token), "no task token in the logs") }
    }
}
