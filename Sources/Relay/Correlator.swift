import AWS
import JSON
public import CallbackStore

/// The correlation engine: given one input and what the store knows about it, decides what to
/// store, complete, ignore or reject. It does no I/O; the services around it read the store,
/// apply the decision in one transaction, and send what it queues.
public struct Correlator: Sendable {
    /// The error a workflow receives when its registration message is unusable.
    public static let invalidRegistrationError = "SageMakerCallback.InvalidRegistration"

    /// Decision time, epoch milliseconds.
    public var now: Int64

    public init(now: Int64) { self.now = now }

    // MARK: Registrations

    /// What the store knows about a registration's token and job.
    public struct RegistrationState: Sendable {
        public var isPending: Bool
        public var isClosed: Bool
        /// The job's terminal event, when one already arrived.
        public var terminal: JobStateChange?
        /// The registration's execution, when it ended after the registration was sent.
        public var executionEnded: EndedExecution?
        public init(isPending: Bool, isClosed: Bool, terminal: JobStateChange?, executionEnded: EndedExecution? = nil) {
            self.isPending = isPending
            self.isClosed = isClosed
            self.terminal = terminal
            self.executionEnded = executionEnded
        }
    }

    /// A valid registration: wait for the job, create it first, or complete at once when its
    /// terminal event came earlier. A token seen before is a no-op (effectively once).
    public func decide(_ registration: RegistrationMessage, state: RegistrationState) -> Decision {
        let hash = registration.tokenHash
        func decision(_ verdict: Verdict, _ effects: [Effect]) -> Decision {
            Decision(verdict, effects: effects, jobName: registration.jobName, tokenHash: hash)
        }
        if state.isPending || state.isClosed {
            return decision(.duplicateRegistration, [])
        }
        if let ended = state.executionEnded {
            // Its workflow is gone: no job to create, no task to complete.
            var effects: [Effect] = [.markClosed(tokenHash: hash, result: "execution \(ended.status) before registration", at: now)]
            let status = ExecutionStatus(rawValue: ended.status)
            var stops = 0
            if registration.createRequest == nil, registration.stopJobOnAbort, status?.isAbandonment == true {
                stops = 1
                effects.append(stopJob(tokenHash: hash, kind: registration.kind.name, jobName: registration.jobName))
            }
            return decision(.executionEnded(status ?? .aborted, callbacks: 1, stops: stops), effects)
        }
        if let terminal = state.terminal, let outcome = Outcome.forChange(terminal) {
            return decision(
                .completedOnArrival(terminal.status),
                [
                    .enqueue(
                        entry(outcome, token: registration.taskToken, tokenHash: hash, kind: registration.kind.name, jobName: registration.jobName)),
                    .markClosed(tokenHash: hash, result: "queued", at: now),
                ])
        }
        let callback = PendingCallback(
            tokenHash: hash,
            taskToken: registration.taskToken,
            jobKind: registration.kind.name,
            jobName: registration.jobName,
            registeredAt: now,
            executionArn: registration.executionArn,
            heartbeat: registration.heartbeat,
            createdByService: registration.createRequest != nil,
            stopJobOnAbort: registration.stopJobOnAbort
        )
        var effects: [Effect] = [.insertPending(callback)]
        if registration.heartbeat {
            // The first heartbeat goes out at once: it tells Step Functions the token arrived,
            // however long the message took, and a token already dead is found out now.
            effects += heartbeatEffects(callback)
        }
        if let request = registration.createRequest {
            effects.append(
                .enqueue(
                    NewOutboxEntry(
                        tokenHash: hash, taskToken: registration.taskToken,
                        jobKind: registration.kind.name, jobName: registration.jobName,
                        action: .createJob, payload: JSONValue.object(request).serialized(), errorName: nil, notBefore: now
                    )))
            return decision(.registeredCreating, effects)
        }
        return decision(.registered, effects)
    }

    /// An unusable registration: recorded; when it carries a token, the task fails at once so the
    /// workflow does not wait for its timeout.
    public func decideInvalidRegistration(
        taskToken: String?, reason: String, body: String, source: String, messageID: String?, tokenClosed: Bool
    ) -> Decision {
        var effects: [Effect] = [
            .recordRejected(
                RejectedMessage(
                    id: 0, receivedAt: now, source: source, messageID: messageID, reason: reason, body: TaskTokens.masked(body, known: taskToken)
                ))
        ]
        guard let taskToken else { return Decision(.rejected(reason), effects: effects) }
        let hash = TaskTokens.hash(taskToken)
        guard !tokenClosed else { return Decision(.rejected(reason), effects: effects, tokenHash: hash) }
        let outcome = Outcome.failure(error: Self.invalidRegistrationError, fields: ["Reason": .string(reason)])
        effects.append(.enqueue(entry(outcome, token: taskToken, tokenHash: hash, kind: "", jobName: "")))
        effects.append(.markClosed(tokenHash: hash, result: "queued", at: now))
        return Decision(.rejectedAndFailed(reason), effects: effects, tokenHash: hash)
    }

    // MARK: Events

    /// A job state change. Terminal: completes every callback waiting for the job, and remembers
    /// the event for registrations that come later (the first terminal event wins, so repeats
    /// are no-ops). Running: notes the status and queues heartbeats where asked.
    public func decide(_ change: JobStateChange, event: String, pending: [PendingCallback], terminalKnown: Bool) -> Decision {
        func decision(_ verdict: Verdict, _ effects: [Effect]) -> Decision {
            Decision(verdict, effects: effects, jobName: change.jobName)
        }
        guard let outcome = Outcome.forChange(change) else {
            guard !pending.isEmpty else { return decision(.noCallback(change.status), []) }
            var effects: [Effect] = []
            var beats = 0
            for callback in pending {
                effects.append(.updateStatus(tokenHash: callback.tokenHash, status: change.status.rawValue, at: now))
                if callback.sweep.missingSince != nil {
                    // The job exists after all: its grace period no longer runs.
                    var sweep = callback.sweep
                    sweep.missingSince = nil
                    sweep.status = change.status.rawValue
                    effects.append(.recordSweep(tokenHash: callback.tokenHash, sweep))
                }
                if callback.heartbeat {
                    beats += 1
                    effects += heartbeatEffects(callback)
                }
            }
            return decision(beats > 0 ? .heartbeat(callbacks: beats) : .statusNoted(change.status, callbacks: pending.count), effects)
        }

        var effects: [Effect] = []
        for callback in pending {
            effects += complete(callback, with: outcome)
        }
        effects.append(
            .rememberTerminal(
                EarlyEvent(
                    jobKind: change.kind.name, jobName: change.jobName, status: change.status.rawValue, event: event, receivedAt: now
                )))
        if !pending.isEmpty { return decision(.completed(change.status, callbacks: pending.count), effects) }
        if terminalKnown { return decision(.duplicateEvent(change.status), []) }
        return decision(.keptEarly(change.status), effects)
    }

    /// An events-queue message that is malformed (or valid but not ours): recorded, never fatal.
    public func decideRejectedEvent(reason: String, unsupported: Bool, body: String, source: String, messageID: String?) -> Decision {
        // A registration sent to the events queue by mistake carries a token like any other.
        Decision(
            unsupported ? .unsupported(reason) : .rejected(reason),
            effects: [
                .recordRejected(
                    RejectedMessage(
                        id: 0, receivedAt: now, source: source, messageID: messageID, reason: reason, body: TaskTokens.masked(body)
                    ))
            ]
        )
    }

    // MARK: Deliveries

    /// How one outbox delivery went.
    public enum DeliveryResult: Sendable, Equatable {
        case delivered
        /// The service refused or could not be reached. `transient` failures (throttling, 5xx,
        /// connection) are retried sooner than permanent ones.
        case failed(code: String, message: String, transient: Bool)
    }

    /// Outbox backoff after transient failures: from 1 s doubling to 5 min. Half fixed, half
    /// jittered: spreads a burst without ever retrying at once. A callback is never given up on.
    static let transientBackoff = RetryPolicy(maxAttempts: .max, base: .seconds(1), cap: .seconds(300), jitter: .equal)
    /// Outbox backoff after permanent failures: from 30 s doubling to 10 min (an operator may fix
    /// a permission).
    static let permanentBackoff = RetryPolicy(maxAttempts: .max, base: .seconds(30), cap: .seconds(600), jitter: .equal)

    /// The wait (ms) after the `attempts`-th failed delivery; `jitter` is the random value in [0, 1].
    static func backoff(attempts: Int, transient: Bool, jitter: Double) -> Int64 {
        (transient ? transientBackoff : permanentBackoff).backoff(attempt: attempts, random: jitter).milliseconds
    }

    /// A stop that finds no job looks again for this long (ms): a Create call in flight when the
    /// execution ended (its own retries and timeouts included) may still land.
    static let stopLookAgainWindow: Int64 = 120_000
    /// How long a stop that found no job waits before it looks again (ms).
    static let stopLookAgainDelay: Int64 = 15_000

    /// Heartbeats are worth little once late: they are dropped after this many failed attempts.
    static let heartbeatAttempts = 3

    /// What to record after a delivery attempt of `entry`. `jitter` is a random value in [0, 1).
    public func decide(_ entry: OutboxEntry, result: DeliveryResult, jitter: Double) -> Decision {
        func decision(_ verdict: Verdict, _ effects: [Effect]) -> Decision {
            Decision(verdict, effects: effects, jobName: entry.jobName.isEmpty ? nil : entry.jobName, tokenHash: entry.tokenHash)
        }
        switch result {
        case .delivered:
            switch entry.action {
            case .success, .failure:
                return decision(
                    .delivered(entry.action),
                    [
                        .deleteOutbox(id: entry.id),
                        .markClosed(tokenHash: entry.tokenHash, result: entry.action == .success ? "succeeded" : "failed", at: now),
                    ])
            case .heartbeat, .createJob, .stopJob:
                return decision(.delivered(entry.action), [.deleteOutbox(id: entry.id)])
            }

        case .failed(let code, let message, let transient):
            if entry.action == .stopJob, SageMaker.noSuchRunningJobCodes.contains(code) {
                if SageMaker.isNoSuchJob(code: code, message: message), now - entry.createdAt < Self.stopLookAgainWindow {
                    // A Create still in flight when the execution ended may land after this stop.
                    return decision(
                        .retryLater(.stopJob, code),
                        [
                            .rescheduleOutbox(
                                id: entry.id, attempts: entry.attempts + 1, nextAttemptAt: now + Self.stopLookAgainDelay,
                                lastError: "\(code): no such job yet"
                            )
                        ])
                }
                // Already finished, or never created: either way there is nothing left to stop.
                return decision(.nothingToStop(code), [.deleteOutbox(id: entry.id)])
            }
            if entry.action == .heartbeat, code == "InvalidToken" {
                // Not proof that the task is gone: Step Functions emulators answer it while the
                // task is still starting. The outcome's own answer will settle the token.
                return decision(.heartbeatRefused(code), [.deleteOutbox(id: entry.id)])
            }
            if entry.action.callsStepFunctions, StepFunctions.taskClosedCodes.contains(code) {
                var effects: [Effect] = [
                    .deleteOutbox(id: entry.id), .markClosed(tokenHash: entry.tokenHash, result: "already closed: \(code)", at: now),
                ]
                if entry.action == .heartbeat {
                    // The task timed out or ended: nothing will ever complete it, so stop waiting for its job.
                    effects.insert(.removePending(tokenHash: entry.tokenHash), at: 1)
                    return decision(.callbackDropped("heartbeat answered \(code)"), effects)
                }
                return decision(.alreadyClosed(code), effects)
            }
            if entry.action == .createJob, !transient {
                if code == "ResourceInUse" {
                    // The job exists: an earlier attempt created it before a crash or a lost answer.
                    return decision(.delivered(.createJob), [.deleteOutbox(id: entry.id)])
                }
                let outcome = Outcome.sageMakerFailure(
                    code: code, kind: entry.jobKind, jobName: entry.jobName,
                    operation: JobKind.named(entry.jobKind)?.createOperation ?? "Create", message: message
                )
                return decision(
                    .createRefused(code),
                    [
                        .deleteOutbox(id: entry.id),
                        .enqueue(
                            self.entry(outcome, token: entry.taskToken, tokenHash: entry.tokenHash, kind: entry.jobKind, jobName: entry.jobName)),
                        .removePending(tokenHash: entry.tokenHash),
                        .markClosed(tokenHash: entry.tokenHash, result: "queued", at: now),
                    ])
            }
            let attempts = entry.attempts + 1
            if entry.action == .heartbeat, attempts >= Self.heartbeatAttempts {
                return decision(
                    .callbackDropped("heartbeat not delivered after \(attempts) attempts (\(code)); the callback still waits"),
                    [.deleteOutbox(id: entry.id)])
            }
            let lastError = message.isEmpty ? code : "\(code): \(message.prefix(200))"
            return decision(
                .retryLater(entry.action, code),
                [
                    .rescheduleOutbox(
                        id: entry.id, attempts: attempts,
                        nextAttemptAt: now + Self.backoff(attempts: attempts, transient: transient, jitter: jitter),
                        lastError: lastError
                    )
                ])
        }
    }

    // MARK: Helpers

    /// Queues `outcome` for a callback and closes it, superseding its queued heartbeats and any
    /// Create call not yet made (the job plainly exists, or the task is over).
    func complete(_ callback: PendingCallback, with outcome: Outcome) -> [Effect] {
        [
            .dropQueued(tokenHash: callback.tokenHash, actions: [.heartbeat, .createJob]),
            .enqueue(entry(outcome, token: callback.taskToken, tokenHash: callback.tokenHash, kind: callback.jobKind, jobName: callback.jobName)),
            .removePending(tokenHash: callback.tokenHash),
            .markClosed(tokenHash: callback.tokenHash, result: "queued", at: now),
        ]
    }

    /// Queues a `Stop…Job`; it needs no task token, so none is stored with it.
    func stopJob(tokenHash: String, kind: String, jobName: String) -> Effect {
        .enqueue(
            NewOutboxEntry(
                tokenHash: tokenHash, taskToken: "", jobKind: kind, jobName: jobName,
                action: .stopJob, payload: "", errorName: nil, notBefore: now
            ))
    }

    /// Queues one heartbeat for a callback, replacing one still queued, and notes when.
    func heartbeatEffects(_ callback: PendingCallback) -> [Effect] {
        [
            .dropQueued(tokenHash: callback.tokenHash, actions: [.heartbeat]),
            .enqueue(
                NewOutboxEntry(
                    tokenHash: callback.tokenHash, taskToken: callback.taskToken,
                    jobKind: callback.jobKind, jobName: callback.jobName,
                    action: .heartbeat, payload: "", errorName: nil, notBefore: now
                )),
            .noteHeartbeat(tokenHash: callback.tokenHash, at: now),
        ]
    }

    func entry(_ outcome: Outcome, token: String, tokenHash: String, kind: String, jobName: String) -> NewOutboxEntry {
        switch outcome {
        case .success(let output):
            NewOutboxEntry(
                tokenHash: tokenHash, taskToken: token, jobKind: kind, jobName: jobName, action: .success, payload: output, errorName: nil,
                notBefore: now)
        case .failure(let error, let cause):
            NewOutboxEntry(
                tokenHash: tokenHash, taskToken: token, jobKind: kind, jobName: jobName, action: .failure, payload: cause, errorName: error,
                notBefore: now)
        }
    }
}
