import AWS
import CallbackStore
import Foundation
import JSON
import Moto
import Relay
import Testing

/// Real executions on moto, completed by the service running in-process.
@Suite("Workflows on the emulator", .timeLimit(.minutes(3)))
struct WorkflowTests {
    static let wait = "wait-for-processing-job"

    @Test("completed, failed and stopped jobs end executions as the contract says", arguments: Backend.allCases)
    func outcomes(_ backend: Backend) async throws {
        let emulator = try await Emulator.start("outcomes", backend: backend)
        defer { emulator.stop() }
        let relay = try await InProcessRelay.start(emulator)
        let d = emulator.deployment
        var executions: [String: String] = [:]
        for (job, status) in [("job-ok", "Completed"), ("job-bad", "Failed"), ("job-halt", "Stopped")] {
            executions[status] = try await d.startExecution(Self.wait, name: "run-\(job)", input: ["ProcessingJobName": .string(job)])
        }
        try await emulator.eventually("three callbacks pending") { try await emulator.storeCounts().pending == 3 }
        try await d.publishProcessingJob("job-ok", status: "Completed")
        try await d.publishProcessingJob("job-bad", status: "Failed", failureReason: "AlgorithmError: out of memory")
        try await d.publishProcessingJob("job-halt", status: "Stopped")

        let ok = try await d.waitForExecution(try #require(executions["Completed"]))
        #expect(ok["status"] == "SUCCEEDED")
        let outputText = try #require(ok["output"]?.stringValue)
        let output = try #require(try JSONValue.parse(outputText).objectValue)
        #expect(output["ProcessingJob"]?["ProcessingJobName"] == "job-ok")
        #expect(output["ProcessingJob"]?["ProcessingJobStatus"] == "Completed")
        #expect(output["ProcessingJob"]?["Tags"]?["team"] == "ml-platform")

        for (status, error) in [("Failed", "SageMaker.ProcessingJobFailed"), ("Stopped", "SageMaker.ProcessingJobStopped")] {
            let arn = try #require(executions[status])
            let description = try await d.waitForExecution(arn)
            #expect(description["status"] == "FAILED")
            let failed = try await d.history(arn).first { $0["type"] == "TaskFailed" }
            #expect(failed?["taskFailedEventDetails"]?["error"]?.stringValue == error)
        }
        try await relay.stop()
        #expect(try await emulator.storeCounts().pending == 0)
        #expect(try await emulator.storeCounts().outbox == 0)
    }

    @Test("an event that arrives before its registration still completes the task")
    func eventFirst() async throws {
        let emulator = try await Emulator.start("early")
        defer { emulator.stop() }
        let relay = try await InProcessRelay.start(emulator)
        let d = emulator.deployment
        try await d.publishProcessingJob("job-early", status: "Completed")
        try await emulator.eventually("the early event is kept") { try emulator.counts().earlyEvents == 1 }
        let arn = try await d.startExecution(Self.wait, name: "run-early", input: ["ProcessingJobName": "job-early"])
        let description = try await d.waitForExecution(arn)
        #expect(description["status"] == "SUCCEEDED")
        try await relay.stop()
    }

    @Test("duplicate events leave exactly one TaskSucceeded in the history")
    func duplicates() async throws {
        let emulator = try await Emulator.start("dups")
        defer { emulator.stop() }
        let relay = try await InProcessRelay.start(emulator)
        let d = emulator.deployment
        let arn = try await d.startExecution(Self.wait, name: "run-dup", input: ["ProcessingJobName": "job-dup"])
        try await emulator.eventually("the callback is pending") { try emulator.counts().pending == 1 }
        for _ in 0..<4 { try await d.publishProcessingJob("job-dup", status: "Completed") }
        #expect(try await d.waitForExecution(arn)["status"] == "SUCCEEDED")
        try await emulator.eventually("the events queue drains") { try await d.queueDepth(d.eventsQueueURL) == 0 }
        try await emulator.eventually("the outbox empties") { try emulator.counts().outbox == 0 }
        #expect(try await emulator.historyTypes(arn).filter { $0 == "TaskSucceeded" }.count == 1)
        try await relay.stop()
    }

    @Test("unrelated jobs, malformed messages and other detail types do not stop the service; the queue drains")
    func badInput() async throws {
        let emulator = try await Emulator.start("noise")
        defer { emulator.stop() }
        let relay = try await InProcessRelay.start(emulator)
        let d = emulator.deployment
        let sqs = SQS(client: d.client)
        for body in [
            "{not json", "[]", #"{"detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","detail":{}}"#,
            #"{"detail-type":"SageMaker Processing Job State Change","source":"aws.sagemaker","detail":{"ProcessingJobStatus":"Completed"}}"#,
            String(repeating: "x", count: 200_000),
        ] {
            try await sqs.sendMessage(queueURL: d.eventsQueueURL, body: body)
        }
        try await sqs.sendMessage(queueURL: d.requestsQueueURL, body: #"{"ProcessingJobName":"tokenless"}"#)
        try await d.publishProcessingJob("someone-elses-job", status: "InProgress")
        try await d.publishProcessingJob("another-job", status: "Failed", failureReason: "nobody waits")
        let arn = try await d.startExecution(Self.wait, name: "run-after-noise", input: ["ProcessingJobName": "job-after-noise"])
        try await emulator.eventually("the callback is pending") { try emulator.counts().pending == 1 }
        try await d.publishProcessingJob("job-after-noise", status: "Completed")
        #expect(try await d.waitForExecution(arn)["status"] == "SUCCEEDED")
        try await emulator.eventually("both queues drain") {
            let events = try await d.queueDepth(d.eventsQueueURL)
            let requests = try await d.queueDepth(d.requestsQueueURL)
            return events == 0 && requests == 0
        }
        #expect(try emulator.counts().rejected == 6)
        try await relay.stop()
    }

    @Test("the CreateProcessingJob form really creates the job in SageMaker", arguments: Backend.allCases)
    func createForm(_ backend: Backend) async throws {
        let emulator = try await Emulator.start("create", backend: backend)
        let job = "\(emulator.name)-job"
        defer { emulator.stop() }
        let relay = try await InProcessRelay.start(emulator)
        let d = emulator.deployment
        let request = JobKindTests.createRequest(.processing, name: job)
        let arn = try await d.startExecution("start-and-wait-processing-job", name: "run-create", input: ["CreateProcessingJob": .object(request)])
        let sageMaker = SageMaker(client: d.client)
        try await emulator.eventually("the job exists in SageMaker") {
            try await sageMaker.describeProcessingJob(name: job)["ProcessingJobName"]?.stringValue == job
        }
        let described = try await sageMaker.describeProcessingJob(name: job)
        #expect(described["AppSpecification"]?["ImageUri"] == "123456789012.dkr.ecr.us-east-1.amazonaws.com/job:1")
        try await d.publishProcessingJob(job, status: "Completed")
        #expect(try await d.waitForExecution(arn)["status"] == "SUCCEEDED")
        try await relay.stop()
    }
}
