import JSON
import Relay
import CallbackStore
import Store
import Testing

/// The engine over every file of `events/`: each kind of input gets the answer the README of
/// `events/` promises.
@Suite("Recorded events")
struct RecordedEventTests {
    /// What each event file must give when a callback waits for its job.
    enum Expected {
        case success(truncated: Bool)
        case failure(String)
        case running
        case rejected(String)
        case unsupported
        /// A Step Functions execution status change; `stops` when it stops the job of a callback
        /// that asked for it.
        case execution(ExecutionStatus, stops: Bool)
    }

    static let expectations: [String: Expected] = [
        "processing-completed-epoch-millis.json": .success(truncated: false),
        "processing-completed-duplicate.json": .success(truncated: false),
        "processing-completed-digit-strings.json": .success(truncated: false),
        "processing-completed-float-seconds.json": .success(truncated: false),
        "processing-completed-iso8601.json": .success(truncated: false),
        "processing-completed-minimal.json": .success(truncated: false),
        "processing-completed-unknown-fields.json": .success(truncated: false),
        "processing-completed-large-detail.json": .success(truncated: true),
        "processing-sns-wrapped.json": .success(truncated: false),
        "processing-failed.json": .failure("SageMaker.ProcessingJobFailed"),
        "processing-failed-long-reason.json": .failure("SageMaker.ProcessingJobFailed"),
        "processing-stopped.json": .failure("SageMaker.ProcessingJobStopped"),
        "processing-in-progress.json": .running,
        "processing-stopping.json": .running,
        "malformed-not-json.txt": .rejected("not JSON"),
        "malformed-missing-detail.json": .rejected("without a detail object"),
        "malformed-missing-job-name.json": .rejected("without a ProcessingJobName string"),
        "malformed-unknown-status.json": .rejected("unknown ProcessingJobStatus"),
        "malformed-wrong-types.json": .rejected("without a ProcessingJobName string"),
        "malformed-sns-bad-message.json": .rejected("SNS notification whose Message is not JSON"),
        "other-detail-type.json": .unsupported,
        "training-completed.json": .success(truncated: false),
        "training-failed.json": .failure("SageMaker.TrainingJobFailed"),
        "transform-stopped.json": .failure("SageMaker.TransformJobStopped"),
        "tuning-completed.json": .success(truncated: false),
        "execution-aborted.json": .execution(.aborted, stops: true),
        "execution-aborted-sns-wrapped.json": .execution(.aborted, stops: true),
        "execution-timed-out.json": .execution(.timedOut, stops: true),
        "execution-failed.json": .execution(.failed, stops: true),
        "execution-succeeded.json": .execution(.succeeded, stops: false),
        "execution-running.json": .execution(.running, stops: false),
        "malformed-execution-no-arn.json": .rejected("without an executionArn string"),
    ]

    static var eventFiles: [String] {
        RecordedFile.all.filter { !$0.hasPrefix("registration-") && !$0.hasPrefix("batch-") }
    }

    @Test("every event file has an expectation")
    func everyFileIsCovered() {
        let missing = Self.eventFiles.filter { Self.expectations[$0] == nil }
        #expect(missing.isEmpty, "event files without an expectation: \(missing)")
        #expect(Self.eventFiles.count >= 25)
    }

    @Test("an event with a waiting callback", arguments: eventFiles)
    func withWaitingCallback(file: String) throws {
        let body = try RecordedFile.text(file)
        let expected = try #require(Self.expectations[file])
        let correlator = Correlator(now: 1_700_000_000_000)
        let parsed: EventMessage
        do {
            parsed = try EventMessage.parse(body)
        } catch {
            guard case .rejected(let reason) = expected else {
                Issue.record("\(file) was rejected: \(error.reason)")
                return
            }
            #expect(error.reason.contains(reason), "\(file): \(error.reason)")
            let decision = correlator.decideRejectedEvent(reason: error.reason, unsupported: false, body: body, source: "test", messageID: nil)
            #expect(decision.verdict.isRejection)
            guard case .recordRejected(let record)? = decision.effects.first else {
                Issue.record("a rejection must be recorded")
                return
            }
            #expect(record.reason == error.reason)
            return
        }
        if case .executionStatusChange(let execution) = parsed {
            guard case .execution(let status, let stops) = expected else {
                Issue.record("\(file) unexpectedly parsed as an execution status change")
                return
            }
            #expect(execution.status == status)
            #expect(execution.executionArn.hasPrefix("arn:aws:states:"))
            let callback = PendingCallback(
                tokenHash: "h", taskToken: "t", jobKind: "TrainingJob", jobName: "nightly", registeredAt: 1,
                executionArn: execution.executionArn, createdByService: true, stopJobOnAbort: true
            )
            let decision = correlator.decide(execution, pending: status.hasEnded ? [callback] : [])
            let stopped = decision.effects.contains { if case .enqueue(let entry) = $0 { entry.action == .stopJob } else { false } }
            #expect(stopped == stops)
            #expect(decision.effects.contains(.removePending(tokenHash: "h")) == status.hasEnded)
            return
        }
        guard case .jobStateChange(let change) = parsed else {
            guard case .unsupported = expected else {
                Issue.record("\(file) was unexpectedly unsupported")
                return
            }
            return
        }
        #expect(JobKind.all.contains(change.kind))
        #expect(!change.jobName.isEmpty)
        #expect(
            change.changedAt.map { $0 > 1_400_000_000_000 && $0 < 4_000_000_000_000 } == true,
            "\(file): timestamp \(String(describing: change.changedAt))")

        let callback = PendingCallback(
            tokenHash: TaskTokens.hash("token-\(file)"), taskToken: "token-\(file)", jobKind: change.kind.name,
            jobName: change.jobName, registeredAt: 1, executionArn: nil, heartbeat: true,
            createdByService: false, lastStatus: nil, lastEventAt: nil
        )
        let decision = correlator.decide(change, event: body, pending: [callback], terminalKnown: false)
        let queued = decision.effects.compactMap { effect -> NewOutboxEntry? in
            if case .enqueue(let entry) = effect { entry } else { nil }
        }
        switch expected {
        case .success(let truncated):
            #expect(decision.verdict == .completed(.completed, callbacks: 1))
            let entry = try #require(queued.first)
            #expect(entry.action == .success)
            #expect(entry.payload.utf8.count <= 262_144)
            let output = try #require(try JSONValue.parse(entry.payload).objectValue)
            #expect((output["Truncated"]?.boolValue ?? false) == truncated)
            #expect(output[change.kind.nameField]?.stringValue == change.jobName)
            if change.kind == .training { #expect(output["ModelArtifacts"]?["S3ModelArtifacts"] != nil) }
            if change.kind == .tuning { #expect(output["BestTrainingJob"]?["TrainingJobName"] != nil) }
            if !truncated { #expect(output == change.detail) }
            #expect(decision.effects.contains(.removePending(tokenHash: callback.tokenHash)))
        case .failure(let error):
            let entry = try #require(queued.first)
            #expect(entry.action == .failure)
            #expect(entry.errorName == error)
            #expect(entry.payload.utf8.count <= 32_768)
            let cause = try #require(try JSONValue.parse(entry.payload).objectValue)
            #expect(cause[change.kind.nameField]?.stringValue == change.jobName)
            #expect(cause[change.kind.statusField]?.stringValue == change.status.rawValue)
        case .running:
            #expect(decision.verdict == .heartbeat(callbacks: 1))
            #expect(queued.map(\.action) == [.heartbeat])
            #expect(!decision.effects.contains(.removePending(tokenHash: callback.tokenHash)))
        case .rejected, .unsupported, .execution:
            Issue.record("\(file) should not have parsed as a job state change")
        }
    }

    @Test(
        "a terminal event with no callback is kept; a repeat is a no-op",
        arguments: eventFiles.filter {
            if case .success = expectations[$0] { true } else if case .failure = expectations[$0] { true } else { false }
        })
    func terminalWithoutCallback(file: String) throws {
        let body = try RecordedFile.text(file)
        guard case .jobStateChange(let change) = try EventMessage.parse(body) else {
            Issue.record("not a job state change")
            return
        }
        let correlator = Correlator(now: 5)
        let first = correlator.decide(change, event: body, pending: [], terminalKnown: false)
        #expect(first.verdict == .keptEarly(change.status))
        #expect(first.effects.count == 1)
        let again = correlator.decide(change, event: body, pending: [], terminalKnown: true)
        #expect(again.verdict == .duplicateEvent(change.status))
        #expect(again.effects.isEmpty)
    }

    @Test("batches split into their events")
    func batches() throws {
        #expect(RecordedEvents.split(try RecordedFile.text("batch-jsonl.jsonl")).count == 5)
        #expect(RecordedEvents.split(try RecordedFile.text("batch-array.json")).count == 3)
        #expect(RecordedEvents.split(try RecordedFile.text("processing-failed.json")).count == 1)
        #expect(RecordedEvents.split(try RecordedFile.text("malformed-not-json.txt")).count == 1)
        #expect(RecordedEvents.split("  \n").isEmpty)
    }
}
