import JSON
import Synchronization

/// Adds up the capacity units DynamoDB reports, and the requests sent, for cost checks and tests.
///
/// ``DynamoDB`` asks for `ReturnConsumedCapacity: TOTAL` on every call and feeds each answer
/// here. A reported entry with `ReadCapacityUnits`/`WriteCapacityUnits` is split by them; one with
/// only `CapacityUnits` (moto, and some AWS answers) counts as read or write by the operation.
public final class DynamoCapacityMeter: Sendable {
    private struct Totals {
        var readUnits = 0.0
        var writeUnits = 0.0
        var calls = 0
    }
    private let totals = Mutex(Totals())

    public init() {}

    /// Read capacity units reported so far.
    public var readUnits: Double { totals.withLock { $0.readUnits } }
    /// Write capacity units reported so far.
    public var writeUnits: Double { totals.withLock { $0.writeUnits } }
    /// Requests sent (one per round trip: every page, chunk and `UnprocessedKeys` retry counts;
    /// the client's own retries of a failed attempt do not), whether or not capacity was reported.
    public var calls: Int { totals.withLock { $0.calls } }

    /// Starts again from zero.
    public func reset() {
        totals.withLock { $0 = Totals() }
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
}
