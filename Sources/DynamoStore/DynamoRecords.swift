import AWS
import CallbackStore

/// The items of the table as typed records, and their encoding (see ``DynamoTableDesign``).
enum ItemKey {
    static func token(_ hash: String) -> String { "T#" + hash }
    static func job(kind: String, name: String) -> String { "J#\(kind)#\(name)" }
    static func execution(_ arn: String) -> String { "X#" + arn }
    static func outbox(_ id: Int64) -> String { "O#\(id)" }
    static func rejected(_ id: Int64) -> String { "R#\(id)" }
    static func lease(_ name: String) -> String { "L#" + name }

    static func of(_ key: StoreKey) -> String {
        switch key {
        case .token(let hash): token(hash)
        case .job(let kind, let name): job(kind: kind, name: name)
        case .execution(let arn): execution(arn)
        }
    }

    /// The outbox id in `O#<id>`.
    static func outboxID(_ pk: String) -> Int64? {
        pk.hasPrefix("O#") ? Int64(pk.dropFirst(2)) : nil
    }

    /// A stable shard in `0..<count` for a key (FNV-1a), spreading index partitions.
    static func shard(_ pk: String, count: Int) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in pk.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return Int(hash % UInt64(max(1, count)))
    }
}

/// A malformed item: the table holds something this build cannot read.
struct CorruptItem: Error, CustomStringConvertible {
    var key: String
    var field: String
    var description: String { "store error corruptRow: item \(key.prefix(80)) has no usable \(field)" }
}

extension DynamoItem {
    func string(_ name: String, in key: String) throws -> String {
        guard let value = self[name]?.stringValue else { throw CorruptItem(key: key, field: name) }
        return value
    }
    func int64(_ name: String, in key: String) throws -> Int64 {
        guard let value = self[name]?.int64Value else { throw CorruptItem(key: key, field: name) }
        return value
    }
    func optionalString(_ name: String) -> String? { self[name]?.stringValue }
    func optionalInt64(_ name: String) -> Int64? { self[name]?.int64Value }
    func bool(_ name: String) -> Bool { self[name]?.boolValue ?? false }
    func map(_ name: String) -> DynamoItem? {
        if case .m(let map)? = self[name] { return map }
        return nil
    }
    func stringSet(_ name: String) -> Set<String> {
        if case .ss(let values)? = self[name] { return Set(values) }
        return []
    }
    /// The item's version; nil for an item written by no decision.
    var version: Int64? { self["v"]?.int64Value }

    mutating func set(_ name: String, _ value: String?) { self[name] = value.map(DynamoValue.s) }
    mutating func set(_ name: String, _ value: Int64?) { self[name] = value.map(DynamoValue.number) }
    mutating func set(_ name: String, _ value: Set<String>) { self[name] = value.isEmpty ? nil : .ss(value.sorted()) }
}

/// Index attributes of an item: which shard partition of which index, and its time.
struct IndexEntry {
    var index: DynamoTableDesign.Index
    var partition: String
    var time: Int64

    func write(into item: inout DynamoItem, shard: Int) {
        item[index.hashKey] = .s("\(partition)#\(shard)")
        item[index.rangeKey] = .number(time)
    }
}

/// A task token: pending, closed, and what it has queued.
struct TokenRecord: Equatable {
    var hash: String
    var pending: PendingCallback?
    var closedAt: Int64?
    var closedResult: String?
    /// Outbox entries queued for this token, by id.
    var queued: [Int64: OutboxAction] = [:]

    var isEmpty: Bool { pending == nil && closedAt == nil && queued.isEmpty }

    init(hash: String) { self.hash = hash }

    init(item: DynamoItem, hash: String, key: String) throws {
        self.hash = hash
        if let p = item.map("p") {
            pending = PendingCallback(
                tokenHash: hash, taskToken: try p.string("tk", in: key), jobKind: try p.string("jk", in: key),
                jobName: try p.string("jn", in: key), registeredAt: try p.int64("ra", in: key),
                executionArn: p.optionalString("ea"), heartbeat: p.bool("hb"), createdByService: p.bool("cs"),
                stopJobOnAbort: p.bool("sa"), lastStatus: p.optionalString("ls"), lastEventAt: p.optionalInt64("le"),
                lastHeartbeatAt: p.optionalInt64("lh"),
                sweep: SweepState(
                    checks: Int(p.optionalInt64("sc") ?? 0), status: p.optionalString("ss"),
                    nextCheckAt: p.optionalInt64("sn"), missingSince: p.optionalInt64("sm")
                )
            )
        }
        if let c = item.map("c") {
            closedAt = try c.int64("at", in: key)
            closedResult = try c.string("r", in: key)
        }
        for (id, action) in item.map("q") ?? [:] {
            guard let id = Int64(id), let action = action.stringValue.flatMap(OutboxAction.init(rawValue:)) else {
                throw CorruptItem(key: key, field: "q")
            }
            queued[id] = action
        }
    }

    func item(options: StoreOptions, shards: Int) -> DynamoItem {
        let key = ItemKey.token(hash)
        var item: DynamoItem = ["pk": .s(key)]
        let shard = ItemKey.shard(key, count: shards)
        if let p = pending {
            var m: DynamoItem = [
                "tk": .s(p.taskToken), "jk": .s(p.jobKind), "jn": .s(p.jobName), "ra": .number(p.registeredAt),
                "hb": .bool(p.heartbeat), "cs": .bool(p.createdByService), "sa": .bool(p.stopJobOnAbort),
                "sc": .number(Int64(p.sweep.checks)),
            ]
            m.set("ea", p.executionArn)
            m.set("ls", p.lastStatus)
            m.set("le", p.lastEventAt)
            m.set("lh", p.lastHeartbeatAt)
            m.set("ss", p.sweep.status)
            m.set("sn", p.sweep.nextCheckAt)
            m.set("sm", p.sweep.missingSince)
            item["p"] = .m(m)
            IndexEntry(index: DynamoTableDesign.byTime, partition: "pending", time: p.registeredAt).write(into: &item, shard: shard)
            if p.heartbeat {
                IndexEntry(index: DynamoTableDesign.heartbeats, partition: "heartbeat", time: p.lastHeartbeatAt ?? p.registeredAt)
                    .write(into: &item, shard: shard)
            }
            if let next = p.sweep.nextCheckAt {
                IndexEntry(index: DynamoTableDesign.sweep, partition: "sweep-next", time: next).write(into: &item, shard: shard)
            } else {
                IndexEntry(index: DynamoTableDesign.sweep, partition: "sweep-new", time: p.registeredAt).write(into: &item, shard: shard)
            }
        }
        if let closedAt, let closedResult {
            item["c"] = .m(["at": .number(closedAt), "r": .s(closedResult)])
        }
        if !queued.isEmpty {
            item["q"] = .m(Dictionary(uniqueKeysWithValues: queued.map { (String($0.key), DynamoValue.s($0.value.rawValue)) }))
        }
        if pending == nil, let closedAt {
            // Only a closed record with nothing else left may expire; its entries keep it alive.
            if queued.isEmpty { item[DynamoTableDesign.ttlAttribute] = .number((closedAt + options.closedTokenTTL.milliseconds) / 1000) }
        }
        return item
    }

    /// Closed, and remembered: a record older than the TTL counts as forgotten, as if DynamoDB
    /// had already deleted it.
    func isClosed(now: Int64, options: StoreOptions) -> Bool {
        guard let closedAt else { return false }
        return closedAt >= now - options.closedTokenTTL.milliseconds
    }
}

/// A job: who waits for it, and its first terminal event.
struct JobRecord: Equatable {
    var kind: String
    var name: String
    /// Hashes of tokens that may be waiting (the token items say which still are).
    var tokens: Set<String> = []
    var early: EarlyEvent?
    /// The last registration seen: an item with waiting tokens expires only well after it.
    var lastRegisteredAt: Int64?

    var isEmpty: Bool { tokens.isEmpty && early == nil }

    init(kind: String, name: String) {
        self.kind = kind
        self.name = name
    }

    init(item: DynamoItem, kind: String, name: String, key: String) throws {
        self.kind = kind
        self.name = name
        tokens = item.stringSet("t")
        lastRegisteredAt = item.optionalInt64("lr")
        if let e = item.map("e") {
            early = EarlyEvent(
                jobKind: kind, jobName: name, status: try e.string("st", in: key), event: try e.string("ev", in: key),
                receivedAt: try e.int64("ra", in: key)
            )
        }
    }

    func item(options: StoreOptions, shards: Int) -> DynamoItem {
        let key = ItemKey.job(kind: kind, name: name)
        var item: DynamoItem = ["pk": .s(key)]
        item.set("t", tokens)
        item.set("lr", lastRegisteredAt)
        if let early {
            item["e"] = .m(["st": .s(early.status), "ev": .s(early.event), "ra": .number(early.receivedAt)])
            IndexEntry(index: DynamoTableDesign.byTime, partition: "early", time: early.receivedAt)
                .write(into: &item, shard: ItemKey.shard(key, count: shards))
        }
        item[DynamoTableDesign.ttlAttribute] = .number(expiry(options: options) / 1000)
        return item
    }

    /// An early event outlives its TTL only while someone may still wait; an item with tokens
    /// expires after the longest a callback can live, counted from the last registration.
    func expiry(options: StoreOptions) -> Int64 {
        let early = self.early.map { $0.receivedAt + options.earlyEventTTL.milliseconds } ?? 0
        let waiting = tokens.isEmpty ? 0 : (lastRegisteredAt ?? 0) + DynamoStore.maxCallbackAge
        return max(early, waiting)
    }

    func earlyEvent(now: Int64, options: StoreOptions) -> EarlyEvent? {
        guard let early, early.receivedAt >= now - options.earlyEventTTL.milliseconds else { return nil }
        return early
    }
}

/// A Step Functions execution: who waits in it, and how it ended.
struct ExecutionRecord: Equatable {
    var arn: String
    var tokens: Set<String> = []
    var ended: EndedExecution?
    var lastRegisteredAt: Int64?

    var isEmpty: Bool { tokens.isEmpty && ended == nil }

    init(arn: String) { self.arn = arn }

    init(item: DynamoItem, arn: String, key: String) throws {
        self.arn = arn
        tokens = item.stringSet("t")
        lastRegisteredAt = item.optionalInt64("lr")
        if let x = item.map("x") {
            ended = EndedExecution(
                executionArn: arn, status: try x.string("st", in: key), endedAt: try x.int64("ed", in: key),
                receivedAt: try x.int64("ra", in: key)
            )
        }
    }

    func item(options: StoreOptions) -> DynamoItem {
        var item: DynamoItem = ["pk": .s(ItemKey.execution(arn))]
        item.set("t", tokens)
        item.set("lr", lastRegisteredAt)
        if let ended {
            item["x"] = .m(["st": .s(ended.status), "ed": .number(ended.endedAt), "ra": .number(ended.receivedAt)])
        }
        let endedExpiry = ended.map { $0.receivedAt + options.earlyEventTTL.milliseconds } ?? 0
        let waiting = tokens.isEmpty ? 0 : (lastRegisteredAt ?? 0) + DynamoStore.maxCallbackAge
        item[DynamoTableDesign.ttlAttribute] = .number(max(endedExpiry, waiting) / 1000)
        return item
    }

    func executionEnd(now: Int64, options: StoreOptions) -> EndedExecution? {
        guard let ended, ended.receivedAt >= now - options.earlyEventTTL.milliseconds else { return nil }
        return ended
    }
}

/// An outbox entry and who may deliver it.
struct OutboxRecord: Equatable {
    var entry: OutboxEntry
    /// The replica that holds the entry, until `leaseUntil`; another may take it over after.
    var owner: String?
    var leaseUntil: Int64?

    init(entry: OutboxEntry, owner: String?, leaseUntil: Int64?) {
        self.entry = entry
        self.owner = owner
        self.leaseUntil = leaseUntil
    }

    init(item: DynamoItem, id: Int64, key: String) throws {
        let actionText = try item.string("ac", in: key)
        guard let action = OutboxAction(rawValue: actionText) else { throw CorruptItem(key: key, field: "ac") }
        entry = OutboxEntry(
            id: id, tokenHash: try item.string("th", in: key), taskToken: item.optionalString("tk") ?? "",
            jobKind: item.optionalString("jk") ?? "", jobName: item.optionalString("jn") ?? "", action: action,
            payload: item.optionalString("pl") ?? "", errorName: item.optionalString("en"),
            attempts: Int(item.optionalInt64("at") ?? 0), nextAttemptAt: try item.int64("na", in: key),
            createdAt: try item.int64("ca", in: key), lastError: item.optionalString("er")
        )
        owner = item.optionalString("owner")
        leaseUntil = item.optionalInt64("leaseUntil")
    }

    func item(shards: Int) -> DynamoItem {
        let key = ItemKey.outbox(entry.id)
        var item: DynamoItem = [
            "pk": .s(key), "th": .s(entry.tokenHash), "ac": .s(entry.action.rawValue),
            "at": .number(Int64(entry.attempts)), "na": .number(entry.nextAttemptAt), "ca": .number(entry.createdAt),
        ]
        // DynamoDB refuses empty strings in no attribute but keys; they are left out to keep items small.
        if !entry.taskToken.isEmpty { item["tk"] = .s(entry.taskToken) }
        if !entry.jobKind.isEmpty { item["jk"] = .s(entry.jobKind) }
        if !entry.jobName.isEmpty { item["jn"] = .s(entry.jobName) }
        if !entry.payload.isEmpty { item["pl"] = .s(entry.payload) }
        item.set("en", entry.errorName)
        item.set("er", entry.lastError)
        item.set("owner", owner)
        item.set("leaseUntil", leaseUntil)
        IndexEntry(index: DynamoTableDesign.byTime, partition: "outbox", time: entry.nextAttemptAt)
            .write(into: &item, shard: ItemKey.shard(key, count: shards))
        return item
    }
}

extension RejectedMessage {
    func item(id: Int64, options: StoreOptions, shards: Int) -> DynamoItem {
        let key = ItemKey.rejected(id)
        var item: DynamoItem = [
            "pk": .s(key), "ra": .number(receivedAt), "src": .s(source), "rsn": .s(reason),
            "body": .s(body.utf8Prefix(maxBytes: options.rejectedBodyLimit)),
            DynamoTableDesign.ttlAttribute: .number((receivedAt + options.earlyEventTTL.milliseconds) / 1000),
        ]
        item.set("mid", messageID)
        IndexEntry(index: DynamoTableDesign.byTime, partition: "rejected", time: receivedAt)
            .write(into: &item, shard: ItemKey.shard(key, count: shards))
        return item
    }

    init(item: DynamoItem, key: String) throws {
        self.init(
            id: ItemKey.outboxID("O#" + key.dropFirst(2)) ?? 0, receivedAt: try item.int64("ra", in: key),
            source: try item.string("src", in: key), messageID: item.optionalString("mid"),
            reason: try item.string("rsn", in: key), body: item.optionalString("body") ?? ""
        )
    }
}
