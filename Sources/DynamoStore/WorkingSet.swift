import AWS
import CallbackStore

/// The items one decision reads and writes, as typed records in memory, with the version each
/// had when read. Effects are applied to the records; what changed becomes the write.
///
/// Used by one task at a time (a unit being committed or previewed), so not `Sendable`.
final class WorkingSet {
    enum Record: Equatable {
        case token(TokenRecord)
        case job(JobRecord)
        case execution(ExecutionRecord)
        case outbox(OutboxRecord)
    }

    struct Slot {
        /// The version when read; nil when the item was absent (or never read: `blind`).
        var version: Int64?
        var existed: Bool
        var original: Record?
        var record: Record?
        /// Deleted without having been read (an entry superseded by a newer one).
        var blind = false
    }

    private(set) var slots: [String: Slot] = [:]
    /// Rejected messages to add (new keys: written without a condition).
    var rejected: [DynamoItem] = []

    func contains(_ key: String) -> Bool { slots[key] != nil }

    func loaded(_ key: String, version: Int64?, record: Record?) {
        slots[key] = Slot(version: version, existed: record != nil, original: record, record: record)
    }

    func record(_ key: String) -> Record? { slots[key]?.record }

    func set(_ key: String, _ record: Record?) {
        if slots[key] == nil { slots[key] = Slot(version: nil, existed: false, original: nil, record: nil) }
        slots[key]?.record = record
    }

    /// Deletes an item that was not read; nothing is known of its version.
    func deleteUnread(_ key: String) {
        if slots[key] != nil {
            slots[key]?.record = nil
        } else {
            slots[key] = Slot(version: nil, existed: true, original: nil, record: nil, blind: true)
        }
    }

    func token(_ hash: String) -> TokenRecord? {
        if case .token(let record)? = slots[ItemKey.token(hash)]?.record { return record }
        return nil
    }

    func job(_ key: String) -> JobRecord? {
        if case .job(let record)? = slots[key]?.record { return record }
        return nil
    }

    func execution(_ key: String) -> ExecutionRecord? {
        if case .execution(let record)? = slots[key]?.record { return record }
        return nil
    }

    func outbox(_ id: Int64) -> OutboxRecord? {
        if case .outbox(let record)? = slots[ItemKey.outbox(id)]?.record { return record }
        return nil
    }

    /// The keys whose record differs from what was read.
    var changedKeys: [String] {
        slots.compactMap { key, slot in slot.blind || slot.record != slot.original ? key : nil }.sorted()
    }
}

extension WorkingSet.Record {
    /// Decodes an item read from the table by the prefix of its key.
    init?(item: DynamoItem, key: String) throws {
        if key.hasPrefix("T#") {
            self = .token(try TokenRecord(item: item, hash: String(key.dropFirst(2)), key: key))
        } else if key.hasPrefix("J#") {
            let rest = key.dropFirst(2)
            guard let separator = rest.firstIndex(of: "#") else { throw CorruptItem(key: key, field: "pk") }
            self = .job(try JobRecord(item: item, kind: String(rest[..<separator]), name: String(rest[rest.index(after: separator)...]), key: key))
        } else if key.hasPrefix("X#") {
            self = .execution(try ExecutionRecord(item: item, arn: String(key.dropFirst(2)), key: key))
        } else if let id = ItemKey.outboxID(key) {
            self = .outbox(try OutboxRecord(item: item, id: id, key: key))
        } else {
            return nil
        }
    }

    /// The item to write; nil when nothing is left of it (the item is deleted).
    func item(options: StoreOptions, shards: Int) -> DynamoItem? {
        switch self {
        case .token(let record): record.isEmpty ? nil : record.item(options: options, shards: shards)
        case .job(let record): record.isEmpty ? nil : record.item(options: options, shards: shards)
        case .execution(let record): record.isEmpty ? nil : record.item(options: options)
        case .outbox(let record): record.item(shards: shards)
        }
    }
}

/// What a decision sees: the records of the keys its unit declared, read before it decided.
struct DynamoView: StoreView {
    let allowed: Set<StoreKey>
    let set: WorkingSet
    let now: Int64
    let options: StoreOptions
    /// At most this many callbacks of one job or execution are shown to one decision; the unit
    /// runs again for the rest (a transaction holds at most 100 writes).
    let limit: Int

    private func check(_ key: StoreKey) throws {
        guard allowed.contains(key) else {
            throw StoreError(.undeclaredRead, "a decision read an item its unit did not declare")
        }
    }

    func pending(tokenHash: String) throws -> PendingCallback? {
        try check(.token(hash: tokenHash))
        return set.token(tokenHash)?.pending
    }

    func isClosed(tokenHash: String) throws -> Bool {
        try check(.token(hash: tokenHash))
        return set.token(tokenHash)?.isClosed(now: now, options: options) ?? false
    }

    func hasOutbox(tokenHash: String, action: OutboxAction) throws -> Bool {
        try check(.token(hash: tokenHash))
        return set.token(tokenHash)?.queued.values.contains(action) ?? false
    }

    func pendingCallbacks(jobKind: String, jobName: String) throws -> [PendingCallback] {
        try check(.job(kind: jobKind, name: jobName))
        let tokens = set.job(ItemKey.job(kind: jobKind, name: jobName))?.tokens ?? []
        return waiting(tokens) { $0.jobKind == jobKind && $0.jobName == jobName }
    }

    func earlyEvent(jobKind: String, jobName: String) throws -> EarlyEvent? {
        try check(.job(kind: jobKind, name: jobName))
        return set.job(ItemKey.job(kind: jobKind, name: jobName))?.earlyEvent(now: now, options: options)
    }

    func pendingCallbacks(executionArn: String) throws -> [PendingCallback] {
        try check(.execution(arn: executionArn))
        let tokens = set.execution(ItemKey.execution(executionArn))?.tokens ?? []
        return waiting(tokens) { $0.executionArn == executionArn }
    }

    func executionEnd(executionArn: String) throws -> EndedExecution? {
        try check(.execution(arn: executionArn))
        return set.execution(ItemKey.execution(executionArn))?.executionEnd(now: now, options: options)
    }

    /// The pending callbacks among `tokens`, oldest registration first, at most `limit`.
    private func waiting(_ tokens: Set<String>, _ belongs: (PendingCallback) -> Bool) -> [PendingCallback] {
        let callbacks = tokens.compactMap { set.token($0)?.pending }.filter(belongs)
            .sorted { ($0.registeredAt, $0.tokenHash) < ($1.registeredAt, $1.tokenHash) }
        return Array(callbacks.prefix(limit))
    }

    /// Whether some job or execution the unit read has more callbacks than were shown.
    var truncated: Bool {
        for key in allowed {
            switch key {
            case .job(let kind, let name):
                if ((try? pendingCallbacks(jobKind: kind, jobName: name).count) ?? 0) >= limit,
                    (set.job(ItemKey.job(kind: kind, name: name))?.tokens.count ?? 0) > limit
                {
                    return true
                }
            case .execution(let arn):
                if ((try? pendingCallbacks(executionArn: arn).count) ?? 0) >= limit,
                    (set.execution(ItemKey.execution(arn))?.tokens.count ?? 0) > limit
                {
                    return true
                }
            case .token: continue
            }
        }
        return false
    }
}
