import AWS
import Foundation
import JSON
import Logging
import Moto
import Relay
import CallbackStore
import Store
import Testing

/// Stop on abort, heartbeats and the safety sweep with real executions on the emulator. moto's
/// Stop*Job answers 500 and moto never throttles, so those tests point SageMaker at a stand-in
/// the test owns, while SQS and Step Functions stay on moto.
@Suite("Stop on abort, heartbeats and the sweep", .timeLimit(.minutes(3)))
struct LifecycleWorkflowTests {
    static func processingRequest(_ name: String) -> JSONObject { JobKindTests.createRequest(.processing, name: name) }

    /// The pending callbacks in the service's store, read beside it.
    static func pending(_ emulator: Emulator) throws -> [PendingCallback] {
        try emulator.read { try $0.listPending(limit: 100) }
    }

    @Test("an aborted execution stops the job the service created, and only that one", arguments: Backend.allCases)
    func stopOnAbort(_ backend: Backend) async throws {
        let emulator = try await Emulator.start("abort", backend: backend)
        defer { emulator.stop() }
        let sageMaker = try SageMakerStandIn()
        defer { sageMaker.stop() }
        let relay = try await InProcessRelay.start(emulator, environment: ["AWS_ENDPOINT_URL_SAGEMAKER": sageMaker.endpoint])
        let d = emulator.deployment

        // One workflow has the service create its job; another waits for a job created elsewhere.
        let created = try await d.startExecution(
            "start-and-wait-processing-job", name: "abort-created", input: ["CreateProcessingJob": .object(Self.processingRequest("abort-me"))])
        sageMaker.setJob(nameField: "ProcessingJobName", name: "not-mine", .running)
        let waiting = try await d.startExecution("wait-for-processing-job", name: "abort-waiting", input: ["ProcessingJobName": "not-mine"])
        try await emulator.eventually("both callbacks pending and the job created") {
            try await emulator.storeCounts().pending == 2 && sageMaker.job(nameField: "ProcessingJobName", name: "abort-me") == .running
        }

        for (arn, machine) in [(created, "start-and-wait-processing-job"), (waiting, "wait-for-processing-job")] {
            // moto accepts the stop but keeps a task that waits for a token RUNNING until the
            // token is used, and it emits no events: the test sends the status change itself.
            _ = try await d.client.call(.stepFunctions, "StopExecution", ["executionArn": .string(arn)])
            try await d.publishExecutionStatus(executionArn: arn, stateMachineArn: try #require(d.stateMachines[machine]), status: "ABORTED")
        }

        try await emulator.eventually("the created job is stopped") {
            sageMaker.job(nameField: "ProcessingJobName", name: "abort-me") == .stopped
        }
        try await emulator.eventually("both callbacks dropped, nothing left to deliver") {
            let counts = try await emulator.storeCounts()
            return counts.pending == 0 && counts.outbox == 0
        }
        let stops = sageMaker.calls("StopProcessingJob")
        #expect(stops.map { $0.body["ProcessingJobName"]?.stringValue } == ["abort-me"])
        #expect(sageMaker.job(nameField: "ProcessingJobName", name: "not-mine") == .running)
        try await relay.stop()
    }

    @Test("a registration that reaches the service only after its execution was aborted creates no job")
    func registrationAfterAbort() async throws {
        let emulator = try await Emulator.start("late")
        defer { emulator.stop() }
        let sageMaker = try SageMakerStandIn()
        defer { sageMaker.stop() }
        let d = emulator.deployment
        let arn = try await d.startExecution(
            "start-and-wait-processing-job", name: "late-run", input: ["CreateProcessingJob": .object(Self.processingRequest("never-wanted"))])
        try await emulator.eventually("the registration is queued") { try await d.queueDepth(d.requestsQueueURL) == 1 }
        _ = try await d.client.call(.stepFunctions, "StopExecution", ["executionArn": .string(arn)])
        try await d.publishExecutionStatus(
            executionArn: arn, stateMachineArn: try #require(d.stateMachines["start-and-wait-processing-job"]), status: "ABORTED")

        // First only the events queue is read (requests go to an empty queue), as when the requests
        // consumer lags behind after an outage; then the service runs whole.
        let elsewhere =
            try await d.client.call(.sqs, "CreateQueue", ["QueueName": .string("\(emulator.name)-elsewhere")])["QueueUrl"]?.stringValue ?? ""
        let eventsOnly = try await InProcessRelay.start(
            emulator,
            environment: [
                "AWS_ENDPOINT_URL_SAGEMAKER": sageMaker.endpoint, "SAGEMAKER_CALLBACK_REQUESTS_QUEUE_URL": elsewhere,
            ])
        try await emulator.eventually("the execution's end is known") {
            try emulator.read { try $0.executionEnd(executionArn: arn)?.status } == "ABORTED"
        }
        try await eventsOnly.stop()
        let relay = try await InProcessRelay.start(emulator, environment: ["AWS_ENDPOINT_URL_SAGEMAKER": sageMaker.endpoint])
        try await emulator.eventually("the registration is settled") { try emulator.counts().closed == 1 }
        try await relay.stop()

        #expect(sageMaker.calls("CreateProcessingJob").isEmpty)
        #expect(try emulator.counts().pending == 0)
        #expect(try emulator.counts().outbox == 0)
    }

    /// The example `train-with-heartbeats` machine with a 3 s heartbeat timeout, and the
    /// registration's `Heartbeat` flag as given.
    static func heartbeatMachine(_ d: LocalDeployment, heartbeat: Bool) throws -> String {
        var text = try Infra.stateMachineDefinition("train-with-heartbeats", requestsQueueURL: d.requestsQueueURL)
        text = text.replacingOccurrences(of: #""HeartbeatSeconds":300"#, with: #""HeartbeatSeconds":3"#)
        if !heartbeat { text = text.replacingOccurrences(of: #""Heartbeat":true"#, with: #""Heartbeat":false"#) }
        #expect(text.contains(#""HeartbeatSeconds":3"#) && text.contains(#""Heartbeat":\#(heartbeat)"#))
        return text
    }

    // Timed (see TIMED_TESTS in the Makefile): its backends run one after the other.
    @Test(
        "with heartbeats a 3 s HeartbeatSeconds survives a 10 s job; without them the task times out with States.Timeout",
        .serialized, arguments: Backend.allCases
    )
    func heartbeats(_ backend: Backend) async throws {
        let emulator = try await Emulator.start("beats", backend: backend)
        defer { emulator.stop() }
        let relay = try await InProcessRelay.start(emulator, environment: ["SAGEMAKER_CALLBACK_HEARTBEAT_INTERVAL": "1"])
        let d = emulator.deployment
        var machines: [Bool: String] = [:]
        for heartbeat in [true, false] {
            let response = try await d.client.call(
                .stepFunctions, "CreateStateMachine",
                [
                    "name": .string("\(emulator.name)-\(heartbeat)"), "definition": .string(try Self.heartbeatMachine(d, heartbeat: heartbeat)),
                    "roleArn": .string(JobKindTests.role), "type": "STANDARD",
                ])
            machines[heartbeat] = response["stateMachineArn"]?.stringValue
        }
        try await emulator.awaitQuietMachine()
        // Job names of the test's own: the emulator's SageMaker is shared.
        let beating = "\(emulator.name)-beating"
        let alive = try await d.startExecution(
            try #require(machines[true]), name: "with-beats",
            input: ["CreateTrainingJob": .object(JobKindTests.createRequest(.training, name: beating))])
        let silent = try await d.startExecution(
            try #require(machines[false]), name: "without-beats",
            input: ["CreateTrainingJob": .object(JobKindTests.createRequest(.training, name: "\(emulator.name)-silent"))])

        let started = ContinuousClock.now
        #expect(try await d.waitForExecution(silent, timeout: .seconds(30))["status"] == "FAILED")
        let timedOut = try await d.history(silent).first { $0["type"] == "TaskTimedOut" }
        #expect(timedOut?["taskTimedOutEventDetails"]?["error"] == "States.Timeout")
        #expect(try await emulator.historyTypes(silent).contains("TaskTimedOut"))

        // The job "runs" 10 s: the other execution must still be waiting then.
        try await Task.sleep(until: started + .seconds(10))
        #expect(try await d.describeExecution(alive)["status"] == "RUNNING")
        try await d.publishJobEvent(
            detailType: JobKind.training.detailType,
            detail: [
                "TrainingJobName": .string(beating), "TrainingJobStatus": "Completed", "SecondaryStatus": "Completed",
                "TrainingJobArn": .string("arn:aws:sagemaker:us-east-1:123456789012:training-job/\(beating)"),
            ])
        let finished = try await d.waitForExecution(alive)
        let timeline = try await d.history(alive).map { "\($0["timestamp"]?.serialized() ?? "?") \($0["type"]?.stringValue ?? "?")" }
        #expect(finished["status"] == "SUCCEEDED", "\(timeline)")
        #expect(try await emulator.historyTypes(alive).contains("TaskTimedOut") == false)
        try await relay.stop()
    }

    @Test(
        "the sweep completes a callback whose event never came, and fails one whose job does not exist with SageMaker.JobNotFound",
        arguments: Backend.allCases
    )
    func sweep(_ backend: Backend) async throws {
        let emulator = try await Emulator.start("sweep", backend: backend)
        defer { emulator.stop() }
        let relay = try await InProcessRelay.start(
            emulator,
            environment: [
                "SAGEMAKER_CALLBACK_SWEEP_AFTER": "2", "SAGEMAKER_CALLBACK_SWEEP_GRACE": "2", "SAGEMAKER_CALLBACK_SWEEP_RATE": "5",
            ])
        let d = emulator.deployment
        // moto creates the job and marks it Completed at once, and never sends its event.
        let quiet = try await d.startExecution(
            "start-and-wait-processing-job", name: "quiet", input: ["CreateProcessingJob": .object(Self.processingRequest("quiet-job"))])
        let phantom = try await d.startExecution("wait-for-processing-job", name: "phantom", input: ["ProcessingJobName": "no-such-job"])

        let completed = try await d.waitForExecution(quiet, timeout: .seconds(30))
        #expect(completed["status"] == "SUCCEEDED")
        let output = try JSONValue.parse(completed["output"]?.stringValue ?? "")
        #expect(output["ProcessingJob"]?["ProcessingJobStatus"] == "Completed")
        #expect(output["ProcessingJob"]?["ProcessingJobName"] == "quiet-job")

        let started = ContinuousClock.now
        #expect(try await d.waitForExecution(phantom, timeout: .seconds(30))["status"] == "FAILED")
        let failed = try await d.history(phantom).first { $0["type"] == "TaskFailed" }
        #expect(failed?["taskFailedEventDetails"]?["error"] == "SageMaker.JobNotFound")
        #expect(ContinuousClock.now - started < .seconds(30))
        try await emulator.eventually("nothing pending") { try await emulator.storeCounts().pending == 0 }
        try await relay.stop()
    }

    @Test("a restart keeps the sweep's state: a missing job's grace period runs on from where it was")
    func sweepSurvivesRestart() async throws {
        let emulator = try await Emulator.start("sweep-restart")
        defer { emulator.stop() }
        let settings = ["SAGEMAKER_CALLBACK_SWEEP_AFTER": "1", "SAGEMAKER_CALLBACK_SWEEP_GRACE": "8", "SAGEMAKER_CALLBACK_SWEEP_RATE": "10"]
        let first = try await InProcessRelay.start(emulator, environment: settings)
        try await emulator.deployment.sendRegistration(["TaskToken": "restart-token", "ProcessingJobName": "never-created"])
        try await emulator.eventually("the sweep found the job missing") {
            try Self.pending(emulator).first?.sweep.missingSince != nil
        }
        try await first.stop()
        let before = try #require(try Self.pending(emulator).first?.sweep)
        let missingSince = try #require(before.missingSince)
        #expect(before.status == "missing" && before.checks >= 1)
        #expect(before.nextCheckAt == missingSince + 8_000)

        // Down for about half the grace period, then up again.
        try await Task.sleep(for: .seconds(4))
        let second = try await InProcessRelay.start(emulator, environment: settings)
        try await emulator.eventually("the callback fails once the grace period ends", timeout: .seconds(40)) {
            try emulator.counts().pending == 0
        }
        try await second.stop()
        let closed = try #require(try emulator.read { try $0.closedToken(tokenHash: TaskTokens.hash("restart-token")) })
        // Had the restart begun a new grace period, the failure would come at least 1 + 8 s after
        // it, about 13 s after the job was first found missing.
        #expect(closed.closedAt - missingSince < 12_000, "closed \(closed.closedAt - missingSince) ms after the job was found missing")
        #expect(closed.closedAt - missingSince >= 8_000)
    }

    @Test("a still-running job is checked again later, and list shows what the sweep found")
    func sweepRecheck() async throws {
        let emulator = try await Emulator.start("recheck")
        defer { emulator.stop() }
        let sageMaker = try SageMakerStandIn()
        defer { sageMaker.stop() }
        sageMaker.setJob(nameField: "TrainingJobName", name: "long-train", .running)
        let relay = try await InProcessRelay.start(
            emulator,
            environment: [
                "AWS_ENDPOINT_URL_SAGEMAKER": sageMaker.endpoint, "SAGEMAKER_CALLBACK_SWEEP_AFTER": "1", "SAGEMAKER_CALLBACK_SWEEP_RATE": "10",
            ])
        try await emulator.deployment.sendRegistration(["TaskToken": "recheck-token", "TrainingJobName": "long-train"])
        try await emulator.eventually("two checks found it running") {
            try Self.pending(emulator).first?.sweep.checks ?? 0 >= 2
        }
        let callback = try #require(try Self.pending(emulator).first)
        #expect(callback.sweep.status == "InProgress" && callback.lastStatus == "InProgress")
        let store = try await CallbackRelay.openStore(.sqlite(path: emulator.databasePath), logger: Logger(label: "test"))
        defer { store.close() }
        let listing = try await Listing.read(store, limit: 10).text(now: WallClock.millisecondsNow())
        #expect(listing.contains("long-train") && listing.contains("checks, InProgress"))

        sageMaker.setJob(nameField: "TrainingJobName", name: "long-train", .completed)
        try await emulator.eventually("the next check completes it") { try emulator.counts().pending == 0 }
        // moto does not know this token: the success is recorded as already closed.
        try await emulator.eventually("nothing left to deliver") { try emulator.counts().outbox == 0 }
        let describes = sageMaker.calls("DescribeTrainingJob")
        #expect(describes.count >= 3)
        // Each re-check waits the sweep threshold (1 s) after the previous one.
        for (earlier, later) in zip(describes, describes.dropFirst()) {
            #expect(later.at - earlier.at >= .milliseconds(900))
        }
        try await relay.stop()
    }

    @Test(
        "under a throttling SageMaker the sweep stays within its rate and slows down, and still completes every callback", arguments: Backend.allCases
    )
    func sweepThrottled(_ backend: Backend) async throws {
        try await Self.throttledSweep(backend, replicas: 1)
    }

    @Test("two replicas on one table sweep within one --sweep-rate between them, not one each: the sweep's lease")
    func sweepThrottledFleet() async throws {
        try await Self.throttledSweep(.dynamoDB, replicas: 2)
    }

    /// Six callbacks whose events never came, swept by `replicas` services on one store through
    /// a throttling stand-in: the Describe calls it records, from every replica, keep one rate.
    static func throttledSweep(_ backend: Backend, replicas: Int) async throws {
        let emulator = try await Emulator.start("throttle", backend: backend)
        defer { emulator.stop() }
        let sageMaker = try SageMakerStandIn(throttle: SageMakerStandIn.Throttle(ratePerSecond: 0.5, burst: 1))
        defer { sageMaker.stop() }
        let jobs = (1...6).map { "throttled-\($0)" }
        for job in jobs { sageMaker.setJob(nameField: "ProcessingJobName", name: job, .completed) }
        let rate = 4.0
        var relays: [InProcessRelay] = []
        for _ in 0..<replicas {
            relays.append(
                try await InProcessRelay.start(
                    emulator,
                    environment: [
                        "AWS_ENDPOINT_URL_SAGEMAKER": sageMaker.endpoint, "SAGEMAKER_CALLBACK_SWEEP_AFTER": "1",
                        "SAGEMAKER_CALLBACK_SWEEP_RATE": "\(rate)",
                    ]))
        }
        for job in jobs { try await emulator.deployment.sendRegistration(["TaskToken": .string("token-\(job)"), "ProcessingJobName": .string(job)]) }
        // moto does not know these tokens: each completion ends as "already closed".
        try await emulator.eventually("every callback completed by the sweep", timeout: .seconds(90)) {
            let counts = try await emulator.storeCounts()
            return counts.closed == jobs.count && counts.pending == 0 && counts.outbox == 0
        }
        for relay in relays { try await relay.stop() }

        let calls = sageMaker.calls("DescribeProcessingJob")
        let throttled = calls.filter { $0.answeredStatus == 400 }.count
        #expect(calls.count - throttled == jobs.count)
        #expect(throttled > 0, "the stand-in throttled some calls")
        let base = Duration.seconds(1 / rate)
        for (earlier, later) in zip(calls, calls.dropFirst()) {
            // Never faster than the configured rate (a little slack for timer granularity)…
            #expect(later.at - earlier.at >= base * 0.95)
            // …and at least twice as slow right after a throttled answer.
            if earlier.answeredStatus == 400 { #expect(later.at - earlier.at >= base * 2 * 0.95) }
        }
    }
}
