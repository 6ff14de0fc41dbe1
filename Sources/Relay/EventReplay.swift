import AWS
import Logging
public import CallbackStore

/// `replay`: recorded events through the same engine and store as `serve`, then delivery of what
/// they queued. With `dryRun`, only the decisions, and nothing changes or is called.
public struct EventReplay: Sendable {
    /// One event's decision, named after where it came from (`file#3`).
    /// Only the verdict is kept, not the effects: a replay of many events stays small.
    public struct Line: Sendable {
        public var origin: String
        public var verdict: Verdict
        public var queuedWork: Bool
    }

    /// What a replay did.
    public struct Report: Sendable {
        public var lines: [Line] = []
        /// Events that were malformed: the command exits 65 (EX_DATAERR) when there are any.
        public var rejected: Int { lines.filter { $0.verdict.isRejection }.count }
        public var queuedWork: Bool { lines.contains { $0.queuedWork } }
    }

    /// Events per transaction: large enough to amortise the commit, small enough to stay brief.
    public static let batchSize = 500

    public let store: any CallbackStore
    public init(store: any CallbackStore) { self.store = store }

    /// Runs the events of each (origin, bodies) source in order.
    public func run(_ sources: [(origin: String, bodies: [String])], dryRun: Bool) async throws -> Report {
        let intake = MessageIntake(store: store)
        var report = Report()
        for source in sources {
            var index = 0
            while index < source.bodies.count {
                let end = min(index + Self.batchSize, source.bodies.count)
                let batch = source.bodies[index..<end].map { IncomingMessage(messageID: nil, body: $0) }
                let label = "replay:\(source.origin)"
                let decisions =
                    dryRun
                    ? try await intake.preview(batch, role: .events, source: label)
                    : try await intake.process(batch, role: .events, source: label)
                for (offset, decision) in decisions.enumerated() {
                    let origin = source.bodies.count == 1 ? source.origin : "\(source.origin)#\(index + offset + 1)"
                    report.lines.append(Line(origin: origin, verdict: decision.verdict, queuedWork: decision.queuesWork))
                }
                index = end
            }
        }
        return report
    }
}
