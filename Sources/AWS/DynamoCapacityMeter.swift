import JSON
import Synchronization

/// Adds up, for cost checks and tests, the requests sent to DynamoDB and the capacity units they
/// consume: as DynamoDB reports them, and as ``DynamoCapacityRules`` computes them from what was
/// sent and received.
///
/// ``DynamoDB`` asks for `ReturnConsumedCapacity: TOTAL` on every call and feeds each answer
/// here. A reported entry with `ReadCapacityUnits`/`WriteCapacityUnits` is split by them; one with
/// only `CapacityUnits` (moto, and some AWS answers) counts as read or write by the operation.
/// moto's reports are poor (no split, nothing for `TransactWriteItems`), so the computed figures
/// are the ones to trust there; on AWS the two should agree.
///
/// Computed units are also kept per kind of item (the prefix of its key before `#`, or
/// `index:<name>` for a global secondary index's writes), to show where the units go.
public final class DynamoCapacityMeter: Sendable {
    /// The computed consumption of one kind of item.
    public struct Usage: Sendable, Equatable {
        public var readUnits = 0.0
        public var writeUnits = 0.0
        /// Items (or index entries, or Query pages) read: one per item returned, per missing key
        /// asked for, per page; and their sizes added up.
        public var reads = 0
        public var readBytes = 0
        /// Items (or index entries) written, and their sizes added up (the larger of before and after).
        public var writes = 0
        public var writeBytes = 0
        public init() {}

        public static func + (lhs: Usage, rhs: Usage) -> Usage { lhs.adding(rhs, times: 1) }
        public static func - (lhs: Usage, rhs: Usage) -> Usage { lhs.adding(rhs, times: -1) }

        private func adding(_ other: Usage, times sign: Int) -> Usage {
            var usage = self
            usage.readUnits += Double(sign) * other.readUnits
            usage.writeUnits += Double(sign) * other.writeUnits
            usage.reads += sign * other.reads
            usage.readBytes += sign * other.readBytes
            usage.writes += sign * other.writes
            usage.writeBytes += sign * other.writeBytes
            return usage
        }
    }

    /// Everything counted so far.
    public struct Snapshot: Sendable, Equatable {
        public var calls = 0
        /// As DynamoDB reported them.
        public var readUnits = 0.0
        public var writeUnits = 0.0
        /// As computed by ``DynamoCapacityRules``.
        public var computedReadUnits = 0.0
        public var computedWriteUnits = 0.0
        /// Writes charged without knowing the item's size before them (a delete or update whose
        /// caller passed no previous item): charged on what was known, at least one unit.
        public var writesWithoutPrevious = 0
        /// `Select: COUNT` pages: DynamoDB charges the items evaluated, whose sizes are not
        /// returned; charged the minimum per page.
        public var countPages = 0
        public var byKind: [String: Usage] = [:]
        public init() {}

        public static func + (lhs: Snapshot, rhs: Snapshot) -> Snapshot { lhs.adding(rhs, times: 1) }
        public static func - (lhs: Snapshot, rhs: Snapshot) -> Snapshot { lhs.adding(rhs, times: -1) }

        private func adding(_ other: Snapshot, times sign: Int) -> Snapshot {
            var snapshot = self
            snapshot.calls += sign * other.calls
            snapshot.readUnits += Double(sign) * other.readUnits
            snapshot.writeUnits += Double(sign) * other.writeUnits
            snapshot.computedReadUnits += Double(sign) * other.computedReadUnits
            snapshot.computedWriteUnits += Double(sign) * other.computedWriteUnits
            snapshot.writesWithoutPrevious += sign * other.writesWithoutPrevious
            snapshot.countPages += sign * other.countPages
            for (kind, usage) in other.byKind {
                let mine = snapshot.byKind[kind] ?? Usage()
                snapshot.byKind[kind] = sign > 0 ? mine + usage : mine - usage
            }
            return snapshot
        }
    }

    private let totals = Mutex(Snapshot())

    public init() {}

    /// Read capacity units reported so far.
    public var readUnits: Double { totals.withLock { $0.readUnits } }
    /// Write capacity units reported so far.
    public var writeUnits: Double { totals.withLock { $0.writeUnits } }
    /// Read units computed so far by DynamoDB's documented rules.
    public var computedReadUnits: Double { totals.withLock { $0.computedReadUnits } }
    /// Write units computed so far by DynamoDB's documented rules (global secondary indexes included).
    public var computedWriteUnits: Double { totals.withLock { $0.computedWriteUnits } }
    /// Requests sent (one per round trip: every page, chunk and `UnprocessedKeys` retry counts;
    /// the client's own retries of a failed attempt do not), whether or not capacity was reported.
    public var calls: Int { totals.withLock { $0.calls } }

    /// Everything counted so far.
    public func snapshot() -> Snapshot { totals.withLock { $0 } }

    /// Starts again from zero.
    public func reset() {
        totals.withLock { $0 = Snapshot() }
    }

    /// Counts one request about to be sent.
    func countCall() {
        totals.withLock { $0.calls += 1 }
    }

    /// Adds the `ConsumedCapacity` of `response` (an object, or an array of them for batch and
    /// transaction operations); `isWrite` says where bare `CapacityUnits` go.
    func record(_ response: JSONObject, isWrite: Bool) {
        guard let reported = response["ConsumedCapacity"] else { return }
        let entries = reported.arrayValue ?? [reported]
        var read = 0.0
        var write = 0.0
        for entry in entries {
            let readUnits = entry["ReadCapacityUnits"]?.doubleValue
            let writeUnits = entry["WriteCapacityUnits"]?.doubleValue
            if readUnits != nil || writeUnits != nil {
                read += readUnits ?? 0
                write += writeUnits ?? 0
            } else if let units = entry["CapacityUnits"]?.doubleValue {
                if isWrite { write += units } else { read += units }
            }
        }
        totals.withLock {
            $0.readUnits += read
            $0.writeUnits += write
        }
    }

    /// One computed charge: units for one item (or one index entry, or one Query page) of `kind`,
    /// a read when `readUnits` is not zero, else a write.
    struct Charge {
        var kind: String
        var readUnits = 0.0
        var writeUnits = 0.0
        var items = 1
        var bytes = 0
    }

    /// Adds computed charges; `withoutPrevious` writes were charged without the item's size before them.
    func charge(_ charges: [Charge], withoutPrevious: Int = 0, countPages: Int = 0) {
        guard !charges.isEmpty || withoutPrevious > 0 || countPages > 0 else { return }
        totals.withLock { totals in
            for charge in charges {
                totals.computedReadUnits += charge.readUnits
                totals.computedWriteUnits += charge.writeUnits
                var usage = totals.byKind[charge.kind] ?? Usage()
                usage.readUnits += charge.readUnits
                usage.writeUnits += charge.writeUnits
                if charge.readUnits > 0 {
                    usage.reads += charge.items
                    usage.readBytes += charge.bytes
                } else {
                    usage.writes += charge.items
                    usage.writeBytes += charge.bytes
                }
                totals.byKind[charge.kind] = usage
            }
            totals.writesWithoutPrevious += withoutPrevious
            totals.countPages += countPages
        }
    }

    /// The kind of an item for the breakdown: the prefix before `#` of its first string key
    /// attribute (of `tableKey`; without one, of its attributes in name order).
    static func kind(of key: DynamoItem, tableKey: [String]) -> String {
        for name in tableKey.isEmpty ? key.keys.sorted() : tableKey {
            if let text = key[name]?.stringValue {
                return text.firstIndex(of: "#").map { String(text[..<$0]) } ?? text
            }
        }
        return "other"
    }
}
