import AWS
public import Logging
public import ServiceLifecycle
public import CallbackStore

/// The safety net for lost events: SageMaker's delivery to EventBridge is best effort, so a
/// callback that has waited `after` without a terminal event gets one `Describe…Job`.
///
/// - A terminal job completes its callbacks exactly as its event would have.
/// - A running job is checked again `after` later.
/// - A job SageMaker does not know gets `grace` to appear; then its callbacks fail with
///   `SageMaker.JobNotFound`.
///
/// Calls are paced by ``SweepPacer`` (at most `rate` per second, jittered, slower after
/// throttling). What each check found is stored with the callback, so a restart resumes the
/// schedule and the grace periods where they were.
public final class SafetySweep: Service, Sendable {
    /// How the sweep is tuned.
    public struct Settings: Sendable, Equatable {
        /// How long a callback waits without a terminal event before its job is described, and
        /// between checks of a job that still runs.
        public var after: Duration
        /// How long a job found missing may take to appear.
        public var grace: Duration
        /// Most `Describe…Job` calls per second.
        public var rate: Double

        public init(after: Duration = .seconds(3_600), grace: Duration = .seconds(600), rate: Double = 1) {
            self.after = after
            self.grace = grace
            self.rate = rate
        }
    }

    private let store: any CallbackStore
    private let jobs: any JobControl
    private let settings: Settings
    private let doorbell: Doorbell
    private let logger: Logger
    private let liveness: Liveness.Loop?
    private let metrics: RelayMetrics?
    private let clock: ServiceClock

    /// Callbacks read per pass.
    static let batch = 64
    /// One attempt per check: a retry would break the pacing; the next pass is the retry.
    static let describePolicy = RetryPolicy(maxAttempts: 1)
    /// How long the fleet-wide lease `"sweep"` is held (ms), renewed before each `Describe…Job`:
    /// only its holder sweeps, so `rate` limits the whole fleet.
    public static let leaseDuration: Int64 = 60_000

    /// A sweep describing jobs through `jobs`, ringing `doorbell` (the dispatcher's) when it
    /// queued work; `clock` gives the time, the pacing's sleeps and its jitter.
    public init(
        store: any CallbackStore, jobs: any JobControl, settings: Settings, doorbell: Doorbell, logger: Logger, liveness: Liveness? = nil,
        metrics: RelayMetrics? = nil, clock: ServiceClock = .system
    ) {
        self.store = store
        self.metrics = metrics
        self.jobs = jobs
        self.settings = settings
        self.doorbell = doorbell
        self.logger = logger
        self.liveness = liveness?.loop("safety sweep")
        self.clock = clock
    }

    var timing: Correlator.SweepTiming {
        let after = settings.after.milliseconds
        // A failed check is retried sooner than a running job is re-checked, but not in a tight loop.
        return Correlator.SweepTiming(recheckAfter: after, grace: settings.grace.milliseconds, retryAfter: min(after, 60_000))
    }

    public func run() async throws {
        var pacer = SweepPacer(rate: settings.rate, clock: clock)
        await TimerLoop.run(failureEvent: "sweep.store_failed", logger: logger, liveness: liveness, sleep: clock.sleep) {
            try await pass(pacer: &pacer)
        }
    }

    /// Checks the jobs of callbacks due now, paced; returns how long to sleep until more are due.
    func pass(pacer: inout SweepPacer) async throws -> Duration {
        let after = settings.after.milliseconds
        let now = clock.now()
        guard try await store.holdLease("sweep", now: now, duration: Self.leaseDuration) else {
            return .milliseconds(min(after, Self.leaseDuration / 2))
        }
        let due = try await store.sweepDue(now: now, firstCheckBefore: now - after, limit: Self.batch)
        if due.isEmpty {
            let (oldestUnswept, nextCheck) = try await store.nextSweep()
            let next = [oldestUnswept.map { $0 + after }, nextCheck].compactMap { $0 }.min() ?? now + after
            return .milliseconds(min(max(next - now, 0), after))
        }
        var seen = Set<JobKey>()
        for callback in due where seen.insert(JobKey(kind: callback.jobKind, name: callback.jobName)).inserted {
            guard try await check(kind: callback.jobKind, name: callback.jobName, pacer: &pacer) else {
                return .milliseconds(Self.leaseDuration / 2)
            }
        }
        return .zero
    }

    private struct JobKey: Hashable {
        var kind: String
        var name: String
    }

    /// One job: describe it (paced), then decide for every callback waiting for it. Returns false,
    /// having described nothing, when another process took the sweep's lease.
    @discardableResult
    func check(kind kindName: String, name: String, pacer: inout SweepPacer) async throws -> Bool {
        guard let kind = JobKind.named(kindName) else { return true }
        let job = StoreKey.job(kind: kindName, name: name)
        // The tokens are read in a second unit that declares them: a view answers only for its unit's keys.
        let hashes = try await store.commit(
            StoreUnit<[String]>(reads: [job]) { view in
                (try view.pendingCallbacks(jobKind: kindName, jobName: name).map(\.tokenHash), [])
            })
        let creating = try await store.commit(
            StoreUnit<Bool>(reads: hashes.map { .token(hash: $0) }) { view in
                (try hashes.contains { try view.hasOutbox(tokenHash: $0, action: .createJob) }, [])
            })
        let finding: Correlator.SweepFinding
        if creating {
            finding = .creating
        } else {
            // The pacing is waiting, not work: at a low rate it outlasts any bound on work.
            liveness?.end()
            try await pacer.waitTurn()
            guard try await store.holdLease("sweep", now: clock.now(), duration: Self.leaseDuration) else { return false }
            liveness?.begin()
            finding = await describe(kind, name: name)
            if case .failed(_, let throttled) = finding { pacer.record(throttled: throttled) } else { pacer.record(throttled: false) }
        }
        let correlator = Correlator(now: clock.now())
        let timing = self.timing
        let decision = try await store.commit(
            StoreUnit<Decision>(reads: [job]) { view in
                let callbacks = try view.pendingCallbacks(jobKind: kindName, jobName: name)
                guard !callbacks.isEmpty else { return (Decision(.sweepDeferred("no callback waits any more"), jobName: name), []) }
                let known = try view.earlyEvent(jobKind: kindName, jobName: name) != nil
                let decision = correlator.decideSweep(callbacks, finding: finding, timing: timing, terminalKnown: known)
                return (decision, decision.effects)
            })
        if decision.queuesWork { doorbell.ring() }
        metrics?.swept(decision.verdict)
        let metadata: Logger.Metadata = ["job.kind": "\(kindName)", "job.name": "\(name)", "outcome": "\(decision.verdict)"]
        // A refusal that is not throttling (a missing permission) needs an operator.
        let refused = if case .failed(_, throttled: false) = finding { true } else { false }
        let (level, event) = decision.verdict.logLine(refused: refused)
        logger.log(level: level, event, metadata: metadata)
        return true
    }

    func describe(_ kind: JobKind, name: String) async -> Correlator.SweepFinding {
        do {
            let description = try await jobs.describeJob(
                operation: kind.describeOperation, nameField: kind.nameField, name: name, retryPolicy: Self.describePolicy
            )
            guard let (change, event) = JobStateChange.described(kind, name: name, description: description) else {
                return .failed(code: "UnknownStatus", throttled: false)
            }
            return .found(change, event: event)
        } catch {
            let failure = CallFailure(error)
            if failure.answered, SageMaker.isNoSuchJob(code: failure.code, message: failure.message) { return .missing }
            return .failed(code: failure.code, throttled: failure.isThrottling)
        }
    }
}

/// Paces the sweep's calls: at most `rate` per second, each gap stretched by a random 0–50 %
/// so that several services do not fall into step, and doubled after each throttled answer (up
/// to 64 times) and halved again after each accepted one.
struct SweepPacer: Sendable {
    let rate: Double
    private(set) var slowdown: Double = 1
    private var lastCall: ContinuousClock.Instant?
    /// The jitter and the sleeps.
    private let clock: ServiceClock

    static let maxSlowdown: Double = 64

    init(rate: Double, clock: ServiceClock = .system) {
        self.rate = max(rate, 0.001)
        self.clock = clock
    }

    /// The gap to keep after the last call, for a jitter in [0, 1).
    func gap(jitter: Double) -> Duration {
        .seconds(slowdown / rate * (1 + 0.5 * jitter))
    }

    /// Sleeps until the next call may go.
    mutating func waitTurn() async throws {
        let jitter = clock.random()
        if let lastCall {
            let wait = lastCall + gap(jitter: jitter) - .now
            if wait > .zero {
                try await cancelWhenGracefulShutdown { [clock] in try await clock.sleep(wait) }
            }
        }
        lastCall = .now
    }

    /// Adapts to the answer of the call just made.
    mutating func record(throttled: Bool) {
        slowdown = throttled ? min(slowdown * 2, Self.maxSlowdown) : max(1, slowdown / 2)
    }
}
