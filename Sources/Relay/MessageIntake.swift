import JSON
import CallbackStore
import Store

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
/// once, outside the transaction; then one write transaction reads what the engine needs, decides
/// and applies, message by message, so later messages see what earlier ones changed.
public struct MessageIntake: Sendable {
    public let store: Store

    public init(store: Store) { self.store = store }

    /// Processes and commits a batch. Returns one decision per message, in order. When this
    /// returns, everything the messages taught is durable: they may be deleted from the queue.
    public func process(_ messages: [IncomingMessage], role: MessageRole, source: String) async throws -> [Decision] {
        let parsed = Self.parse(messages, role: role)
        let now = WallClock.millisecondsNow()
        return try await store.write { transaction in
            try Self.decide(parsed, source: source, correlator: Correlator(now: now), in: transaction)
        }
    }

    /// The decisions the batch would produce, without changing the store (`replay --dry-run`).
    public func preview(_ messages: [IncomingMessage], role: MessageRole, source: String) async throws -> [Decision] {
        let parsed = Self.parse(messages, role: role)
        let now = WallClock.millisecondsNow()
        do {
            _ = try await store.write { transaction -> [Decision] in
                // Applying inside a transaction that is then rolled back lets later messages see
                // earlier ones, exactly as a real run would, and leaves nothing behind.
                throw Preview(decisions: try Self.decide(parsed, source: source, correlator: Correlator(now: now), in: transaction))
            }
            return []
        } catch let preview as Preview {
            return preview.decisions
        }
    }

    private struct Preview: Error { var decisions: [Decision] }

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

    static func decide(_ parsed: [Parsed], source: String, correlator: Correlator, in transaction: StoreTransaction) throws -> [Decision] {
        var decisions: [Decision] = []
        decisions.reserveCapacity(parsed.count)
        for message in parsed {
            let decision: Decision
            switch message {
            case .change(let change, let body, _):
                let pending = try transaction.pendingCallbacks(jobKind: change.kind.name, jobName: change.jobName)
                let known = change.status.isTerminal
                    ? try transaction.earlyEvent(jobKind: change.kind.name, jobName: change.jobName) != nil
                    : false
                decision = correlator.decide(change, event: body, pending: pending, terminalKnown: known)
            case .execution(let change):
                let pending = change.status.hasEnded ? try transaction.pendingCallbacks(executionArn: change.executionArn) : []
                decision = correlator.decide(change, pending: pending)
            case .unsupportedEvent(let reason, let body, let messageID):
                decision = correlator.decideRejectedEvent(reason: reason, unsupported: true, body: body, source: source, messageID: messageID)
            case .malformedEvent(let reason, let body, let messageID):
                decision = correlator.decideRejectedEvent(reason: reason, unsupported: false, body: body, source: source, messageID: messageID)
            case .registration(let registration, let sentAt):
                let isPending = try transaction.pending(tokenHash: registration.tokenHash) != nil
                let isClosed = isPending ? false : try transaction.isClosed(tokenHash: registration.tokenHash)
                var terminal: JobStateChange?
                if !isPending, !isClosed,
                   let early = try transaction.earlyEvent(jobKind: registration.kind.name, jobName: registration.jobName),
                   case .jobStateChange(let change)? = try? EventMessage.parse(early.event) {
                    terminal = change
                }
                var ended: EndedExecution?
                // Only a registration sent before its execution ended is dead: one sent later
                // comes from a redrive of that execution. Replayed input counts as sent now.
                if !isPending, !isClosed, let arn = registration.executionArn,
                   let end = try transaction.executionEnd(executionArn: arn), sentAt.map({ $0 <= end.endedAt }) ?? false {
                    ended = end
                }
                decision = correlator.decide(registration, state: .init(isPending: isPending, isClosed: isClosed, terminal: terminal, executionEnded: ended))
            case .invalidRegistration(let token, let reason, let body, let messageID):
                let closed = try token.map { try transaction.isClosed(tokenHash: TaskTokens.hash($0)) } ?? false
                decision = correlator.decideInvalidRegistration(
                    taskToken: token, reason: reason, body: body, source: source, messageID: messageID, tokenClosed: closed
                )
            }
            try transaction.apply(decision.effects)
            decisions.append(decision)
        }
        return decisions
    }
}
