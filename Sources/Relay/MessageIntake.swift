import JSON
public import CallbackStore

/// A message to run through the engine: an SQS message, or a recorded event being replayed.
public struct IncomingMessage: Sendable {
    /// The SQS message id, when the message came from SQS.
    public var messageID: String?
    public var body: String
    /// When the queue accepted the message (epoch milliseconds); nil for replayed and hand-made
    /// input, which counts as sent now.
    public var sentAt: Int64?
    public init(messageID: String?, body: String, sentAt: Int64? = nil) {
        self.messageID = messageID
        self.body = body
        self.sentAt = sentAt
    }
}

/// Which queue a message came from, and so how it is read.
public enum MessageRole: String, Sendable {
    case events
    case requests
}

/// Runs a batch of messages through the correlation engine and the store: each body is parsed
/// once, outside the store; then each message becomes one ``StoreUnit`` that names what it reads
/// and decides from it, committed in order, so later messages see what earlier ones changed.
public struct MessageIntake: Sendable {
    public let store: any CallbackStore
    /// The engine's "now" for each batch (a test's own in a test).
    public let clock: ServiceClock
    /// What `serve` knows of the store's health; nil where nothing watches it.
    let outage: StoreOutage?

    public init(store: any CallbackStore, clock: ServiceClock = .system) {
        self.init(store: store, outage: nil, clock: clock)
    }

    init(store: any CallbackStore, outage: StoreOutage?, clock: ServiceClock = .system) {
        self.store = store
        self.outage = outage
        self.clock = clock
    }

    /// Whether the store is in an outage (a failure not yet followed by a commit); false where
    /// nothing watches it.
    var storeIsFailing: Bool { outage?.isFailing ?? false }

    /// Processes and commits a batch. Returns one decision per message, in order. When this
    /// returns, everything the messages taught is durable: they may be deleted from the queue.
    public func process(_ messages: [IncomingMessage], role: MessageRole, source: String) async throws -> [Decision] {
        let correlator = Correlator(now: clock.now())
        return try await store.commit(Self.units(Self.parse(messages, role: role), source: source, correlator: correlator))
    }

    /// The decisions the batch would produce, without changing the store (`replay --dry-run`):
    /// later messages see earlier ones, exactly as a real run would, and nothing is left behind.
    public func preview(_ messages: [IncomingMessage], role: MessageRole, source: String) async throws -> [Decision] {
        let correlator = Correlator(now: clock.now())
        return try await store.preview(Self.units(Self.parse(messages, role: role), source: source, correlator: correlator))
    }

    /// A message after parsing.
    enum Parsed: Sendable {
        case change(JobStateChange, body: String, messageID: String?)
        case execution(ExecutionStatusChange)
        case unsupportedEvent(reason: String, body: String, messageID: String?)
        case malformedEvent(reason: String, body: String, messageID: String?)
        case registration(RegistrationMessage, sentAt: Int64?)
        case invalidRegistration(taskToken: String?, reason: String, body: String, messageID: String?)
    }

    static func parse(_ messages: [IncomingMessage], role: MessageRole) -> [Parsed] {
        messages.map { message in
            let bytes = Array(message.body.utf8)
            switch role {
            case .events:
                do {
                    switch try EventMessage.parse(bytes) {
                    case .jobStateChange(let change): return .change(change, body: message.body, messageID: message.messageID)
                    case .executionStatusChange(let change): return .execution(change)
                    case .unsupported(let reason): return .unsupportedEvent(reason: reason, body: message.body, messageID: message.messageID)
                    }
                } catch let rejection as MessageRejection {
                    return .malformedEvent(reason: rejection.reason, body: message.body, messageID: message.messageID)
                } catch {
                    return .malformedEvent(reason: "\(error)", body: message.body, messageID: message.messageID)
                }
            case .requests:
                switch RegistrationMessage.parse(bytes) {
                case .valid(let registration): return .registration(registration, sentAt: message.sentAt)
                case .invalid(let token, let reason):
                    return .invalidRegistration(taskToken: token, reason: reason, body: message.body, messageID: message.messageID)
                }
            }
        }
    }

    /// One unit per message, each declaring exactly the keys its `decide` reads.
    static func units(_ parsed: [Parsed], source: String, correlator: Correlator) -> [StoreUnit<Decision>] {
        parsed.map { unit($0, source: source, correlator: correlator) }
    }

    static func unit(_ message: Parsed, source: String, correlator: Correlator) -> StoreUnit<Decision> {
        func unit(_ reads: [StoreKey], _ decide: @escaping @Sendable (any StoreView) throws -> Decision) -> StoreUnit<Decision> {
            StoreUnit(reads: reads) { view in
                let decision = try decide(view)
                return (decision, decision.effects)
            }
        }
        switch message {
        case .change(let change, let body, _):
            return unit([.job(kind: change.kind.name, name: change.jobName)]) { view in
                let pending = try view.pendingCallbacks(jobKind: change.kind.name, jobName: change.jobName)
                let known =
                    change.status.isTerminal
                    ? try view.earlyEvent(jobKind: change.kind.name, jobName: change.jobName) != nil
                    : false
                return correlator.decide(change, event: body, pending: pending, terminalKnown: known)
            }
        case .execution(let change):
            return unit([.execution(arn: change.executionArn)]) { view in
                let pending = change.status.hasEnded ? try view.pendingCallbacks(executionArn: change.executionArn) : []
                return correlator.decide(change, pending: pending)
            }
        case .unsupportedEvent(let reason, let body, let messageID):
            return unit([]) { _ in
                correlator.decideRejectedEvent(reason: reason, unsupported: true, body: body, source: source, messageID: messageID)
            }
        case .malformedEvent(let reason, let body, let messageID):
            return unit([]) { _ in
                correlator.decideRejectedEvent(reason: reason, unsupported: false, body: body, source: source, messageID: messageID)
            }
        case .registration(let registration, let sentAt):
            var reads: [StoreKey] = [.token(hash: registration.tokenHash), .job(kind: registration.kind.name, name: registration.jobName)]
            if let arn = registration.executionArn { reads.append(.execution(arn: arn)) }
            return unit(reads) { view in
                let isPending = try view.pending(tokenHash: registration.tokenHash) != nil
                let isClosed = isPending ? false : try view.isClosed(tokenHash: registration.tokenHash)
                var terminal: JobStateChange?
                if !isPending, !isClosed,
                    let early = try view.earlyEvent(jobKind: registration.kind.name, jobName: registration.jobName),
                    case .jobStateChange(let change)? = try? EventMessage.parse(early.event)
                {
                    terminal = change
                }
                var ended: EndedExecution?
                // Only a registration sent before its execution ended is dead: one sent later
                // comes from a redrive of that execution. Replayed input counts as sent now.
                if !isPending, !isClosed, let arn = registration.executionArn,
                    let end = try view.executionEnd(executionArn: arn), sentAt.map({ $0 <= end.endedAt }) ?? false
                {
                    ended = end
                }
                return correlator.decide(
                    registration, state: .init(isPending: isPending, isClosed: isClosed, terminal: terminal, executionEnded: ended))
            }
        case .invalidRegistration(let token, let reason, let body, let messageID):
            let hash = token.map(TaskTokens.hash)
            return unit(hash.map { [.token(hash: $0)] } ?? []) { view in
                let closed = try hash.map { try view.isClosed(tokenHash: $0) } ?? false
                return correlator.decideInvalidRegistration(
                    taskToken: token, reason: reason, body: body, source: source, messageID: messageID, tokenClosed: closed
                )
            }
        }
    }
}
