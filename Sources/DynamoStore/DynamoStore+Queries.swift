import AWS
public import CallbackStore
import Logging
import Synchronization

/// The outbox, leases, schedules and listings: what the services find by time, across the
/// shards of the table's indexes.
extension DynamoStore {
    // MARK: the outbox

    public func claimDueOutbox(now: Int64, limit: Int, excluding: Set<Int64>) async throws -> [OutboxEntry] {
        try ensureOpenForQueries()
        var due = heldEntries().filter { $0.record.entry.nextAttemptAt <= now && !excluding.contains($0.record.entry.id) }
            .sorted { ($0.record.entry.nextAttemptAt, $0.record.entry.id) < ($1.record.entry.nextAttemptAt, $1.record.entry.id) }
        due = Array(due.prefix(max(0, limit)))
        var claimed: [OutboxEntry] = []
        for entry in due {
            // A lease about to lapse is renewed first, so no other replica takes the entry mid-call.
            if (entry.record.leaseUntil ?? 0) - now < lease / 3 {
                if let renewed = try await take(entry.record.entry.id, now: now, expectedVersion: entry.version) {
                    claimed.append(renewed.entry)
                }
            } else {
                claimed.append(entry.record.entry)
            }
        }
        if claimed.count < limit, now >= nextScan.withLock({ $0 }) {
            let batch = min(limit - claimed.count, Self.takeOverBatch)
            let taken = try await takeOver(now: now, limit: batch, scanning: limit - claimed.count)
            // A full batch: more may have lapsed, and the next claim looks again at once.
            nextScan.withLock { $0 = taken.count == batch ? now : now + scanInterval }
            claimed += taken
        }
        return claimed.sorted { ($0.nextAttemptAt, $0.id) < ($1.nextAttemptAt, $1.id) }
    }

    public func nextOutboxAttempt(now: Int64, excluding: Set<Int64>) async throws -> Int64? {
        let local = heldEntries().filter { !excluding.contains($0.record.entry.id) }.map(\.record.entry.nextAttemptAt).min()
        // Entries of a replica that died are found by the next scan.
        let scan = nextScan.withLock { $0 }
        return [local, max(scan, now)].compactMap { $0 }.min()
    }

    private func heldEntries() -> [Held] { heldSnapshot() }

    /// The most lapsed entries one claim takes over. Each is a conditional write, in sequence,
    /// while this replica's own entries wait for the claim: a survivor that took a dead
    /// replica's hundreds at once (up to its 256 free places) held its own deliveries back so
    /// long, on a slow DynamoDB (moto on a loaded machine), that their leases lapsed in turn and
    /// the replicas took each other's entries over and over (the DynamoDB kill loop of 400 jobs:
    /// 82 delivered in two minutes, 242 takeovers).
    static let takeOverBatch = 16

    /// Entries due whose lease lapsed (their replica died or stalled), taken with a conditional
    /// write each: of several replicas that find one, one gets it.
    /// `scanning` due entries are looked at (most are other replicas' live ones), `limit` taken.
    private func takeOver(now: Int64, limit: Int, scanning: Int) async throws -> [OutboxEntry] {
        guard limit > 0 else { return [] }
        let candidates = try await indexQuery(DynamoTableDesign.byTime, partition: "outbox", upTo: now, limit: max(limit, scanning))
        let mine = Set(heldEntries().map(\.record.entry.id))
        var taken: [OutboxEntry] = []
        for item in candidates {
            guard let key = item["pk"]?.stringValue, let id = ItemKey.outboxID(key), !mine.contains(id) else { continue }
            if let until = item["leaseUntil"]?.int64Value, until >= now { continue }
            if let record = try await take(id, now: now, expectedVersion: nil, lapsedBefore: now) {
                taken.append(record.entry)
                logger.notice(
                    "outbox.taken_over",
                    metadata: [
                        "outbox.action": "\(record.entry.action.rawValue)", "outbox.previous_owner": "\(item["owner"]?.stringValue ?? "none")",
                    ])
            }
            if taken.count >= limit { break }
        }
        return taken
    }

    /// Takes (or renews) the lease of an entry: when its version is still `expectedVersion`, or
    /// when its lease lapsed before `lapsedBefore`. Nil when another replica has it, or it is gone.
    private func take(_ id: Int64, now: Int64, expectedVersion: Int64?, lapsedBefore: Int64? = nil) async throws -> OutboxRecord? {
        var condition: DynamoExpression
        if let expectedVersion {
            condition = DynamoExpression("#v = :expected", names: ["#v": "v"], values: [":expected": .number(expectedVersion)])
        } else {
            condition = DynamoExpression(
                "attribute_exists(pk) AND (attribute_not_exists(leaseUntil) OR leaseUntil < :lapsed)",
                values: [":lapsed": .number(lapsedBefore ?? now)]
            )
        }
        let update = DynamoExpression(
            "SET #o = :me, leaseUntil = :until, #v = if_not_exists(#v, :zero) + :one",
            names: ["#o": "owner", "#v": "v"],
            values: [":me": .s(settings.replicaID), ":until": .number(now + lease), ":zero": .number(0), ":one": .number(1)]
        )
        do {
            let item = try await db.updateItem(key: ["pk": .s(ItemKey.outbox(id))], update: update, condition: condition)
            let record = try OutboxRecord(item: item, id: id, key: ItemKey.outbox(id))
            remember(Held(record: record, version: item.version ?? 1))
            return record
        } catch is DynamoConditionFailed {
            forget(id)
            return nil
        }
    }

    // MARK: leases

    public func holdLease(_ name: String, now: Int64, duration: Int64) async throws -> Bool {
        if let until = leases.withLock({ $0[name] }), until - now > duration / 2 { return true }
        let update = DynamoExpression(
            "SET #o = :me, leaseUntil = :until", names: ["#o": "owner"],
            values: [":me": .s(settings.replicaID), ":until": .number(now + duration), ":now": .number(now)]
        )
        let condition = DynamoExpression("attribute_not_exists(pk) OR #o = :me OR leaseUntil < :now", names: ["#o": "owner"])
        do {
            _ = try await db.updateItem(key: ["pk": .s(ItemKey.lease(name))], update: update, condition: condition)
            leases.withLock { $0[name] = now + duration }
            return true
        } catch is DynamoConditionFailed {
            leases.withLock { $0[name] = nil }
            return false
        }
    }

    /// Lets go of every lease this replica holds (a conditional write each, so one another replica
    /// took meanwhile is left alone), at most `limit` outbox entries and for at most `budget`.
    public func relinquish() async {
        await relinquish(limit: 500, budget: .seconds(3))
    }

    func relinquish(limit: Int, budget: Duration) async {
        let deadline = ContinuousClock.now + budget
        let mine = DynamoExpression("#o = :me", names: ["#o": "owner"], values: [":me": .s(settings.replicaID)])
        let release = DynamoExpression("SET leaseUntil = :zero", values: [":zero": .number(0)])
        var released = 0
        for held in heldSnapshot().prefix(limit) where ContinuousClock.now < deadline {
            let id = held.record.entry.id
            forget(id)
            if (try? await db.updateItem(key: ["pk": .s(ItemKey.outbox(id))], update: release, condition: mine)) != nil { released += 1 }
        }
        let names = leases.withLock { leases in
            defer { leases.removeAll() }
            return Array(leases.keys)
        }
        for name in names where ContinuousClock.now < deadline {
            _ = try? await db.updateItem(key: ["pk": .s(ItemKey.lease(name))], update: release, condition: mine)
        }
        // The next replica to scan finds the entries at once.
        if released > 0 { logger.info("outbox.relinquished", metadata: ["outbox.entries": "\(released)"]) }
    }

    // MARK: schedules

    public func heartbeatsDue(since: Int64, limit: Int) async throws -> [PendingCallback] {
        let keys = try await indexQuery(DynamoTableDesign.heartbeats, partition: "heartbeat", upTo: since, limit: limit)
        return try await pendingCallbacks(keys).filter { $0.heartbeat && ($0.lastHeartbeatAt ?? $0.registeredAt) <= since }
            .sorted { ($0.lastHeartbeatAt ?? $0.registeredAt) < ($1.lastHeartbeatAt ?? $1.registeredAt) }
            .prefix(limit).map { $0 }
    }

    public func oldestHeartbeat() async throws -> Int64? {
        try await firstTime(DynamoTableDesign.heartbeats, partition: "heartbeat")
    }

    public func sweepDue(now: Int64, firstCheckBefore: Int64, limit: Int) async throws -> [PendingCallback] {
        let unswept = try await pendingCallbacks(
            try await indexQuery(DynamoTableDesign.sweep, partition: "sweep-new", upTo: firstCheckBefore, limit: limit)
        ).filter { $0.sweep.nextCheckAt == nil && $0.registeredAt <= firstCheckBefore }.sorted { $0.registeredAt < $1.registeredAt }
        let rechecks = try await pendingCallbacks(
            try await indexQuery(DynamoTableDesign.sweep, partition: "sweep-next", upTo: now, limit: limit)
        ).filter { ($0.sweep.nextCheckAt ?? .max) <= now }.sorted { ($0.sweep.nextCheckAt ?? 0) < ($1.sweep.nextCheckAt ?? 0) }
        return Array((unswept.prefix(limit) + rechecks).prefix(limit))
    }

    public func nextSweep() async throws -> (oldestUnswept: Int64?, nextCheck: Int64?) {
        (
            try await firstTime(DynamoTableDesign.sweep, partition: "sweep-new"),
            try await firstTime(DynamoTableDesign.sweep, partition: "sweep-next")
        )
    }

    public func pendingCallbacks(registeredBefore olderThan: Int64, limit: Int) async throws -> [PendingCallback] {
        let keys = try await indexQuery(DynamoTableDesign.byTime, partition: "pending", upTo: olderThan - 1, limit: limit)
        return Array(
            try await pendingCallbacks(keys).filter { $0.registeredAt < olderThan }
                .sorted { $0.registeredAt < $1.registeredAt }.prefix(limit))
    }

    /// DynamoDB's TTL deletes what has expired (late: reads apply the same cut-offs), so there is
    /// nothing to prune here.
    public func pruneExpired(now: Int64) async throws -> PruneCounts { PruneCounts() }

    // MARK: listings

    /// Items of one kind, counted on the time index (a Query with `Select: COUNT` per shard: it
    /// reads the index entries, half a read unit per 4 KB of them, and returns no items).
    private func count(_ partition: String) async throws -> Int {
        var total = 0
        for shard in 0..<settings.shards {
            total += try await db.count(
                index: DynamoTableDesign.byTime.name,
                keyCondition: DynamoExpression("g1pk = :p", values: [":p": .s("\(partition)#\(shard)")])
            )
        }
        return total
    }

    /// The gauges without `counts()`'s scan of the closed tokens; the oldest outbox entry is not
    /// read (the time index orders the outbox by due time, not creation).
    public func gauges() async throws -> StoreGauges {
        StoreGauges(
            pending: try await count("pending"), earlyEvents: try await count("early"), outbox: try await count("outbox"), oldestOutboxCreatedAt: nil)
    }

    public func counts() async throws -> StoreCounts {
        let closed = try await db.scanCount(
            filter: DynamoExpression(
                "begins_with(pk, :t) AND attribute_exists(c)", values: [":t": .s("T#")]
            ))
        return StoreCounts(
            pending: try await count("pending"), earlyEvents: try await count("early"), outbox: try await count("outbox"),
            rejected: try await count("rejected"), closed: closed
        )
    }

    public func listPending(limit: Int) async throws -> [PendingCallback] {
        let keys = try await indexQuery(DynamoTableDesign.byTime, partition: "pending", upTo: .max, limit: limit)
        return Array(try await pendingCallbacks(keys).sorted { ($0.registeredAt, $0.tokenHash) < ($1.registeredAt, $1.tokenHash) }.prefix(limit))
    }

    public func listEarlyEvents(limit: Int) async throws -> [EarlyEvent] {
        let keys = try await indexQuery(DynamoTableDesign.byTime, partition: "early", upTo: .max, limit: limit, ascending: false)
        let now = WallClock.millisecondsNow()
        let events = try await items(keys).compactMap { item -> EarlyEvent? in
            guard let key = item["pk"]?.stringValue, case .job(let job)? = try WorkingSet.Record(item: item, key: key) else { return nil }
            return job.earlyEvent(now: now, options: options)
        }
        return Array(events.sorted { $0.receivedAt > $1.receivedAt }.prefix(limit))
    }

    public func listOutbox(limit: Int) async throws -> [OutboxEntry] {
        let keys = try await indexQuery(DynamoTableDesign.byTime, partition: "outbox", upTo: .max, limit: limit)
        let entries = try await items(keys).compactMap { item -> OutboxEntry? in
            guard let key = item["pk"]?.stringValue, case .outbox(let record)? = try WorkingSet.Record(item: item, key: key) else { return nil }
            return record.entry
        }
        return Array(entries.sorted { ($0.nextAttemptAt, $0.id) < ($1.nextAttemptAt, $1.id) }.prefix(limit))
    }

    public func listRejected(limit: Int) async throws -> [RejectedMessage] {
        let keys = try await indexQuery(DynamoTableDesign.byTime, partition: "rejected", upTo: .max, limit: limit, ascending: false)
        let messages = try await items(keys).compactMap { item -> RejectedMessage? in
            guard let key = item["pk"]?.stringValue, key.hasPrefix("R#") else { return nil }
            return try RejectedMessage(item: item, key: key)
        }
        return Array(messages.sorted { $0.receivedAt > $1.receivedAt }.prefix(limit))
    }

    // MARK: index reads

    /// Up to `limit` index entries of `partition` (every shard) with a time up to `upTo`, in
    /// time order per shard; eventually consistent, so callers read the items again before acting.
    func indexQuery(
        _ index: DynamoTableDesign.Index, partition: String, upTo: Int64, limit: Int, ascending: Bool = true
    ) async throws -> [DynamoItem] {
        guard limit > 0 else { return [] }
        var found: [DynamoItem] = []
        for shard in 0..<settings.shards {
            var startKey: DynamoItem?
            var taken = 0
            repeat {
                let page = try await db.query(
                    index: index.name,
                    keyCondition: DynamoExpression(
                        "#h = :p AND #r <= :t", names: ["#h": index.hashKey, "#r": index.rangeKey],
                        values: [":p": .s("\(partition)#\(shard)"), ":t": .number(upTo)]
                    ),
                    limit: limit - taken, ascending: ascending, startKey: startKey
                )
                found += page.items
                taken += page.items.count
                startKey = page.lastKey
            } while startKey != nil && taken < limit
        }
        return found
    }

    /// The earliest time in `partition` of `index`, over every shard.
    private func firstTime(_ index: DynamoTableDesign.Index, partition: String) async throws -> Int64? {
        var earliest: Int64?
        for shard in 0..<settings.shards {
            let page = try await db.query(
                index: index.name,
                keyCondition: DynamoExpression("#h = :p", names: ["#h": index.hashKey], values: [":p": .s("\(partition)#\(shard)")]),
                limit: 1
            )
            if let time = page.items.first?[index.rangeKey]?.int64Value { earliest = min(earliest ?? time, time) }
        }
        return earliest
    }

    /// The items behind index entries.
    private func items(_ entries: [DynamoItem]) async throws -> [DynamoItem] {
        let keys = Set(entries.compactMap { $0["pk"]?.stringValue })
        guard !keys.isEmpty else { return [] }
        return try await db.batchGetItem(keys: keys.sorted().map { ["pk": .s($0)] }, consistent: false)
    }

    /// The pending callbacks behind index entries of token items.
    private func pendingCallbacks(_ entries: [DynamoItem]) async throws -> [PendingCallback] {
        try await items(entries).compactMap { item -> PendingCallback? in
            guard let key = item["pk"]?.stringValue, case .token(let record)? = try WorkingSet.Record(item: item, key: key) else { return nil }
            return record.pending
        }
    }

    func ensureOpenForQueries() throws {
        if isClosed { throw StoreError(.closed, "the store is closed") }
    }
}
