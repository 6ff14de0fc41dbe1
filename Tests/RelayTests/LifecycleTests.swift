import AWS
import Foundation
import JSON
import Logging
@testable import Relay
import CallbackStore
import Store
import TestSupport
import Testing

/// Stop on abort, periodic heartbeats, the safety sweep and expiry: the engine's decisions, and
/// the engine with the real store.
@Suite("Executions, heartbeats, sweep and expiry", .timeLimit(.minutes(1)))
struct LifecycleTests {
    static let execution = "arn:aws:states:us-east-1:123456789012:execution:train:run-1"

    static func registration(_ token: String, job: String, create: Bool = false, extra: String = "") -> IncomingMessage {
        let form =
            create
            ? #""CreateProcessingJob":{"ProcessingJobName":"\#(job)","RoleArn":"arn:aws:iam::1:role/r"}"#
            : #""ProcessingJobName":"\#(job)""#
        return IncomingMessage(messageID: "r-\(token)", body: #"{"TaskToken":"\#(token)",\#(form),"ExecutionArn":"\#(execution)"\#(extra)}"#)
    }

    static func executionEvent(_ status: String, arn: String = execution) -> IncomingMessage {
        IncomingMessage(
            messageID: "x-\(status)",
            body: #"""
                {"version":"0","id":"e-1","detail-type":"Step Functions Execution Status Change","source":"aws.states",
                 "detail":{"executionArn":"\#(arn)","stateMachineArn":"arn:aws:states:us-east-1:123456789012:stateMachine:train",
                           "name":"run-1","status":"\#(status)","startDate":1763633700000,"stopDate":1763633730000}}
                """#)
    }

    // MARK: Registrations

    @Test(
        "StopJobOnAbort: what each form of the field gets",
        arguments: [
            (#","StopJobOnAbort":true"#, false, true),
            (#","StopJobOnAbort":false"#, true, false),
            ("", true, true),
            ("", false, false),
        ])
    func stopJobOnAbortField(extra: String, create: Bool, stops: Bool) throws {
        guard case .valid(let registration) = RegistrationMessage.parse(Self.registration("t", job: "j", create: create, extra: extra).body) else {
            Issue.record("a valid registration")
            return
        }
        #expect(registration.stopJobOnAbort == stops)
    }

    @Test(
        "StopJobOnAbort that cannot work is refused with a reason",
        arguments: [
            (#"{"TaskToken":"t","ProcessingJobName":"j","StopJobOnAbort":true}"#, "needs ExecutionArn"),
            (#"{"TaskToken":"t","ProcessingJobName":"j","ExecutionArn":"arn:x","StopJobOnAbort":"yes"}"#, "not true or false"),
        ])
    func stopJobOnAbortRefused(body: String, reason: String) {
        guard case .invalid(let token, let why) = RegistrationMessage.parse(body) else {
            Issue.record("refused")
            return
        }
        #expect(token == "t")
        #expect(why.contains(reason))
    }

    // MARK: Executions

    @Test("an aborted execution drops its callbacks and stops the jobs the service created, cancelling a Create not yet made")
    func abortedExecution() async throws {
        let temporary = try TemporaryStore()
        let intake = MessageIntake(store: temporary.store)
        _ = try await intake.process(
            [
                Self.registration("created", job: "made-here", create: true),
                Self.registration("named", job: "made-elsewhere"),
                Self.registration("asked", job: "stop-me-too", extra: #","StopJobOnAbort":true"#),
            ], role: .requests, source: "requests")
        let decisions = try await intake.process([Self.executionEvent("ABORTED")], role: .events, source: "events")
        #expect(decisions.map(\.verdict) == [.executionEnded(.aborted, callbacks: 3, stops: 2)])

        let outbox = try await temporary.store.read { try $0.listOutbox(limit: 10) }
        #expect(outbox.map(\.action) == [.stopJob, .stopJob])
        #expect(Set(outbox.map(\.jobName)) == ["made-here", "stop-me-too"])
        #expect(outbox.allSatisfy { $0.taskToken.isEmpty })
        let closed = try await temporary.store.read { try $0.closedToken(tokenHash: TaskTokens.hash("named")) }
        #expect(closed?.result == "execution ABORTED")
        #expect(try await temporary.store.read { try $0.counts().pending } == 0)

        // The job's own Stopped event afterwards completes nothing: the tokens are gone.
        let later = try await intake.process([IntakeTests.event("made-here", "Stopped")], role: .events, source: "events")
        #expect(later.map(\.verdict) == [.keptEarly(.stopped)])
    }

    @Test(
        "which execution statuses stop jobs",
        arguments: [
            ("ABORTED", 1), ("TIMED_OUT", 1), ("FAILED", 1), ("SUCCEEDED", 0),
        ])
    func statuses(status: String, stops: Int) async throws {
        let temporary = try TemporaryStore()
        let intake = MessageIntake(store: temporary.store)
        _ = try await intake.process([Self.registration("tok", job: "job", create: true)], role: .requests, source: "requests")
        let decisions = try await intake.process([Self.executionEvent(status)], role: .events, source: "events")
        #expect(decisions.first?.effects.filter { if case .enqueue = $0 { true } else { false } }.count == stops)
        #expect(try await temporary.store.read { try $0.counts().pending } == 0)
    }

    @Test("a running execution, an unknown one or a status from a newer API changes nothing")
    func notEnded() async throws {
        let temporary = try TemporaryStore()
        let intake = MessageIntake(store: temporary.store)
        _ = try await intake.process([Self.registration("tok", job: "job", create: true)], role: .requests, source: "requests")
        let decisions = try await intake.process(
            [
                Self.executionEvent("RUNNING"), Self.executionEvent("ABORTED", arn: Self.execution + "-other"), Self.executionEvent("PAUSED"),
            ], role: .events, source: "events")
        #expect(
            decisions.map(\.verdict) == [
                .executionNoted(.running), .executionNoted(.aborted), .unsupported("execution status 'PAUSED' is not one this service knows"),
            ])
        #expect(try await temporary.store.read { try $0.counts().pending } == 1)
    }

    @Test("a registration sent before its execution ended is not waited for, nor its job created; one sent after (a redrive) is")
    func registrationAfterTheEnd() async throws {
        let temporary = try TemporaryStore()
        let intake = MessageIntake(store: temporary.store)
        // The execution event says it stopped at 1763633730000 (see executionEvent).
        let decisions = try await intake.process([Self.executionEvent("ABORTED")], role: .events, source: "events")
        #expect(decisions.map(\.verdict) == [.executionNoted(.aborted)])

        func registration(_ token: String, sentAt: Int64?, create: Bool, extra: String = "") -> IncomingMessage {
            var message = Self.registration(token, job: "job-\(token)", create: create, extra: extra)
            message.sentAt = sentAt
            return message
        }
        let late = try await intake.process(
            [
                registration("sent-before", sentAt: 1_763_633_729_000, create: true),
                registration("named-before", sentAt: 1_763_633_729_500, create: false, extra: #","StopJobOnAbort":true"#),
                registration("redriven", sentAt: 1_763_633_790_000, create: true),
                registration("replayed", sentAt: nil, create: false),
            ], role: .requests, source: "requests")
        #expect(
            late.map(\.verdict) == [
                .executionEnded(.aborted, callbacks: 1, stops: 0), .executionEnded(.aborted, callbacks: 1, stops: 1),
                .registeredCreating, .registered,
            ])
        let outbox = try await temporary.store.read { try $0.listOutbox(limit: 10) }
        #expect(outbox.map(\.action) == [.stopJob, .createJob])
        #expect(outbox.map(\.jobName) == ["job-named-before", "job-redriven"])
        let closed = try await temporary.store.read { try $0.closedToken(tokenHash: TaskTokens.hash("sent-before"))?.result }
        #expect(closed == "execution ABORTED before registration")
        #expect(try await temporary.store.read { try $0.listPending(limit: 10).map(\.jobName) } == ["job-redriven", "job-replayed"])
    }

    // MARK: Heartbeats

    @Test("the schedule heartbeats only callbacks that asked and are due, and sleeps until the next is due")
    func heartbeatSchedule() async throws {
        let temporary = try TemporaryStore()
        let now: Int64 = 1_000_000
        try await temporary.store.write { tx in
            _ = try tx.insertPending(
                PendingCallback(
                    tokenHash: "old", taskToken: "t-old", jobKind: "ProcessingJob", jobName: "a", registeredAt: now - 61_000, heartbeat: true))
            _ = try tx.insertPending(
                PendingCallback(
                    tokenHash: "new", taskToken: "t-new", jobKind: "ProcessingJob", jobName: "b", registeredAt: now - 20_000, heartbeat: true))
            _ = try tx.insertPending(
                PendingCallback(tokenHash: "quiet", taskToken: "t-q", jobKind: "ProcessingJob", jobName: "c", registeredAt: now - 90_000))
        }
        do {
            let doorbell = Doorbell()
            let schedule = HeartbeatSchedule(store: temporary.store, interval: .seconds(60), doorbell: doorbell, logger: Logger(label: "test"))
            let sleep = try await schedule.pass(now: now)
            #expect(doorbell.isRung, "the dispatcher is told of the heartbeat queued")
            let outbox = try await temporary.store.read { try $0.listOutbox(limit: 10) }
            #expect(outbox.map(\.tokenHash) == ["old"])
            #expect(outbox.first?.action == .heartbeat)
            #expect(try await temporary.store.read { try $0.pending(tokenHash: "old")?.lastHeartbeatAt } == now)
            // "new" is due 60 s after its registration: 40 s from now.
            #expect(sleep == .seconds(40))
            // A second pass at once queues nothing more (one heartbeat per interval).
            _ = try await schedule.pass(now: now + 1)
            #expect(try await temporary.store.read { try $0.listOutbox(limit: 10) }.count == 1)
        }
    }

    @Test("a heartbeat goes out on registration; an InProgress event's heartbeat replaces the one queued and counts as the periodic one")
    func eventHeartbeat() async throws {
        let temporary = try TemporaryStore()
        let intake = MessageIntake(store: temporary.store)
        _ = try await intake.process([Self.registration("beat", job: "beating", extra: #","Heartbeat":true"#)], role: .requests, source: "requests")
        #expect(try await temporary.store.read { try $0.listOutbox(limit: 10) }.map(\.action) == [.heartbeat])
        #expect(try await temporary.store.read { try $0.pending(tokenHash: TaskTokens.hash("beat"))?.lastHeartbeatAt } != nil)
        _ = try await intake.process([IntakeTests.event("beating", "InProgress")], role: .events, source: "events")
        #expect(try await temporary.store.read { try $0.listOutbox(limit: 10) }.map(\.action) == [.heartbeat])
        let callback = try await temporary.store.read { try $0.pending(tokenHash: TaskTokens.hash("beat")) }
        #expect(callback?.lastHeartbeatAt != nil)
        #expect(callback?.lastStatus == "InProgress")
    }

    // MARK: Sweep

    static let timing = Correlator.SweepTiming(recheckAfter: 3_600_000, grace: 600_000, retryAfter: 60_000)

    static func waiting(_ n: Int, sweep: SweepState = SweepState()) -> PendingCallback {
        PendingCallback(
            tokenHash: "h\(n)", taskToken: "t\(n)", jobKind: "TrainingJob", jobName: "train-1", registeredAt: 0, sweep: sweep
        )
    }

    static func described(_ status: String, extra: JSONObject = [:]) throws -> Correlator.SweepFinding {
        var description: JSONObject = [
            "TrainingJobName": "train-1", "TrainingJobArn": "arn:aws:sagemaker:us-east-1:1:training-job/train-1",
            "TrainingJobStatus": .string(status), "LastModifiedTime": 1_763_633_730.5,
        ]
        for (key, value) in extra { description[key] = value }
        let (change, event) = try #require(JobStateChange.described(.training, name: "train-1", description: description))
        return .found(change, event: event)
    }

    @Test("a terminal job found by the sweep completes every callback, as its event would, and is kept for later registrations")
    func sweepCompletes() throws {
        let finding = try Self.described("Failed", extra: ["FailureReason": "AlgorithmError: out of memory"])
        let decision = Correlator(now: 5_000_000).decideSweep(
            [Self.waiting(1), Self.waiting(2)], finding: finding, timing: Self.timing, terminalKnown: false)
        #expect(decision.verdict == .sweptCompleted(.failed, callbacks: 2))
        let failures = decision.effects.compactMap { effect -> NewOutboxEntry? in if case .enqueue(let entry) = effect { entry } else { nil } }
        #expect(failures.map(\.errorName) == ["SageMaker.TrainingJobFailed", "SageMaker.TrainingJobFailed"])
        #expect(failures.first?.payload.contains("out of memory") == true)
        let kept = decision.effects.compactMap { effect -> EarlyEvent? in if case .rememberTerminal(let event) = effect { event } else { nil } }
        #expect(kept.count == 1)
        // What is kept reads back as the event it stands for.
        guard case .jobStateChange(let change)? = try? EventMessage.parse(kept[0].event) else {
            Issue.record("the kept event parses")
            return
        }
        #expect(change.status == .failed && change.jobName == "train-1")
    }

    @Test("a running job is checked again later, its status noted")
    func sweepRunning() throws {
        let decision = Correlator(now: 10).decideSweep(
            [Self.waiting(1, sweep: SweepState(checks: 2))], finding: try Self.described("InProgress"), timing: Self.timing, terminalKnown: false)
        #expect(decision.verdict == .sweptRunning(.inProgress, callbacks: 1))
        #expect(
            decision.effects == [
                .updateStatus(tokenHash: "h1", status: "InProgress", at: 10),
                .recordSweep(tokenHash: "h1", SweepState(checks: 3, status: "InProgress", nextCheckAt: 10 + 3_600_000)),
            ])
    }

    @Test("a missing job gets a grace period, then fails with SageMaker.JobNotFound")
    func sweepMissing() throws {
        let first = Correlator(now: 1_000).decideSweep([Self.waiting(1)], finding: .missing, timing: Self.timing, terminalKnown: false)
        #expect(first.verdict == .sweptMissing(failed: 0, waiting: 1))
        #expect(first.effects == [.recordSweep(tokenHash: "h1", SweepState(checks: 1, status: "missing", nextCheckAt: 601_000, missingSince: 1_000))])

        let stillInGrace = Correlator(now: 500_000).decideSweep(
            [Self.waiting(1, sweep: SweepState(checks: 1, status: "missing", nextCheckAt: 601_000, missingSince: 1_000))],
            finding: .missing, timing: Self.timing, terminalKnown: false
        )
        #expect(stillInGrace.verdict == .sweptMissing(failed: 0, waiting: 1))

        let after = Correlator(now: 601_000).decideSweep(
            [Self.waiting(1, sweep: SweepState(checks: 2, status: "missing", nextCheckAt: 601_000, missingSince: 1_000))],
            finding: .missing, timing: Self.timing, terminalKnown: false
        )
        #expect(after.verdict == .sweptMissing(failed: 1, waiting: 0))
        let failure = after.effects.compactMap { effect -> NewOutboxEntry? in if case .enqueue(let entry) = effect { entry } else { nil } }.first
        #expect(failure?.errorName == "SageMaker.JobNotFound")
        let cause = try #require(failure.flatMap { try? JSONValue.parse($0.payload).objectValue })
        #expect(cause["TrainingJobName"] == "train-1")
        #expect(cause["Error"] == "JobNotFound")
        #expect(after.effects.contains(.removePending(tokenHash: "h1")))
    }

    @Test("an event that shows the job exists ends its grace period")
    func eventClearsMissing() {
        var callback = Self.waiting(1, sweep: SweepState(checks: 1, status: "missing", nextCheckAt: 9, missingSince: 1))
        callback.jobKind = "ProcessingJob"
        let change = JobStateChange(
            kind: .processing, jobName: "train-1", jobArn: nil, status: .inProgress, detail: [:], eventID: nil, changedAt: nil)
        let decision = Correlator(now: 5).decide(change, event: "{}", pending: [callback], terminalKnown: false)
        #expect(
            decision.effects.contains(.recordSweep(tokenHash: "h1", SweepState(checks: 1, status: "InProgress", nextCheckAt: 9, missingSince: nil))))
    }

    @Test(
        "a failed check is retried sooner; a job still being created is not asked about",
        arguments: [
            (Correlator.SweepFinding.failed(code: "ThrottlingException", throttled: true), 1, "error: ThrottlingException"),
            (.failed(code: "AccessDeniedException", throttled: false), 1, "error: AccessDeniedException"),
            (.creating, 0, "creating"),
        ])
    func sweepDeferred(finding: Correlator.SweepFinding, counted: Int, status: String) {
        let decision = Correlator(now: 100).decideSweep([Self.waiting(1)], finding: finding, timing: Self.timing, terminalKnown: false)
        #expect(decision.effects == [.recordSweep(tokenHash: "h1", SweepState(checks: counted, status: status, nextCheckAt: 60_100))])
    }

    @Test("the pacer keeps to its rate with jitter, slows down on throttling and recovers")
    func pacer() {
        var pacer = SweepPacer(rate: 2)
        #expect(pacer.gap(jitter: 0) == .milliseconds(500))
        #expect(pacer.gap(jitter: 0.999) < .milliseconds(750))
        pacer.record(throttled: true)
        pacer.record(throttled: true)
        #expect(pacer.gap(jitter: 0) == .seconds(2))
        for _ in 0..<10 { pacer.record(throttled: true) }
        #expect(pacer.slowdown == SweepPacer.maxSlowdown)
        for _ in 0..<10 { pacer.record(throttled: false) }
        #expect(pacer.gap(jitter: 0) == .milliseconds(500))
    }

    // MARK: Expiry and stops

    @Test("callbacks older than a Step Functions execution can live are dropped by the store service, younger ones kept")
    func expiry() async throws {
        let temporary = try TemporaryStore()
        let now: Int64 = 40_000_000_000
        try await temporary.store.write { tx in
            _ = try tx.insertPending(
                PendingCallback(
                    tokenHash: "ancient", taskToken: "t1", jobKind: "ProcessingJob", jobName: "a", registeredAt: now - Correlator.maxCallbackAge - 1,
                    heartbeat: true))
            _ = try tx.insertPending(
                PendingCallback(tokenHash: "old", taskToken: "t2", jobKind: "ProcessingJob", jobName: "b", registeredAt: now - 300 * 86_400_000))
            _ = try tx.enqueue(
                NewOutboxEntry(
                    tokenHash: "ancient", taskToken: "t1", jobKind: "ProcessingJob", jobName: "a", action: .heartbeat, payload: "", notBefore: now))
        }
        try await StoreService(store: temporary.store, logger: Logger(label: "test")).prune(now: now)
        let (pending, outbox, closed) = try await temporary.store.read { tx in
            (try tx.listPending(limit: 10).map(\.tokenHash), try tx.counts().outbox, try tx.closedToken(tokenHash: "ancient")?.result)
        }
        #expect(pending == ["old"])
        #expect(outbox == 0)
        #expect(closed == "expired")
    }

    @Test(
        "a stop answered 'not running' or 'not found' is settled; other refusals are retried",
        arguments: [
            ("ValidationException", true), ("ResourceNotFound", true), ("AccessDeniedException", false), ("TaskTimedOut", false),
        ])
    func stopResults(code: String, settled: Bool) {
        let entry = DeliveryDecisionTests.entry(.stopJob)
        let decision = Correlator(now: 600_000).decide(entry, result: .failed(code: code, message: "", transient: false), jitter: 0)
        if settled {
            #expect(decision.verdict == .nothingToStop(code))
            #expect(decision.effects == [.deleteOutbox(id: entry.id)])
        } else {
            #expect(decision.verdict == .retryLater(.stopJob, code))
        }
        #expect(Correlator(now: 0).decide(entry, result: .delivered, jitter: 0).effects == [.deleteOutbox(id: entry.id)])
    }

    @Test("a young stop that finds no job looks again (a Create may be in flight); a finished job settles it at once")
    func stopLooksAgain() {
        let entry = DeliveryDecisionTests.entry(.stopJob)
        let young = Correlator(now: 10_000).decide(
            entry, result: .failed(code: "ValidationException", message: "Could not find processing job 'arn:…'.", transient: false), jitter: 0)
        #expect(young.verdict == .retryLater(.stopJob, "ValidationException"))
        #expect(
            young.effects == [.rescheduleOutbox(id: entry.id, attempts: 1, nextAttemptAt: 25_000, lastError: "ValidationException: no such job yet")])
        let finished = Correlator(now: 10_000).decide(
            entry,
            result: .failed(
                code: "ValidationException", message: "The request was rejected because the processing job is in status Completed.", transient: false),
            jitter: 0)
        #expect(finished.verdict == .nothingToStop("ValidationException"))
        let old = Correlator(now: 200_000).decide(entry, result: .failed(code: "ResourceNotFound", message: "not found", transient: false), jitter: 0)
        #expect(old.verdict == .nothingToStop("ResourceNotFound"))
    }

    @Test("list shows heartbeat and sweep state")
    func listing() async throws {
        let temporary = try TemporaryStore()
        let now: Int64 = 10_000_000
        try temporary.store.writeSync { tx throws in
            _ = try tx.insertPending(
                PendingCallback(
                    tokenHash: "abc", taskToken: "t", jobKind: "TrainingJob", jobName: "train-7", registeredAt: now - 7_200_000,
                    executionArn: Self.execution, heartbeat: true, createdByService: true, stopJobOnAbort: true,
                    lastStatus: "InProgress", lastEventAt: now - 60_000, lastHeartbeatAt: now - 30_000,
                    sweep: SweepState(checks: 1, status: "missing", nextCheckAt: now + 420_000, missingSince: now - 180_000)
                ))
        }
        let listing = try await Listing.read(temporary.store, limit: 10)
        let text = listing.text(now: now)
        #expect(
            text.contains("TrainingJob  train-7  age 2h  status InProgress (60s ago)  heartbeat 30s ago  sweep 1 check, missing for 3m, next in 7m"))
        #expect(text.contains("stop-on-abort"))
        let json = try #require(try JSONValue.parse(listing.json(now: now)).objectValue)
        let row = try #require(json["pending"]?[0]?.objectValue)
        #expect(row["stopJobOnAbort"] == true)
        #expect(row["sweep"]?["checks"] == 1)
        #expect(row["sweep"]?["lastFound"] == "missing")
        #expect(row["lastHeartbeatAt"]?.stringValue?.hasSuffix("Z") == true)
    }

}
