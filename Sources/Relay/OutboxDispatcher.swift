import AWS
import JSON
public import Logging
public import ServiceLifecycle
public import CallbackStore
import Synchronization

/// Delivers the outbox: SendTaskSuccess, SendTaskFailure, SendTaskHeartbeat and Create*Job calls,
/// up to `maxInFlight` at once, recording each result in the store. Failed deliveries are
/// rescheduled with backoff and survive restarts; nothing is dropped but what the engine decides.
///
/// It works as a pipeline, not in passes: whenever a call ends or new work is committed, the free
/// places are filled from the store at once, so a slow call never holds back the ones behind it,
/// and results are recorded in groups as they arrive (what ends during one commit goes into the
/// next). An entry stays out of later claims from the moment it is claimed until its result is
/// committed. It never polls: it sleeps until the earliest scheduled retry or until it is rung.
public final class OutboxDispatcher: Service, Sendable {
    private let store: any CallbackStore
    private let callbacks: any TaskCallbacks
    private let jobs: any JobControl
    private let maxInFlight: Int
    private let logger: Logger
    /// Rung by the services that queue work (new work committed) and by the recorder (places freed).
    public let doorbell = Doorbell()
    private let liveness: Liveness.Loop?
    private let metrics: RelayMetrics?
    private let clock: ServiceClock

    /// Retries inside one delivery stay short: the outbox's own schedule handles long outages,
    /// and a short call keeps graceful shutdown prompt.
    static let callRetryPolicy = RetryPolicy(maxAttempts: 3, base: .milliseconds(50), cap: .seconds(1))
    /// Step Functions calls are paced (``CallPacer``), so their throttling is answered there.
    static let pacedRetryPolicy = RetryPolicy(maxAttempts: 3, base: .milliseconds(50), cap: .seconds(1), retriesThrottling: false)
    /// Throttled answers one delivery takes, each after waiting its turn, before it is rescheduled.
    static let throttledAttempts = 8
    /// One pacer per Step Functions operation: each has its own quota.
    private let pacers = (success: CallPacer(), failure: CallPacer(), heartbeat: CallPacer())
    /// Results committed per transaction at most.
    static let commitBatch = 128
    /// How long results wait for others before they are committed.
    static let recordLinger: Duration = .milliseconds(5)
    /// Attempts at committing one group of results before they are given up on: the entries stay
    /// in the outbox, due, and are delivered again (Step Functions then answers that the task is
    /// closed, which settles them).
    static let recordAttempts = 3
    /// The default of `--max-in-flight`: calls in flight at once.
    public static let defaultMaxInFlight = 256

    /// Free places worth a claim while calls are in flight: an eighth of them, up to 32.
    private var refillGroup: Int { max(1, min(32, maxInFlight / 8)) }

    /// A dispatcher delivering `store`'s outbox through `callbacks` (Step Functions) and `jobs`
    /// (SageMaker), `maxInFlight` calls at once; `clock` gives the time and the backoff's jitter.
    public init(
        store: any CallbackStore, callbacks: any TaskCallbacks, jobs: any JobControl, maxInFlight: Int, logger: Logger,
        liveness: Liveness? = nil, metrics: RelayMetrics? = nil, clock: ServiceClock = .system
    ) {
        self.store = store
        self.callbacks = callbacks
        self.jobs = jobs
        self.maxInFlight = max(1, maxInFlight)
        self.logger = logger
        self.liveness = liveness?.loop("outbox dispatcher")
        self.metrics = metrics
        self.clock = clock
    }

    /// Tells the dispatcher new work was committed.
    public func ring() { doorbell.ring() }

    /// Delivers until graceful shutdown, then finishes and records the calls in flight. A store
    /// that fails is logged and tried again after a growing pause.
    public func run() async throws {
        defer { liveness?.stop() }
        _ = try await pump(untilIdle: false)
    }

    /// Summary of the deliveries recorded.
    public struct Pass: Sendable, Equatable {
        public var delivered = 0
        public var rescheduled = 0
        public var closed = 0
        /// Entries given up on while their task stays open: a heartbeat refused as `InvalidToken`
        /// is deleted, not retried, and the outcome's own delivery settles the token.
        public var dropped = 0

        /// Adds another pass's counts to these.
        public mutating func add(_ other: Pass) {
            delivered += other.delivered
            rescheduled += other.rescheduled
            closed += other.closed
            dropped += other.dropped
        }

        /// Counts one recorded delivery by what the engine decided about it.
        public mutating func count(_ verdict: Verdict) {
            switch Settlement(verdict) {
            case .delivered: delivered += 1
            case .closed: closed += 1
            case .dropped: dropped += 1
            case .rescheduled: rescheduled += 1
            }
        }
    }

    /// What a recorded delivery came to, by what the engine decided about it: the one reading of
    /// a verdict that the pass's counts and the metrics share.
    enum Settlement {
        /// The call did its work, or there was none left to do (nothing to stop, a create refused).
        case delivered
        /// Step Functions had closed the task, or the callback went with its execution.
        case closed
        /// Given up on while the task stays open (a heartbeat refused).
        case dropped
        /// Failed for now: the entry is due again later.
        case rescheduled

        init(_ verdict: Verdict) {
            switch verdict {
            case .delivered, .nothingToStop, .createRefused: self = .delivered
            case .alreadyClosed, .callbackDropped: self = .closed
            case .heartbeatRefused: self = .dropped
            default: self = .rescheduled
            }
        }
    }

    /// Delivers every entry due now, `maxInFlight` at a time, until none is due and none is in
    /// flight (`replay`, tests). Entries that fail are rescheduled into the future, so this always
    /// ends. A store failure is thrown.
    @discardableResult
    public func deliverDue() async throws -> Pass {
        try await pump(untilIdle: true)
    }

    /// The pipeline: this task claims and starts deliveries; a child records their results.
    private func pump(untilIdle: Bool) async throws -> Pass {
        let pipeline = Pipeline()
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await self.recordResults(pipeline, untilIdle: untilIdle) }
            defer { pipeline.endFeeding() }
            var failures = 0
            while untilIdle || (!Task.isShuttingDownGracefully && !Task.isCancelled) {
                let now = clock.now()
                let inFlight = pipeline.inFlight
                let free = maxInFlight - inFlight.count
                var pause: Duration?
                do {
                    // Places are refilled in groups: a claim per finished call would read the
                    // store once per call (each read steps over the entries in flight).
                    if free >= refillGroup || (free > 0 && inFlight.isEmpty) {
                        let due = try await store.claimDueOutbox(now: now, limit: free, excluding: inFlight)
                        if pipeline.start(due) { liveness?.begin() }
                        for entry in due {
                            group.addTask {
                                let result = await self.deliver(entry)
                                pipeline.finish(entry, result)
                            }
                        }
                        if untilIdle, due.isEmpty, inFlight.isEmpty { return }
                        // Places left: nothing else is due now; sleep until the next retry.
                        if due.count < free, !untilIdle {
                            let next = try await store.nextOutboxAttempt(now: now, excluding: pipeline.inFlight)
                            pause = next.map { .milliseconds(max(0, $0 - clock.now())) }
                            if pause == .zero { continue }
                        }
                    }
                    failures = 0
                } catch {
                    if untilIdle { throw error }
                    failures += 1
                    // Told once at error by the store's outage line; here once, then at debug.
                    logger.log(level: failures == 1 ? .warning : .debug, "outbox.store_failed", metadata: ["error": "\(error)"])
                    pause = TimerLoop.storeBackoff.backoff(attempt: failures, random: 0)
                }
                let wait = pause
                await cancelWhenGracefulShutdown { await self.doorbell.wait(timeout: wait) }
            }
        }
        return pipeline.pass
    }

    /// Commits results as they arrive, in groups, until feeding has ended and nothing is in flight.
    private func recordResults(_ pipeline: Pipeline, untilIdle: Bool) async throws {
        var failures = 0
        while true {
            var (batch, done) = pipeline.takeFinished(limit: Self.commitBatch)
            if batch.isEmpty {
                // Cancelled past the shutdown deadline: what is unrecorded stays in the outbox.
                if done || Task.isCancelled { return }
                await pipeline.results.wait(timeout: nil)
                continue
            }
            // Calls that end one by one (a throttled or slow Step Functions) would each cost a
            // commit: results wait a moment for company. The task already has its outcome, so
            // the wait delays no workflow; it only keeps the entries' places a little longer.
            let deadline = ContinuousClock.now + Self.recordLinger
            while batch.count < Self.commitBatch, !done, !Task.isCancelled, ContinuousClock.now < deadline {
                await pipeline.results.wait(timeout: deadline - ContinuousClock.now)
                let more: [(OutboxEntry, Correlator.DeliveryResult)]
                (more, done) = pipeline.takeFinished(limit: Self.commitBatch - batch.count)
                batch += more
                if pipeline.inFlightCount == batch.count { break }
            }
            do {
                let pass = try await record(batch)
                failures = 0
                if pipeline.recorded(batch, pass) { liveness?.end() } else { liveness?.progress() }
            } catch {
                if untilIdle { throw error }
                failures += 1
                logger.log(
                    level: failures == 1 ? .warning : .debug, "outbox.store_failed",
                    metadata: [
                        "error": "\(error)", "outbox.results": "\(batch.count)",
                    ])
                if failures >= Self.recordAttempts {
                    failures = 0
                    if pipeline.recorded(batch, Pass()) { liveness?.end() }
                } else {
                    pipeline.putBack(batch)
                    try? await Task.sleep(for: TimerLoop.storeBackoff.backoff(attempt: failures, random: 0))
                }
            }
            doorbell.ring()
        }
    }

    /// What the feeder and the recorder share: the entries in flight (claimed and not yet
    /// recorded) and the results waiting to be committed.
    private final class Pipeline: Sendable {
        private struct State {
            var inFlight: Set<Int64> = []
            var finished: [(OutboxEntry, Correlator.DeliveryResult)] = []
            var feeding = true
            var pass = Pass()
        }
        private let state = Mutex(State())
        /// Rung when a result arrives or feeding ends.
        let results = Doorbell()

        var inFlight: Set<Int64> { state.withLock { $0.inFlight } }
        /// How many are in flight, without copying the set.
        var inFlightCount: Int { state.withLock { $0.inFlight.count } }
        var pass: Pass { state.withLock { $0.pass } }

        /// Marks entries in flight; true when the pipeline was idle before.
        func start(_ entries: [OutboxEntry]) -> Bool {
            guard !entries.isEmpty else { return false }
            return state.withLock { state in
                let wasIdle = state.inFlight.isEmpty
                for entry in entries { state.inFlight.insert(entry.id) }
                return wasIdle
            }
        }

        func finish(_ entry: OutboxEntry, _ result: Correlator.DeliveryResult) {
            state.withLock { $0.finished.append((entry, result)) }
            results.ring()
        }

        /// Up to `limit` results to commit, and whether the pipeline is done (no more will come).
        func takeFinished(limit: Int) -> ([(OutboxEntry, Correlator.DeliveryResult)], done: Bool) {
            state.withLock { state in
                let batch = Array(state.finished.prefix(limit))
                state.finished.removeFirst(batch.count)
                return (batch, !state.feeding && state.inFlight.isEmpty && state.finished.isEmpty)
            }
        }

        func putBack(_ batch: [(OutboxEntry, Correlator.DeliveryResult)]) {
            state.withLock { $0.finished.insert(contentsOf: batch, at: 0) }
        }

        /// The batch is settled (committed, or given up on): its entries may be claimed again.
        /// True when nothing is in flight any more.
        func recorded(_ batch: [(OutboxEntry, Correlator.DeliveryResult)], _ pass: Pass) -> Bool {
            state.withLock { state in
                for (entry, _) in batch { state.inFlight.remove(entry.id) }
                state.pass.add(pass)
                return state.inFlight.isEmpty
            }
        }

        func endFeeding() {
            state.withLock { $0.feeding = false }
            results.ring()
        }
    }

    /// Commits one group of results, one unit per delivery, and logs each; returns their count.
    private func record(_ results: [(OutboxEntry, Correlator.DeliveryResult)]) async throws -> Pass {
        var pass = Pass()
        let now = clock.now()
        let correlator = Correlator(now: now)
        // Drawn once, outside `decide`: a backend that decides again on a conflict gets the same answer.
        let units = results.map { entry, result in
            let jitter = clock.random()
            return StoreUnit<Decision>(reads: [.token(hash: entry.tokenHash)]) { _ in
                let decision = correlator.decide(entry, result: result, jitter: jitter)
                return (decision, decision.effects)
            }
        }
        let started = ContinuousClock.now
        let decisions = try await store.commit(units)
        metrics?.recorded(elapsed: ContinuousClock.now - started)
        let acknowledged = metrics == nil ? now : clock.now()
        for (result, decision) in zip(results, decisions) {
            let entry = result.0
            if let metrics {
                let permanent = if case .failed(_, _, let transient) = result.1 { !transient } else { false }
                metrics.delivery(entry, verdict: decision.verdict, permanent: permanent, now: acknowledged)
            }
            var metadata: Logger.Metadata = [
                "outbox.action": "\(entry.action.rawValue)", "token.hash": "\(TaskTokens.short(entry.tokenHash))",
                "outcome": "\(decision.verdict)",
            ]
            if !entry.jobName.isEmpty { metadata["job.name"] = "\(entry.jobName)" }
            pass.count(decision.verdict)
            var refused = false
            if case .delivered = decision.verdict { metadata["outbox.age_ms"] = "\(now - entry.createdAt)" }
            if case .retryLater = decision.verdict, case .failed(let code, _, let transient) = result.1 {
                metadata["aws.error"] = "\(code)"
                metadata["outbox.attempts"] = "\(entry.attempts + 1)"
                refused = !transient
            }
            let (level, event) = decision.verdict.logLine(refused: refused)
            logger.log(level: level, event, metadata: metadata)
        }
        return pass
    }

    /// Makes a Step Functions call when the pacer allows, again after each throttled answer (at
    /// most ``throttledAttempts`` in all; the last one's error is thrown).
    private func paced(_ pacer: CallPacer, _ call: () async throws -> Void) async throws {
        var throttled = 0
        while true {
            await pacer.admit()
            do {
                try await call()
                pacer.accepted()
                return
            } catch  where RetryableFailure.classify(error) == .throttling {
                pacer.throttled()
                throttled += 1
                if throttled >= Self.throttledAttempts || Task.isCancelled { throw error }
            }
        }
    }

    /// One delivery attempt, reduced to what the engine needs to decide.
    func deliver(_ entry: OutboxEntry) async -> Correlator.DeliveryResult {
        do {
            switch entry.action {
            case .success:
                try await paced(pacers.success) {
                    try await callbacks.sendTaskSuccess(taskToken: entry.taskToken, output: entry.payload, retryPolicy: Self.pacedRetryPolicy)
                }
            case .failure:
                try await paced(pacers.failure) {
                    try await callbacks.sendTaskFailure(
                        taskToken: entry.taskToken, error: entry.errorName ?? "SageMakerCallback.Failed", cause: entry.payload,
                        retryPolicy: Self.pacedRetryPolicy
                    )
                }
            case .heartbeat:
                try await paced(pacers.heartbeat) {
                    try await callbacks.sendTaskHeartbeat(taskToken: entry.taskToken, retryPolicy: Self.pacedRetryPolicy)
                }
            case .createJob:
                guard let kind = JobKind.named(entry.jobKind), let request = (try? JSONValue.parse(entry.payload))?.objectValue else {
                    return .failed(code: "ValidationException", message: "the stored Create request is unusable", transient: false)
                }
                _ = try await jobs.createJob(operation: kind.createOperation, request: request)
            case .stopJob:
                guard let kind = JobKind.named(entry.jobKind) else {
                    return .failed(code: "ValidationException", message: "unknown job kind \(entry.jobKind)", transient: false)
                }
                try await jobs.stopJob(
                    operation: kind.stopOperation, nameField: kind.nameField, name: entry.jobName, retryPolicy: Self.callRetryPolicy)
            }
            return .delivered
        } catch {
            // Only a refusal for good waits long; anything that may pass is retried soon.
            let failure = CallFailure(error)
            return .failed(code: failure.code, message: failure.message, transient: !failure.isRefusal)
        }
    }
}
