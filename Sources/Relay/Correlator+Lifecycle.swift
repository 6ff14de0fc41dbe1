public import JSON
public import CallbackStore

/// Decisions that do not come from a job's own events: the workflow's execution ending, the
/// periodic heartbeat, the safety sweep and expiry.
extension Correlator {
    /// A callback older than this is dropped: a Standard execution lives at most one year, so its
    /// token is dead (a day of slack covers clock differences and a registration sent late).
    public static let maxCallbackAge: Int64 = 366 * 86_400_000

    // MARK: Executions

    /// An execution's status change. Once it has ended, its callbacks can never be completed, so
    /// they are dropped; when it was aborted, timed out or failed, the jobs of callbacks that ask
    /// for it (by default those the service created) are stopped.
    public func decide(_ change: ExecutionStatusChange, pending: [PendingCallback]) -> Decision {
        guard change.status.hasEnded else { return Decision(.executionNoted(change.status)) }
        // Remembered for registrations it sent that are still on their way.
        var effects: [Effect] = [
            .rememberExecutionEnd(
                EndedExecution(
                    executionArn: change.executionArn, status: change.status.rawValue, endedAt: change.stoppedAt ?? now, receivedAt: now
                ))
        ]
        guard !pending.isEmpty else { return Decision(.executionNoted(change.status), effects: effects) }
        var stops = 0
        for callback in pending {
            // A Create not yet made is cancelled: nobody waits for that job any more.
            effects.append(.dropQueued(tokenHash: callback.tokenHash, actions: [.heartbeat, .createJob]))
            effects.append(.removePending(tokenHash: callback.tokenHash))
            effects.append(.markClosed(tokenHash: callback.tokenHash, result: "execution \(change.status.rawValue)", at: now))
            if change.status.isAbandonment, callback.stopJobOnAbort {
                stops += 1
                effects.append(stopJob(tokenHash: callback.tokenHash, kind: callback.jobKind, jobName: callback.jobName))
            }
        }
        return Decision(
            .executionEnded(change.status, callbacks: pending.count, stops: stops), effects: effects,
            jobName: pending.count == 1 ? pending[0].jobName : nil, tokenHash: pending.count == 1 ? pending[0].tokenHash : nil
        )
    }

    // MARK: Heartbeats

    /// Periodic heartbeats for callbacks whose last one (or registration) is `interval` old.
    public func decideHeartbeats(_ due: [PendingCallback]) -> Decision {
        Decision(.heartbeat(callbacks: due.count), effects: due.flatMap(heartbeatEffects))
    }

    // MARK: The safety sweep

    /// What one `Describe…Job` of the sweep found.
    public enum SweepFinding: Sendable, Equatable {
        /// The job exists; `change` reads its description as an event would, `event` is that
        /// description wrapped as an EventBridge event (kept for registrations that come later).
        case found(JobStateChange, event: String)
        /// SageMaker has no such job.
        case missing
        /// The call failed; `throttled` when SageMaker asked us to slow down.
        case failed(code: String, throttled: Bool)
        /// Not asked: the service has yet to create the job.
        case creating
    }

    /// How the sweep spaces its checks (all milliseconds).
    public struct SweepTiming: Sendable, Equatable {
        /// A callback whose job still runs is checked again after this long.
        public var recheckAfter: Int64
        /// A job found missing gets this long to appear before its callbacks fail.
        public var grace: Int64
        /// A check that failed is tried again after this long.
        public var retryAfter: Int64
        public init(recheckAfter: Int64, grace: Int64, retryAfter: Int64) {
            self.recheckAfter = recheckAfter
            self.grace = grace
            self.retryAfter = retryAfter
        }
    }

    /// What a sweep check of one job means for `callbacks` (every callback waiting for the job).
    public func decideSweep(_ callbacks: [PendingCallback], finding: SweepFinding, timing: SweepTiming, terminalKnown: Bool) -> Decision {
        let jobName = callbacks.first?.jobName
        func record(_ callback: PendingCallback, status: String?, next: Int64, missingSince: Int64?, counted: Bool = true) -> Effect {
            .recordSweep(
                tokenHash: callback.tokenHash,
                SweepState(
                    checks: callback.sweep.checks + (counted ? 1 : 0), status: status, nextCheckAt: next, missingSince: missingSince
                ))
        }
        switch finding {
        case .found(let change, let event):
            if change.status.isTerminal {
                let decision = decide(change, event: event, pending: callbacks, terminalKnown: terminalKnown)
                return Decision(.sweptCompleted(change.status, callbacks: callbacks.count), effects: decision.effects, jobName: jobName)
            }
            let effects = callbacks.flatMap { callback -> [Effect] in
                [
                    .updateStatus(tokenHash: callback.tokenHash, status: change.status.rawValue, at: now),
                    record(callback, status: change.status.rawValue, next: now + timing.recheckAfter, missingSince: nil),
                ]
            }
            return Decision(.sweptRunning(change.status, callbacks: callbacks.count), effects: effects, jobName: jobName)

        case .missing:
            var effects: [Effect] = []
            var failed = 0
            for callback in callbacks {
                let since = callback.sweep.missingSince ?? now
                if now - since >= timing.grace {
                    failed += 1
                    effects += complete(callback, with: jobNotFound(callback, since: since))
                } else {
                    effects.append(record(callback, status: "missing", next: since + timing.grace, missingSince: since))
                }
            }
            return Decision(.sweptMissing(failed: failed, waiting: callbacks.count - failed), effects: effects, jobName: jobName)

        case .failed(let code, _):
            let effects = callbacks.map { callback in
                record(callback, status: "error: \(code)", next: now + timing.retryAfter, missingSince: callback.sweep.missingSince)
            }
            return Decision(.sweepDeferred("Describe failed (\(code))"), effects: effects, jobName: jobName)

        case .creating:
            let effects = callbacks.map { callback in
                record(callback, status: "creating", next: now + timing.retryAfter, missingSince: nil, counted: false)
            }
            return Decision(.sweepDeferred("the job is still being created"), effects: effects, jobName: jobName)
        }
    }

    private func jobNotFound(_ callback: PendingCallback, since: Int64) -> Outcome {
        let kind = JobKind.named(callback.jobKind)
        return Outcome.sageMakerFailure(
            code: "JobNotFound", kind: callback.jobKind, jobName: callback.jobName, operation: nil,
            message: "SageMaker has no \(kind?.name ?? "job") named '\(callback.jobName)': \(kind?.describeOperation ?? "Describe") found none "
                + "\((since - callback.registeredAt) / 1000) s after the registration, nor \((now - since) / 1000) s later"
        )
    }

    // MARK: Expiry

    /// Callbacks older than ``maxCallbackAge``: their tokens are dead, so they are dropped.
    public func decideExpired(_ callbacks: [PendingCallback]) -> Decision {
        let effects = callbacks.flatMap { callback -> [Effect] in
            [
                .dropQueued(tokenHash: callback.tokenHash, actions: [.heartbeat, .createJob]),
                .removePending(tokenHash: callback.tokenHash),
                .markClosed(tokenHash: callback.tokenHash, result: "expired", at: now),
            ]
        }
        return Decision(.expired(callbacks: callbacks.count), effects: effects)
    }
}

extension JobStateChange {
    /// Reads a `Describe…Job` answer as the state change it reports, plus that description
    /// wrapped as an EventBridge event; nil when it names no known status.
    public static func described(_ kind: JobKind, name: String, description: JSONObject) -> (change: JobStateChange, event: String)? {
        guard let status = description[kind.statusField]?.stringValue.flatMap(JobStatus.init(rawValue:)) else { return nil }
        let change = JobStateChange(
            kind: kind, jobName: name, jobArn: description[kind.arnField]?.stringValue, status: status,
            detail: description, eventID: nil, changedAt: description["LastModifiedTime"].flatMap(Timestamp.milliseconds)
        )
        let event: JSONObject = [
            "version": "0", "detail-type": .string(kind.detailType), "source": "aws.sagemaker",
            "resources": .array(change.jobArn.map { [.string($0)] } ?? []), "detail": .object(description),
        ]
        return (change, JSONValue.object(event).serialized())
    }
}
