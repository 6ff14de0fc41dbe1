/// DynamoDB's documented rules for item sizes and the capacity units a request consumes, so the
/// units can be computed from what is sent and received (moto reports them badly: bare
/// `CapacityUnits` with no read/write split, nothing for `TransactWriteItems`).
///
/// Sources (AWS Developer Guide): "DynamoDB item sizes and formats" (CapacityUnitCalculations)
/// and "DynamoDB read and write operations" (read-write-operations), "Global secondary indexes:
/// provisioned throughput considerations" (GSI.html#GSI.Writes). 1 KB = 1,024 bytes.
public enum DynamoCapacityRules {
    /// Bytes one write unit covers, and one read unit.
    public static let writeUnitBytes = 1_024
    public static let readUnitBytes = 4_096

    // MARK: sizes

    /// The size of an item: for each attribute, the UTF-8 bytes of its name plus the size of its value.
    public static func size(of item: DynamoItem) -> Int {
        var total = 0
        for (name, value) in item { total += name.utf8.count + size(of: value) }
        return total
    }

    /// The size of a value (its name not counted): strings their UTF-8 bytes; numbers about one
    /// byte per two significant digits plus one; booleans and null one byte; lists and maps 3
    /// bytes plus, per element, its size (a map's also its name's bytes) plus one; sets the sum of
    /// their elements' sizes.
    public static func size(of value: DynamoValue) -> Int {
        switch value {
        case .s(let text): return text.utf8.count
        case .n(let text): return numberSize(text)
        case .bool, .null: return 1
        case .l(let elements):
            var total = 3
            for element in elements { total += size(of: element) + 1 }
            return total
        case .m(let members):
            var total = 3
            for (name, member) in members { total += name.utf8.count + size(of: member) + 1 }
            return total
        case .ss(let texts):
            var total = 0
            for text in texts { total += text.utf8.count }
            return total
        case .ns(let texts):
            var total = 0
            for text in texts { total += numberSize(text) }
            return total
        }
    }

    /// A number's approximate size: leading and trailing zeros trimmed, one byte per two
    /// significant digits, plus one byte (zero counts as one digit).
    public static func numberSize(_ text: String) -> Int {
        var mantissa = Substring(text)
        if let exponent = mantissa.firstIndex(where: { $0 == "e" || $0 == "E" }) { mantissa = mantissa[..<exponent] }
        var digits = mantissa.utf8.filter { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
        while digits.first == UInt8(ascii: "0") { digits.removeFirst() }
        while digits.last == UInt8(ascii: "0") { digits.removeLast() }
        let significant = max(1, digits.count)
        return (significant + 1) / 2 + 1
    }

    // MARK: units

    /// Write units of one standard write of an item of `bytes`: a unit per KB begun, at least one.
    public static func writeUnits(bytes: Int) -> Int {
        max(1, (bytes + writeUnitBytes - 1) / writeUnitBytes)
    }

    /// Read units of reading `bytes` (one item, or one Query page's items together): a unit per
    /// 4 KB begun, at least one (a missing item too); half for an eventually consistent read.
    public static func readUnits(bytes: Int, consistent: Bool) -> Double {
        let units = Double(max(1, (bytes + readUnitBytes - 1) / readUnitBytes))
        return consistent ? units : units / 2
    }

    // MARK: global secondary indexes

    /// What one global secondary index holds of an item: its keys and projected attributes.
    public struct Index: Sendable, Equatable {
        public var name: String
        public var hashKey: String
        public var rangeKey: String?
        /// Non-key attributes projected (`INCLUDE`); nil for `KEYS_ONLY`.
        public var included: [String]?
        public init(name: String, hashKey: String, rangeKey: String?, included: [String]?) {
            self.name = name
            self.hashKey = hashKey
            self.rangeKey = rangeKey
            self.included = included
        }
    }

    /// The index's entry for `item` (table key, index keys, projected attributes), nil when the
    /// item lacks an index key (a sparse index holds no entry for it).
    public static func entry(of item: DynamoItem?, in index: Index, tableKey: [String]) -> DynamoItem? {
        guard let item, item[index.hashKey] != nil else { return nil }
        if let range = index.rangeKey, item[range] == nil { return nil }
        var entry: DynamoItem = [:]
        for name in tableKey + [index.hashKey] + [index.rangeKey].compactMap({ $0 }) + (index.included ?? []) {
            if let value = item[name] { entry[name] = value }
        }
        return entry
    }

    /// Write units an index consumes when an item goes from `before` to `after` (nil: absent):
    /// none when it is in the index neither before nor after, or its entry is unchanged; one write
    /// of the entry when it enters, leaves, or only its projected attributes change; two (delete
    /// the old entry, put the new) when an index key changes. Each write is charged by the entry's
    /// size, a unit per KB begun. Index writes are standard writes, in a transaction too.
    public static func indexWriteUnits(before: DynamoItem?, after: DynamoItem?, index: Index, tableKey: [String]) -> Int {
        let old = entry(of: before, in: index, tableKey: tableKey)
        let new = entry(of: after, in: index, tableKey: tableKey)
        switch (old, new) {
        case (nil, nil): return 0
        case (let old?, nil): return writeUnits(bytes: size(of: old))
        case (nil, let new?): return writeUnits(bytes: size(of: new))
        case (let old?, let new?):
            if old == new { return 0 }
            let keyChanged = old[index.hashKey] != new[index.hashKey] || index.rangeKey.map { old[$0] != new[$0] } ?? false
            return keyChanged ? writeUnits(bytes: size(of: old)) + writeUnits(bytes: size(of: new)) : writeUnits(bytes: size(of: new))
        }
    }
}
