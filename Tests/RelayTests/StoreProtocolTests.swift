import AWS
import Foundation
import Logging
@testable import Relay
import CallbackStore
import Store
import TestSupport
import Testing

/// A read a unit did not declare: a backend that fetches a unit's reads first would not have it.
struct UndeclaredRead: Error, CustomStringConvertible {
    var key: StoreKey
    var description: String { "undeclared read of \(key)" }
}

/// A view that answers only for the keys its unit declared, and throws on any other.
struct DeclaredReadsView: StoreView {
    let base: any StoreView
    let reads: Set<StoreKey>

    private func allow(_ key: StoreKey) throws {
        guard reads.contains(key) else { throw UndeclaredRead(key: key) }
    }

    func pending(tokenHash: String) throws -> PendingCallback? {
        try allow(.token(hash: tokenHash))
        return try base.pending(tokenHash: tokenHash)
    }
    func isClosed(tokenHash: String) throws -> Bool {
        try allow(.token(hash: tokenHash))
        return try base.isClosed(tokenHash: tokenHash)
    }
    func hasOutbox(tokenHash: String, action: OutboxAction) throws -> Bool {
        try allow(.token(hash: tokenHash))
        return try base.hasOutbox(tokenHash: tokenHash, action: action)
    }
    func pendingCallbacks(jobKind: String, jobName: String) throws -> [PendingCallback] {
        try allow(.job(kind: jobKind, name: jobName))
        return try base.pendingCallbacks(jobKind: jobKind, jobName: jobName)
    }
    func earlyEvent(jobKind: String, jobName: String) throws -> EarlyEvent? {
        try allow(.job(kind: jobKind, name: jobName))
        return try base.earlyEvent(jobKind: jobKind, jobName: jobName)
    }
    func pendingCallbacks(executionArn: String) throws -> [PendingCallback] {
        try allow(.execution(arn: executionArn))
        return try base.pendingCallbacks(executionArn: executionArn)
    }
    func executionEnd(executionArn: String) throws -> EndedExecution? {
        try allow(.execution(arn: executionArn))
        return try base.executionEnd(executionArn: executionArn)
    }
}

/// A real SQLite store seen as another backend would see it: every unit decides from a
/// ``DeclaredReadsView``, and leases are granted only when `grantsLeases`.
final class StrictStore: CallbackStore {
    let base: Store
    let grantsLeases: Bool

    init(_ base: Store, grantsLeases: Bool = true) {
        self.base = base
        self.grantsLeases = grantsLeases
    }

    var location: StoreLocation { base.location }
    var options: StoreOptions { base.options }

    private static func strict<Result>(_ units: [StoreUnit<Result>]) -> [StoreUnit<Result>] {
        units.map { unit in
            StoreUnit(reads: unit.reads) { view in try unit.decide(DeclaredReadsView(base: view, reads: Set(unit.reads))) }
        }
    }

    func commit<Result: Sendable>(_ units: [StoreUnit<Result>]) async throws -> [Result] { try await base.commit(Self.strict(units)) }
    func preview<Result: Sendable>(_ units: [StoreUnit<Result>]) async throws -> [Result] { try await base.preview(Self.strict(units)) }
    func claimDueOutbox(now: Int64, limit: Int, excluding: Set<Int64>) async throws -> [OutboxEntry] {
        try await base.claimDueOutbox(now: now, limit: limit, excluding: excluding)
    }
    func nextOutboxAttempt(now: Int64, excluding: Set<Int64>) async throws -> Int64? {
        try await base.nextOutboxAttempt(now: now, excluding: excluding)
    }
    func holdLease(_ name: String, now: Int64, duration: Int64) async throws -> Bool { grantsLeases }
    func heartbeatsDue(since: Int64, limit: Int) async throws -> [PendingCallback] { try await base.heartbeatsDue(since: since, limit: limit) }
    func oldestHeartbeat() async throws -> Int64? { try await base.oldestHeartbeat() }
    func sweepDue(now: Int64, firstCheckBefore: Int64, limit: Int) async throws -> [PendingCallback] {
        try await base.sweepDue(now: now, firstCheckBefore: firstCheckBefore, limit: limit)
    }
    func nextSweep() async throws -> (oldestUnswept: Int64?, nextCheck: Int64?) { try await base.nextSweep() }
    func pendingCallbacks(registeredBefore olderThan: Int64, limit: Int) async throws -> [PendingCallback] {
        try await base.pendingCallbacks(registeredBefore: olderThan, limit: limit)
    }
    func pruneExpired(now: Int64) async throws -> PruneCounts { try await base.pruneExpired(now: now) }
    func counts() async throws -> StoreCounts { try await base.counts() }
    func listPending(limit: Int) async throws -> [PendingCallback] { try await base.listPending(limit: limit) }
    func listEarlyEvents(limit: Int) async throws -> [EarlyEvent] { try await base.listEarlyEvents(limit: limit) }
    func listOutbox(limit: Int) async throws -> [OutboxEntry] { try await base.listOutbox(limit: limit) }
    func listRejected(limit: Int) async throws -> [RejectedMessage] { try await base.listRejected(limit: limit) }
    func relinquish() async { await base.relinquish() }
    func close() { base.close() }
}

/// The services through the store protocol: units read only what they declare, leases are
/// honoured, and deliveries are counted for what they were.
@Suite("Services over the store protocol", .timeLimit(.minutes(1)))
struct StoreProtocolTests {
    @Test("every recorded event's unit reads only what it declares, on an empty store and again on what it left", arguments: RecordedFile.all)
    func recordedEventReads(file: String) async throws {
        let temporary = try TemporaryStore()
        let intake = MessageIntake(store: StrictStore(temporary.store))
        let role: MessageRole = file.hasPrefix("registration") ? .requests : .events
        let bodies = try RecordedEvents.load(RecordedFile.directory.appendingPathComponent(file).path)
        let messages = bodies.map { IncomingMessage(messageID: nil, body: $0) }
        let previewed = try await intake.preview(messages, role: role, source: "test")
        let first = try await intake.process(messages, role: role, source: "test")
        #expect(previewed.map(\.verdict) == first.map(\.verdict))
        let again = try await intake.process(messages, role: role, source: "test")
        #expect(again.count == messages.count)
    }

    @Test("registrations of every form read only what they declare, before and after their job's and execution's events", arguments: JobKind.all)
    func registrationReads(kind: JobKind) async throws {
        let temporary = try TemporaryStore()
        let intake = MessageIntake(store: StrictStore(temporary.store))
        let arn = LifecycleTests.execution
        func body(_ token: String, _ form: String, _ extra: String = "") -> String {
            #"{"TaskToken":"\#(token)",\#(form)\#(extra)}"#
        }
        let wait = #""\#(kind.nameField)":"wait-job""#
        let create = #""\#(kind.createOperation)":{"\#(kind.nameField)":"made-job"}"#
        let withExecution = #","ExecutionArn":"\#(arn)","Heartbeat":true,"StopJobOnAbort":true"#
        let registrations = [
            body("t-wait", wait), body("t-create", create), body("t-exec", wait, withExecution),
            body("t-create-exec", create, withExecution), body("t-bad", #""\#(kind.nameField)":"-bad-""#),
            #"{"ProcessingJobName":"no-token"}"#, "not json",
        ].map { IncomingMessage(messageID: nil, body: $0, sentAt: 0) }
        let first = try await intake.process(registrations, role: .requests, source: "test")
        #expect(first.count == registrations.count)
        // Duplicates find their tokens pending or closed.
        let second = try await intake.process(registrations, role: .requests, source: "test")
        #expect(second.filter { $0.verdict == .duplicateRegistration }.count == 4)
        // The execution ends; new tokens registered before that are dead.
        _ = try await intake.process([LifecycleTests.executionEvent("ABORTED")], role: .events, source: "test")
        let late = [body("t-late", wait, withExecution), body("t-late-create", create, withExecution)]
            .map { IncomingMessage(messageID: nil, body: $0, sentAt: 0) }
        let ended = try await intake.process(late, role: .requests, source: "test")
        #expect(ended.allSatisfy { if case .executionEnded = $0.verdict { true } else { false } })
    }

    @Test("a heartbeat refused as InvalidToken is counted as dropped, not as rescheduled nor closed")
    func refusedHeartbeatCount() {
        let decision = Correlator(now: 1).decide(
            DeliveryDecisionTests.entry(.heartbeat), result: .failed(code: "InvalidToken", message: "", transient: false), jitter: 0
        )
        var pass = OutboxDispatcher.Pass()
        pass.count(decision.verdict)
        #expect(pass.dropped == 1)
        #expect(pass.rescheduled == 0 && pass.closed == 0 && pass.delivered == 0)
        // A retry is still counted as rescheduled.
        pass.count(
            Correlator(now: 1).decide(
                DeliveryDecisionTests.entry(.heartbeat), result: .failed(code: "ThrottlingException", message: "", transient: true), jitter: 0
            ).verdict)
        #expect(pass.rescheduled == 1)
    }

    @Test("without the lease, the heartbeat pass, the sweep pass and expiry queue and change nothing")
    func leaseDenied() async throws {
        let temporary = try TemporaryStore()
        let now = WallClock.millisecondsNow()
        try await temporary.store.write { tx in
            _ = try tx.insertPending(
                PendingCallback(
                    tokenHash: "due", taskToken: "t-due", jobKind: "ProcessingJob", jobName: "a", registeredAt: now - 7_200_000, heartbeat: true))
            _ = try tx.insertPending(
                PendingCallback(
                    tokenHash: "ancient", taskToken: "t-old", jobKind: "ProcessingJob", jobName: "b",
                    registeredAt: now - Correlator.maxCallbackAge - 1))
        }
        let denied = StrictStore(temporary.store, grantsLeases: false)
        let logger = Logger(label: "test")
        let doorbell = Doorbell()
        let schedule = HeartbeatSchedule(store: denied, interval: .seconds(60), doorbell: doorbell, logger: logger)
        #expect(try await schedule.pass(now: now) == .milliseconds(min(60_000, HeartbeatSchedule.leaseDuration / 2)))

        let sageMaker = FakeSageMaker()
        let sweep = SafetySweep(store: denied, jobs: sageMaker, settings: .init(after: .seconds(60)), doorbell: doorbell, logger: logger)
        var pacer = SweepPacer(rate: 100)
        _ = try await sweep.pass(pacer: &pacer)
        #expect(await sageMaker.calls.isEmpty, "no describe without the lease")

        try await StoreService(store: denied, logger: logger).prune(now: now)
        #expect(!doorbell.isRung)
        let pending = try await temporary.store.listPending(limit: 10)
        #expect(Set(pending.map(\.tokenHash)) == ["due", "ancient"])
        #expect(pending.allSatisfy { $0.lastHeartbeatAt == nil && $0.sweep.checks == 0 && $0.sweep.status == nil })
        #expect(try await temporary.store.counts().outbox == 0)

        // The same passes with the lease granted do act: the set-up above was due for all three.
        let granted = StrictStore(temporary.store)
        _ = try await HeartbeatSchedule(store: granted, interval: .seconds(60), doorbell: doorbell, logger: logger).pass(now: now)
        try await StoreService(store: granted, logger: logger).prune(now: now)
        #expect(doorbell.isRung)
        #expect(try await temporary.store.listOutbox(limit: 10).map(\.tokenHash) == ["due"])
        #expect(try await temporary.store.listPending(limit: 10).map(\.tokenHash) == ["due"])
    }
}
