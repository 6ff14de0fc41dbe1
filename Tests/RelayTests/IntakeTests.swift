import AWS
import JSON
import Relay
import CallbackStore
import Store
import TestSupport
import Testing

/// The engine and the real store together: order, duplicates, creation, rejection.
@Suite("Intake with the store", .timeLimit(.minutes(1)))
struct IntakeTests {
    static func registration(_ token: String, job: String, create: Bool = false) -> IncomingMessage {
        let body =
            create
            ? #"{"TaskToken":"\#(token)","CreateProcessingJob":{"ProcessingJobName":"\#(job)","RoleArn":"arn:aws:iam::1:role/r"}}"#
            : #"{"TaskToken":"\#(token)","ProcessingJobName":"\#(job)"}"#
        return IncomingMessage(messageID: "r-\(token)", body: body)
    }

    static func event(_ job: String, _ status: String) -> IncomingMessage {
        let body =
            #"{"detail-type":"SageMaker Processing Job State Change","source":"aws.sagemaker","detail":{"ProcessingJobName":"\#(job)","ProcessingJobStatus":"\#(status)","LastModifiedTime":1589879479000}}"#
        return IncomingMessage(messageID: "e-\(job)-\(status)", body: body)
    }

    @Test("an event before its registration completes the task when the registration arrives")
    func earlyEvent() async throws {
        let temporary = try TemporaryStore()
        let intake = MessageIntake(store: temporary.store)
        let first = try await intake.process([Self.event("early-job", "Completed")], role: .events, source: "events")
        #expect(first.map(\.verdict) == [.keptEarly(.completed)])
        let second = try await intake.process([Self.registration("tok-1", job: "early-job")], role: .requests, source: "requests")
        #expect(second.map(\.verdict) == [.completedOnArrival(.completed)])
        let outbox = try await temporary.store.read { try $0.listOutbox(limit: 10) }
        #expect(outbox.map(\.action) == [.success])
        #expect(outbox.first?.taskToken == "tok-1")
        #expect(try await temporary.store.read { try $0.counts().pending } == 0)
    }

    @Test("the engine decides at the intake's clock: a registration is dated by it, an outcome is due at it")
    func decidesAtItsClock() async throws {
        let temporary = try TemporaryStore()
        let clock = ManualClock(now: 1_700_000_123_456)
        let intake = MessageIntake(store: temporary.store, clock: clock.clock)
        _ = try await intake.process([Self.registration("tok-1", job: "dated-job")], role: .requests, source: "requests")
        #expect(try await temporary.store.read { try $0.pending(tokenHash: TaskTokens.hash("tok-1"))?.registeredAt } == clock.now)
        _ = try await intake.process([Self.event("dated-job", "Completed")], role: .events, source: "events")
        #expect(try await temporary.store.read { try $0.listOutbox(limit: 10) }.map(\.nextAttemptAt) == [clock.now])
    }

    @Test("duplicate events and duplicate registrations queue exactly one outcome")
    func duplicates() async throws {
        let temporary = try TemporaryStore()
        let intake = MessageIntake(store: temporary.store)
        _ = try await intake.process([Self.registration("tok-2", job: "dup-job")], role: .requests, source: "requests")
        let decisions = try await intake.process(
            [Self.event("dup-job", "Completed"), Self.event("dup-job", "Completed"), Self.event("dup-job", "Failed")],
            role: .events, source: "events"
        )
        #expect(decisions.map(\.verdict) == [.completed(.completed, callbacks: 1), .duplicateEvent(.completed), .duplicateEvent(.failed)])
        let again = try await intake.process([Self.registration("tok-2", job: "dup-job")], role: .requests, source: "requests")
        #expect(again.map(\.verdict) == [.duplicateRegistration])
        #expect(try await temporary.store.read { try $0.listOutbox(limit: 10) }.count == 1)
    }

    @Test("several workflows waiting for one job are all completed")
    func fanOut() async throws {
        let temporary = try TemporaryStore()
        let intake = MessageIntake(store: temporary.store)
        _ = try await intake.process((1...3).map { Self.registration("fan-\($0)", job: "shared-job") }, role: .requests, source: "requests")
        let decisions = try await intake.process([Self.event("shared-job", "Stopped")], role: .events, source: "events")
        #expect(decisions.map(\.verdict) == [.completed(.stopped, callbacks: 3)])
        let outbox = try await temporary.store.read { try $0.listOutbox(limit: 10) }
        #expect(Set(outbox.map(\.taskToken)) == ["fan-1", "fan-2", "fan-3"])
        #expect(outbox.allSatisfy { $0.errorName == "SageMaker.ProcessingJobStopped" })
    }

    @Test("the create form queues the Create call with the callback, in one commit")
    func createForm() async throws {
        let temporary = try TemporaryStore()
        let decisions = try await MessageIntake(store: temporary.store).process(
            [Self.registration("tok-c", job: "made-here", create: true)], role: .requests, source: "requests"
        )
        #expect(decisions.map(\.verdict) == [.registeredCreating])
        let (pending, outbox) = try await temporary.store.read { (try $0.listPending(limit: 5), try $0.listOutbox(limit: 5)) }
        #expect(pending.first?.createdByService == true)
        #expect(outbox.map(\.action) == [.createJob])
        #expect(try JSONValue.parse(outbox[0].payload)["ProcessingJobName"] == "made-here")
    }

    @Test("bad input is recorded, with what each kind gets")
    func badInput() async throws {
        let temporary = try TemporaryStore()
        let intake = MessageIntake(store: temporary.store)
        let events = try await intake.process(
            [
                IncomingMessage(messageID: "a", body: "{not json"),
                IncomingMessage(messageID: "b", body: try RecordedFile.text("other-detail-type.json")),
                Self.event("quiet-job", "InProgress"),
            ], role: .events, source: "events")
        #expect(events[0].verdict.isRejection)
        guard case .unsupported = events[1].verdict else {
            Issue.record("another detail type is ignored, not rejected")
            return
        }
        #expect(events[2].verdict == .noCallback(.inProgress))
        let requests = try await intake.process(
            [
                IncomingMessage(messageID: "c", body: #"{"ProcessingJobName":"x"}"#),
                IncomingMessage(messageID: "d", body: #"{"TaskToken":"tok-bad","ProcessingJobName":"no_underscores"}"#),
            ], role: .requests, source: "requests")
        #expect(requests[0].verdict == .rejected("no TaskToken string"))
        guard case .rejectedAndFailed = requests[1].verdict else {
            Issue.record("a registration with a token fails the task")
            return
        }
        let (rejected, outbox) = try await temporary.store.read { (try $0.listRejected(limit: 10), try $0.listOutbox(limit: 10)) }
        #expect(rejected.count == 4)
        #expect(outbox.map(\.errorName) == [Correlator.invalidRegistrationError])
    }

    @Test("a dry run decides like a real run and changes nothing")
    func preview() async throws {
        let temporary = try TemporaryStore()
        let intake = MessageIntake(store: temporary.store)
        let decisions = try await intake.preview([Self.event("p", "Completed"), Self.event("p", "Completed")], role: .events, source: "replay")
        #expect(decisions.map(\.verdict) == [.keptEarly(.completed), .duplicateEvent(.completed)])
        #expect(try await temporary.store.read { try $0.counts() } == StoreCounts(pending: 0, earlyEvents: 0, outbox: 0, rejected: 0, closed: 0))
    }
}
