import AWS
import HTTP
import JSON
import Logging
import ServiceLifecycle
import CallbackStore

/// Delivers the outbox: SendTaskSuccess, SendTaskFailure, SendTaskHeartbeat and Create*Job calls,
/// several at once (bounded), recording each result in the store. Failed deliveries are
/// rescheduled with backoff and survive restarts; nothing is dropped but what the engine decides.
///
/// It never polls: it sleeps until the earliest scheduled retry or until a consumer rings.
public final class OutboxDispatcher: Service, Sendable {
    private let store: any CallbackStore
    private let stepFunctions: StepFunctions
    private let sageMaker: SageMaker
    private let concurrency: Int
    private let logger: Logger
    private let doorbell = Doorbell()
    private let liveness: Liveness.Loop?

    /// Retries inside one delivery stay short: the outbox's own schedule handles long outages,
    /// and a short call keeps graceful shutdown prompt.
    static let callRetryPolicy = RetryPolicy(maxAttempts: 3, base: .milliseconds(50), cap: .seconds(1))
    /// Rows fetched per store read.
    static let fetchLimit = 256
    /// Results committed per transaction.
    static let commitBatch = 64

    public init(store: any CallbackStore, client: AWSClient, concurrency: Int, logger: Logger, liveness: Liveness? = nil) {
        self.store = store
        self.stepFunctions = StepFunctions(client: client)
        self.sageMaker = SageMaker(client: client)
        self.concurrency = max(1, concurrency)
        self.logger = logger
        self.liveness = liveness?.loop("outbox dispatcher")
    }

    /// Tells the dispatcher new work was committed.
    public func ring() { doorbell.ring() }

    public func run() async throws {
        await TimerLoop.run(failureEvent: "outbox.store_failed", logger: logger, doorbell: doorbell, liveness: liveness) {
            try await deliverDue()
            // Sleeps until the earliest scheduled retry, or until a consumer rings.
            let next = try await store.nextOutboxAttempt(now: WallClock.millisecondsNow())
            return next.map { .milliseconds(max(0, $0 - WallClock.millisecondsNow())) }
        }
    }

    /// Summary of one pass over the due outbox.
    public struct Pass: Sendable, Equatable {
        public var delivered = 0
        public var rescheduled = 0
        public var closed = 0
        /// Entries given up on while their task stays open: a heartbeat refused as `InvalidToken`
        /// is deleted, not retried, and the outcome's own delivery settles the token.
        public var dropped = 0

        /// Counts one recorded delivery by what the engine decided about it.
        public mutating func count(_ verdict: Verdict) {
            switch verdict {
            case .delivered, .nothingToStop, .createRefused: delivered += 1
            case .alreadyClosed, .callbackDropped: closed += 1
            case .heartbeatRefused: dropped += 1
            default: rescheduled += 1
            }
        }
    }

    /// Delivers every entry due now, `concurrency` at a time, until none is due. Entries that fail
    /// are rescheduled into the future, so this always ends.
    @discardableResult
    public func deliverDue() async throws -> Pass {
        var pass = Pass()
        while true {
            let now = WallClock.millisecondsNow()
            let due = try await store.claimDueOutbox(now: now, limit: Self.fetchLimit)
            if due.isEmpty { return pass }
            try await withThrowingTaskGroup(of: (OutboxEntry, Correlator.DeliveryResult).self) { group in
                var queue = due.makeIterator()
                for _ in 0..<concurrency {
                    guard let entry = queue.next() else { break }
                    group.addTask { (entry, await self.deliver(entry)) }
                }
                var results: [(OutboxEntry, Correlator.DeliveryResult)] = []
                while let result = try await group.next() {
                    results.append(result)
                    // A long burst is many deliveries, each bounded: progress, not a stuck pass.
                    liveness?.progress()
                    if let entry = queue.next() {
                        group.addTask { (entry, await self.deliver(entry)) }
                    }
                    if results.count >= Self.commitBatch {
                        try await record(results, into: &pass)
                        results.removeAll(keepingCapacity: true)
                    }
                }
                if !results.isEmpty { try await record(results, into: &pass) }
            }
        }
    }

    private func record(_ results: [(OutboxEntry, Correlator.DeliveryResult)], into pass: inout Pass) async throws {
        let now = WallClock.millisecondsNow()
        let correlator = Correlator(now: now)
        // Drawn once, outside `decide`: a backend that decides again on a conflict gets the same answer.
        let units = results.map { entry, result in
            let jitter = Double.random(in: 0..<1)
            return StoreUnit<Decision>(reads: [.token(hash: entry.tokenHash)]) { _ in
                let decision = correlator.decide(entry, result: result, jitter: jitter)
                return (decision, decision.effects)
            }
        }
        let decisions = try await store.commit(units)
        for (result, decision) in zip(results, decisions) {
            let entry = result.0
            var metadata: Logger.Metadata = [
                "outbox.action": "\(entry.action.rawValue)", "token.hash": "\(TaskTokens.short(entry.tokenHash))",
                "outcome": "\(decision.verdict)",
            ]
            if !entry.jobName.isEmpty { metadata["job.name"] = "\(entry.jobName)" }
            pass.count(decision.verdict)
            switch decision.verdict {
            case .delivered(let action):
                metadata["outbox.age_ms"] = "\(now - entry.createdAt)"
                switch action {
                case .heartbeat: logger.debug("callback.heartbeat", metadata: metadata)
                case .stopJob: logger.info("job.stop_requested", metadata: metadata)
                default: logger.info("callback.delivered", metadata: metadata)
                }
            case .alreadyClosed, .callbackDropped:
                logger.notice("callback.closed", metadata: metadata)
            case .heartbeatRefused:
                logger.warning("callback.heartbeat_refused", metadata: metadata)
            case .nothingToStop:
                logger.info("job.stop_not_needed", metadata: metadata)
            case .createRefused:
                logger.warning("job.create_refused", metadata: metadata)
            default:
                if case .failed(let code, _, let transient) = result.1 {
                    metadata["aws.error"] = "\(code)"
                    metadata["outbox.attempts"] = "\(entry.attempts + 1)"
                    if transient { logger.warning("callback.retry_later", metadata: metadata) }
                    else { logger.error("callback.refused", metadata: metadata) }
                }
            }
        }
    }

    /// One delivery attempt, reduced to what the engine needs to decide.
    func deliver(_ entry: OutboxEntry) async -> Correlator.DeliveryResult {
        do {
            switch entry.action {
            case .success:
                try await stepFunctions.sendTaskSuccess(taskToken: entry.taskToken, output: entry.payload, retryPolicy: Self.callRetryPolicy)
            case .failure:
                try await stepFunctions.sendTaskFailure(
                    taskToken: entry.taskToken, error: entry.errorName ?? "SageMakerCallback.Failed", cause: entry.payload,
                    retryPolicy: Self.callRetryPolicy
                )
            case .heartbeat:
                try await stepFunctions.sendTaskHeartbeat(taskToken: entry.taskToken, retryPolicy: Self.callRetryPolicy)
            case .createJob:
                guard let kind = JobKind.named(entry.jobKind), let request = (try? JSONValue.parse(entry.payload))?.objectValue else {
                    return .failed(code: "ValidationException", message: "the stored Create request is unusable", transient: false)
                }
                try await sageMaker.createJob(operation: kind.createOperation, request: request)
            case .stopJob:
                guard let kind = JobKind.named(entry.jobKind) else {
                    return .failed(code: "ValidationException", message: "unknown job kind \(entry.jobKind)", transient: false)
                }
                try await sageMaker.stopJob(operation: kind.stopOperation, nameField: kind.nameField, name: entry.jobName, retryPolicy: Self.callRetryPolicy)
            }
            return .delivered
        } catch let error as AWSError {
            let transient = RetryableFailure.classify(code: error.code, httpStatus: error.httpStatus) != .permanent
            return .failed(code: error.code, message: error.message, transient: transient)
        } catch let error as HTTPError {
            return .failed(code: "Connection", message: error.description, transient: true)
        } catch is CancellationError {
            return .failed(code: "Cancelled", message: "shutting down", transient: true)
        } catch {
            return .failed(code: "Error", message: "\(error)", transient: true)
        }
    }
}
