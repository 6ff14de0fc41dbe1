public import AWS
import CallbackStore
public import Logging
public import ServiceLifecycle
import Synchronization

/// Long-polls one SQS queue and runs what it receives through the engine: a batch is committed
/// in one transaction, and only then deleted from the queue. Nothing a message says can stop it.
///
/// Receiving overlaps committing: as soon as a batch arrives the next receive is sent, and up to
/// ``batchesInFlight`` batches are committed at once (the store groups their commits), each
/// deleted once committed, without holding back the next (up to ``deletesInFlight`` deletes).
public final class QueueConsumer: Service, Sendable {
    /// Batches received and not yet deleted, at most: enough that a batch is always waiting when
    /// a commit ends, few enough that a stalled store holds little.
    static let batchesInFlight = 4
    /// Committed batches whose delete is still on its way, at most; beyond, receiving waits.
    /// Deletes do not hold a batch's place: one that stalls until its timeout used to keep one
    /// of the four for 10 s (30 s before), so a few stalled deletes stopped the queue's intake.
    static let deletesInFlight = 16

    private let queueURL: String
    private let role: MessageRole
    private let source: any MessageSource
    private let intake: MessageIntake
    /// The dispatcher's: rung when a commit queued work for it.
    private let doorbell: Doorbell
    private let clock: ServiceClock
    private let waitSeconds: Int
    private let logger: Logger
    private let liveness: Liveness.Loop?
    /// What ``run()`` has in hand, and the bell its batches ring when they free a place.
    private let work = Mutex(Work())
    private let freed = Doorbell()
    private let metrics: RelayMetrics?
    private let health: HealthChecks?

    /// A consumer of `queueURL` through `source`, ringing `doorbell` (the dispatcher's) after each commit.
    public init(
        queueURL: String, role: MessageRole, source: any MessageSource, intake: MessageIntake, doorbell: Doorbell, waitSeconds: Int = SQS.maxWait,
        logger: Logger, liveness: Liveness? = nil, metrics: RelayMetrics? = nil, health: HealthChecks? = nil, clock: ServiceClock = .system
    ) {
        self.queueURL = queueURL
        self.role = role
        self.source = source
        self.intake = intake
        self.doorbell = doorbell
        self.clock = clock
        self.waitSeconds = waitSeconds
        var logger = logger
        logger[metadataKey: "sqs.queue"] = "\(role.rawValue)"
        self.logger = logger
        self.liveness = liveness?.loop("\(role.rawValue) consumer", silentAfter: Self.silenceBound(waitSeconds: waitSeconds))
        self.metrics = metrics
        self.health = health
        health?.expectQueue(role.rawValue)
    }

    public func run() async throws {
        logger.info("consumer.started", metadata: ["sqs.queue_url": "\(queueURL)"])
        // Batches in hand finish after the loop ends (the group waits for them): commit, then delete.
        await withDiscardingTaskGroup { batches in
            var failures = 0
            while !Task.isShuttingDownGracefully, !Task.isCancelled {
                if !work.withLock({ $0.hasRoom }) {
                    // Work in hand: a store that stalls shows as a consumer that does not finish.
                    liveness?.begin()
                    while !work.withLock({ $0.hasRoom }), !Task.isCancelled { await freed.wait(timeout: nil) }
                }
                let storeFailures = work.withLock { $0.commitFailures }
                if storeFailures > 0 {
                    // The store cannot commit: what is received now would only be received again
                    // (and count towards the queue's redrive), so receiving slows down until it can.
                    let wait = Self.receiveBackoff.backoff(attempt: storeFailures, random: clock.random())
                    try? await cancelWhenGracefulShutdown { [clock] in try await clock.sleep(wait) }
                }
                let messages: [SQSMessage]
                do {
                    // Only the wait is cancelled on shutdown; a batch already received is finished below.
                    messages = try await cancelWhenGracefulShutdown { [source, queueURL, waitSeconds] in
                        try await source.receiveMessages(queueURL: queueURL, waitSeconds: waitSeconds)
                    }
                    failures = 0
                    health?.received(from: role.rawValue)
                } catch is CancellationError {
                    break
                } catch {
                    // A failed receive is a cycle too: an AWS outage must not look like a hung process.
                    liveness?.end()
                    failures += 1
                    let wait = Self.receiveBackoff.backoff(attempt: failures, random: clock.random())
                    logger.warning("consumer.receive_failed", metadata: ["error": "\(error)", "retry_in_ms": "\(wait.milliseconds)"])
                    try? await cancelWhenGracefulShutdown { [clock] in try await clock.sleep(wait) }
                    continue
                }
                liveness?.end()
                if !messages.isEmpty {
                    metrics?.received(messages.count, from: role)
                    work.withLock { $0.committing += 1 }
                    batches.addTask {
                        let committed = await self.commit(messages)
                        // Committed: the batch's place is free while its delete runs (a stalled
                        // delete must not hold back the next batches; what it deletes is safe).
                        let storeFailing = committed.isEmpty && self.intake.storeIsFailing
                        self.work.withLock { work in
                            work.committing -= 1
                            work.deleting += committed.isEmpty ? 0 : 1
                            work.commitFailures = committed.isEmpty ? work.commitFailures + (storeFailing ? 1 : 0) : 0
                        }
                        self.freed.ring()
                        guard !committed.isEmpty else { return }
                        await self.delete(committed)
                        self.work.withLock { $0.deleting -= 1 }
                        self.freed.ring()
                    }
                }
            }
        }
        liveness?.stop()
        // Shutting down (the consumers stop first): no longer ready, whatever the window says.
        health?.stopping()
        logger.info("consumer.stopped")
    }

    /// Batches being committed, and committed batches being deleted.
    struct Work {
        var committing = 0
        var deleting = 0
        /// Batches in a row that could not commit at all while the store was failing.
        var commitFailures = 0
        /// Whether another batch may be received.
        var hasRoom: Bool { committing < QueueConsumer.batchesInFlight && deleting < QueueConsumer.deletesInFlight }
    }

    /// Backoff after consecutive receive failures: 1 s doubling to 30 s, the upper half
    /// jittered, never given up.
    static let receiveBackoff = RetryPolicy(maxAttempts: .max, base: .milliseconds(500), cap: .seconds(30), jitter: .equal)

    /// Commits a batch and returns the messages committed (to be deleted). When the batch cannot
    /// commit as a whole, each message is tried alone; one that still fails stays in the queue
    /// for its redrive policy.
    func commit(_ messages: [SQSMessage]) async -> [SQSMessage] {
        let incoming = messages.map { IncomingMessage(messageID: $0.messageID, body: $0.body, sentAt: $0.sentAt) }
        var committed: [SQSMessage] = []
        do {
            let started = ContinuousClock.now
            let decisions = try await intake.process(incoming, role: role, source: role.rawValue)
            metrics?.committed(decisions, role: role, sentAt: incoming.map(\.sentAt), elapsed: ContinuousClock.now - started)
            log(decisions, messages)
            committed = messages
        } catch {
            // A store outage is told once at error by the store (`store.unavailable`); what each
            // batch it costs is left at debug. A failure of its own is this batch's.
            let outage = intake.storeIsFailing
            logger.log(
                level: outage ? .debug : .error, "consumer.commit_failed", metadata: ["error": "\(error)", "sqs.batch_size": "\(messages.count)"])
            for (message, one) in zip(messages, incoming) {
                do {
                    let started = ContinuousClock.now
                    let decisions = try await intake.process([one], role: role, source: role.rawValue)
                    metrics?.committed(decisions, role: role, sentAt: [one.sentAt], elapsed: ContinuousClock.now - started)
                    log(decisions, [message])
                    committed.append(message)
                } catch {
                    logger.log(
                        level: intake.storeIsFailing ? .debug : .error, "consumer.message_left_in_queue",
                        metadata: [
                            "sqs.message_id": "\(message.messageID)", "sqs.receive_count": "\(message.receiveCount)", "error": "\(error)",
                        ])
                }
            }
        }
        if !committed.isEmpty { doorbell.ring() }
        return committed
    }

    private func delete(_ messages: [SQSMessage]) async {
        var start = 0
        while start < messages.count {
            let chunk = messages[start..<min(start + SQS.batchLimit, messages.count)]
            start += SQS.batchLimit
            let entries = chunk.enumerated().map { (id: String($0.offset), receiptHandle: $0.element.receiptHandle) }
            do {
                let failed = try await source.deleteMessageBatch(queueURL: queueURL, receiptHandles: entries)
                for failure in failed {
                    // Harmless: the message comes back and is recognised as a duplicate.
                    logger.warning("consumer.delete_failed", metadata: ["sqs.error": "\(failure.code)", "error": "\(failure.message)"])
                }
            } catch {
                logger.warning("consumer.delete_failed", metadata: ["error": "\(error)", "sqs.batch_size": "\(entries.count)"])
            }
        }
    }

    /// One line per message, at the level its decision deserves; built only when it is written.
    private func log(_ decisions: [Decision], _ messages: [SQSMessage]) {
        for (decision, message) in zip(decisions, messages) {
            let (level, event) = decision.verdict.logLine()
            guard logger.logLevel <= level else { continue }
            var metadata: Logger.Metadata = ["sqs.message_id": "\(message.messageID)", "decision": "\(decision.verdict)"]
            if let job = decision.jobName { metadata["job.name"] = "\(job)" }
            if let hash = decision.tokenHash { metadata["token.hash"] = "\(TaskTokens.short(hash))" }
            logger.log(level: level, event, metadata: metadata)
        }
    }
}
