import AWS
import Foundation
import JSON
import Moto

/// `make demo`: the service end to end on a local AWS emulator. It deploys what `infra/` defines
/// (queues, the EventBridge rule, the example state machines) on moto, starts the real
/// `sagemaker-callback serve`, runs a handful of workflows, publishes SageMaker job events as
/// SageMaker would, and prints how each execution ended and how fast it resumed.
@main
struct Demo {
    struct Workflow {
        var job: String
        var outcome: String // the event SageMaker will publish
        var creates = false // the service creates the job (start-and-wait form)
        var executionArn = ""
        var publishedAt = 0.0
    }

    static func main() async {
        do {
            try await run()
        } catch {
            FileHandle.standardError.write(Data("demo failed: \(error)\n".utf8))
            exit(1)
        }
    }

    static func say(_ text: String) { print("==> \(text)") }

    static func run() async throws {
        say("starting the AWS emulator (moto) on 127.0.0.1")
        let moto = try await MotoServer.start()
        defer { moto.stop() }
        let client = try moto.client()
        let deployment = try await LocalDeployment.create(on: client, prefix: "demo")
        say("deployed from infra/: queues, EventBridge rule, state machines \(LocalDeployment.stateMachineNames.joined(separator: ", "))")

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sagemaker-callback-demo-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = directory.appendingPathComponent("state.sqlite").path
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in moto.processEnvironment() { environment[key] = value }
        environment["SAGEMAKER_CALLBACK_EVENTS_QUEUE_URL"] = deployment.eventsQueueURL
        environment["SAGEMAKER_CALLBACK_REQUESTS_QUEUE_URL"] = deployment.requestsQueueURL
        environment["SAGEMAKER_CALLBACK_DATABASE"] = database

        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("sagemaker-callback").path
        let service = Process()
        service.executableURL = URL(fileURLWithPath: binary)
        service.arguments = ["serve"]
        service.environment = environment
        let logPath = directory.appendingPathComponent("service.log")
        _ = FileManager.default.createFile(atPath: logPath.path, contents: nil)
        service.standardError = try FileHandle(forWritingTo: logPath)
        try service.run()
        say("started: sagemaker-callback serve (pid \(service.processIdentifier))")

        var workflows = [
            Workflow(job: "preprocess-2026-11-21", outcome: "Completed"),
            Workflow(job: "feature-store-ingest", outcome: "Completed"),
            Workflow(job: "evaluate-model-v7", outcome: "Completed"),
            Workflow(job: "bias-report", outcome: "Failed"),
            Workflow(job: "nightly-backfill", outcome: "Stopped"),
            Workflow(job: "created-by-the-service", outcome: "Completed", creates: true),
        ]
        for index in workflows.indices {
            let job = workflows[index].job
            if workflows[index].creates {
                let request: JSONObject = [
                    "ProcessingJobName": .string(job),
                    "ProcessingResources": ["ClusterConfig": ["InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 30]],
                    "AppSpecification": ["ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/preprocess:latest"],
                    "RoleArn": "arn:aws:iam::123456789012:role/SageMakerExecution",
                ]
                workflows[index].executionArn = try await deployment.startExecution(
                    "start-and-wait-processing-job", name: "demo-\(job)", input: ["CreateProcessingJob": .object(request)]
                )
            } else {
                workflows[index].executionArn = try await deployment.startExecution(
                    "wait-for-processing-job", name: "demo-\(job)", input: ["ProcessingJobName": .string(job)]
                )
            }
        }
        say("started \(workflows.count) executions; waiting until the service holds their task tokens")
        try await waitUntil(timeout: 60) {
            let listing = try runList(binary: binary, environment: environment)
            return listing["counts"]?["pending"]?.int64Value == Int64(workflows.count)
        }

        say("publishing SageMaker job state change events through EventBridge")
        for index in workflows.indices {
            let workflow = workflows[index]
            workflows[index].publishedAt = Date().timeIntervalSince1970
            try await deployment.publishProcessingJob(
                workflow.job, status: workflow.outcome,
                failureReason: workflow.outcome == "Failed" ? "ClientError: ground truth manifest not found" : nil
            )
            try await Task.sleep(for: .milliseconds(200))
        }

        var rows: [[String]] = [["execution", "job", "event", "status", "error", "event → resume"]]
        var latencies: [Double] = []
        for workflow in workflows {
            let description = try await deployment.waitForExecution(workflow.executionArn, timeout: .seconds(60))
            let history = try await deployment.history(workflow.executionArn)
            let closed = history.first { ["TaskSucceeded", "TaskFailed"].contains($0["type"]?.stringValue ?? "") }
            let resumedAt = closed?["timestamp"].flatMap(seconds) ?? Date().timeIntervalSince1970
            let millis = max(0, (resumedAt - workflow.publishedAt) * 1000)
            latencies.append(millis)
            let error = closed?["taskFailedEventDetails"]?["error"]?.stringValue ?? "-"
            rows.append([
                "demo-\(workflow.job)", workflow.job, workflow.outcome, description["status"]?.stringValue ?? "?", error,
                String(format: "%.0f ms", millis),
            ])
        }
        print("")
        printTable(rows)
        print("")
        let sorted = latencies.sorted()
        say(
            String(
                format: "event → resume: median %.0f ms, max %.0f ms (includes EventBridge → SQS delivery on the emulator)",
                sorted[sorted.count / 2], sorted.last ?? 0))

        service.terminate()
        service.waitUntilExit()
        say("sagemaker-callback stopped on SIGTERM with exit status \(service.terminationStatus)")
        let ok = rows.dropFirst().allSatisfy { row in
            (row[2] == "Completed") == (row[3] == "SUCCEEDED")
        }
        if !ok || service.terminationStatus != 0 {
            FileHandle.standardError.write(Data("demo: an execution did not end as expected; service log:\n".utf8))
            FileHandle.standardError.write((try? Data(contentsOf: logPath)) ?? Data())
            exit(1)
        }
    }

    static func seconds(_ value: JSONValue) -> Double? {
        if let number = value.doubleValue { return number > 1e11 ? number / 1000 : number }
        return nil
    }

    static func runList(binary: String, environment: [String: String]) throws -> JSONValue {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["list", "--json"]
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return try JSONValue.parse(Array(data))
    }

    static func waitUntil(timeout: Double, _ condition: () async throws -> Bool) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if (try? await condition()) == true { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw MotoUnavailable(message: "timed out after \(Int(timeout)) s")
    }

    static func printTable(_ rows: [[String]]) {
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        for (index, row) in rows.enumerated() {
            print(row.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }.joined(separator: "  "))
            if index == 0 { print(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")) }
        }
    }
}
