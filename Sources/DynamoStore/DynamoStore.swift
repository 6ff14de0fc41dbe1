public import AWS
public import CallbackStore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
public import Logging
import Synchronization

/// How a ``DynamoStore`` shares the work of a fleet.
public struct DynamoStoreSettings: Sendable {
    /// Names this process in leases: the replica that holds an outbox entry or a schedule.
    public var replicaID: String
    /// How long an outbox entry or a schedule stays with its replica without being renewed; a
    /// dead replica's work is taken over after this (and one scan interval).
    public var lease: Duration = .seconds(60)
    /// Partitions of each index, so no single partition takes every write.
    public var shards = 4
    /// Test-only: writes without their version conditions, to prove the multi-replica tests
    /// can see the races the conditions prevent. Never switch it off in production.
    public var guarded = true
    /// Most callbacks of one job or execution decided in one transaction.
    public var callbacksPerTransaction = 10
    /// Test-only: awaited after a unit decided and before its effects are written, so a test can
    /// let another replica commit in between (the race the version conditions are for).
    public var beforeWrite: (@Sendable () async -> Void)?

    public init(replicaID: String = DynamoStoreSettings.defaultReplicaID()) {
        self.replicaID = replicaID
    }

    /// `host-pid-random`: unique per process, readable in the table.
    public static func defaultReplicaID() -> String {
        "\(ProcessInfo.processInfo.hostName.prefix(40))-\(getpid())-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
    }
}

/// Why a DynamoDB store cannot be used; `configuration` problems (a missing table, a wrong
/// schema, a missing permission) are the operator's to fix, `unavailable` ones may pass.
public struct DynamoStoreError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable { case configuration, unavailable }
    public var kind: Kind
    /// One line naming the table and the problem.
    public var message: String
    public var description: String { message }
}

/// The DynamoDB backend of ``CallbackStore``: any number of replicas share one table.
///
/// Each unit is read (consistently), decided, and written in one `TransactWriteItems` (or one
/// conditional write) conditioned on the versions it read; when another replica changed any of
/// them first, the unit is read and decided again. Outbox entries are born leased to the replica
/// that queued them and delivered by it; a replica that dies leaves leases that lapse, and the
/// others take its entries over. Heartbeats, the sweep and expiry run on whichever replica holds
/// their lease. See ``DynamoTableDesign`` for the items.
public final class DynamoStore: CallbackStore {
    /// A Standard execution lives at most a year; tokens older than that (plus slack) are dead.
    static let maxCallbackAge: Int64 = 367 * 86_400_000
    /// A unit that keeps conflicting is given up on after this many attempts (its message stays queued).
    static let maxAttempts = 32

    public let table: String
    public let options: StoreOptions
    public let settings: DynamoStoreSettings
    let db: DynamoDB
    let logger: Logger
    let held = Mutex<[Int64: Held]>([:])
    let leases = Mutex<[String: Int64]>([:])
    let nextScan = Mutex<Int64>(0)
    private let closed = Atomic<Bool>(false)

    /// An outbox entry this replica holds, with the version it last wrote.
    struct Held {
        var record: OutboxRecord
        var version: Int64
    }

    public var location: StoreLocation { .dynamoDB(table: table) }
    var lease: Int64 { settings.lease.milliseconds }
    /// How often a replica looks for entries whose holder died.
    var scanInterval: Int64 { max(250, lease / 2) }

    init(db: DynamoDB, options: StoreOptions, settings: DynamoStoreSettings, logger: Logger) {
        self.db = db
        self.table = db.table
        self.options = options
        self.settings = settings
        self.logger = logger
    }

    /// Opens the table after checking that it exists and has this design's keys and indexes.
    /// Throws ``DynamoStoreError``: `configuration` for a missing table, a wrong schema or a
    /// refused permission, `unavailable` when DynamoDB cannot be reached.
    public static func open(
        table: String, client: AWSClient, options: StoreOptions = StoreOptions(), settings: DynamoStoreSettings = DynamoStoreSettings(),
        meter: DynamoCapacityMeter? = nil, logger: Logger
    ) async throws -> DynamoStore {
        let db = DynamoDB(
            client: client, table: table, meter: meter, tableKey: [DynamoTableDesign.partitionKey], indexes: DynamoTableDesign.capacityIndexes)
        let description: DynamoTableDescription
        do {
            description = try await db.describeTable()
        } catch {
            throw classify(error, table: table, doing: "describe it (dynamodb:DescribeTable)")
        }
        let problems = DynamoTableDesign.problems(with: description)
        guard problems.isEmpty else {
            throw DynamoStoreError(
                kind: .configuration, message: "dynamodb://\(table): the table does not fit this service: \(problems.joined(separator: "; "))")
        }
        return DynamoStore(db: db, options: options, settings: settings, logger: logger)
    }

    /// One line for a failed call on the table: whose problem it is, and what it was.
    static func classify(_ error: any Error, table: String, doing what: String) -> DynamoStoreError {
        if let error = error as? AWSError {
            if error.code == "ResourceNotFoundException" || error.code == "ResourceNotFound" {
                return DynamoStoreError(
                    kind: .configuration,
                    message: "dynamodb://\(table): no such table in this region (create it from infra/sagemaker-callback.template.json)")
            }
            if error.code.hasPrefix("AccessDenied") || error.code == "UnrecognizedClientException" || error.httpStatus == 403 {
                return DynamoStoreError(
                    kind: .configuration, message: "dynamodb://\(table): not allowed to \(what): \(error.code): \(error.message.prefix(200))")
            }
            if error.httpStatus == 400 {
                return DynamoStoreError(
                    kind: .configuration, message: "dynamodb://\(table): cannot \(what): \(error.code): \(error.message.prefix(200))")
            }
            return DynamoStoreError(kind: .unavailable, message: "dynamodb://\(table): cannot \(what): \(error.code) (HTTP \(error.httpStatus))")
        }
        return DynamoStoreError(kind: .unavailable, message: "dynamodb://\(table): cannot \(what): \(error)")
    }

    public func close() { closed.store(true, ordering: .relaxed) }

    var isClosed: Bool { closed.load(ordering: .relaxed) }

    private func ensureOpen() throws {
        if isClosed { throw StoreError(.closed, "the store is closed") }
    }

    func heldSnapshot() -> [Held] { held.withLock { Array($0.values) } }
    func remember(_ entry: Held) { held.withLock { $0[entry.record.entry.id] = entry } }
    func forget(_ id: Int64) { _ = held.withLock { $0.removeValue(forKey: id) } }

    /// A random positive id for an outbox entry or a rejected message.
    static func newID() -> Int64 { Int64.random(in: 1...Int64.max) }

    // MARK: decisions

    public func commit<Result: Sendable>(_ units: [StoreUnit<Result>]) async throws -> [Result] {
        try ensureOpen()
        var results: [Result] = []
        results.reserveCapacity(units.count)
        for unit in units {
            results.append(try await commitOne(unit))
        }
        return results
    }

    public func preview<Result: Sendable>(_ units: [StoreUnit<Result>]) async throws -> [Result] {
        try ensureOpen()
        // One working set for all units: later units read what earlier ones would have written.
        let set = WorkingSet()
        var results: [Result] = []
        for unit in units {
            let now = WallClock.millisecondsNow()
            let view = try await read(unit.reads, into: set, now: now, seedHeld: false)
            let (result, effects) = try unit.decide(view)
            try await apply(effects, to: set, now: now)
            results.append(result)
        }
        return results
    }

    /// Reads, decides and writes one unit, again after every conflict, and again while the unit
    /// was shown only part of a job's (or an execution's) callbacks.
    private func commitOne<Result: Sendable>(_ unit: StoreUnit<Result>) async throws -> Result {
        var attempt = 0
        var first: Result?
        while true {
            let set = WorkingSet()
            let now = WallClock.millisecondsNow()
            let view = try await read(unit.reads, into: set, now: now, seedHeld: attempt == 0)
            let (result, effects) = try unit.decide(view)
            // Before the effects change the records the view reads.
            let truncated = view.truncated
            try await apply(effects, to: set, now: now)
            if let beforeWrite = settings.beforeWrite { await beforeWrite() }
            do {
                try await write(set)
            } catch let conflict as Conflict {
                attempt += 1
                forgetHeld(conflict.outboxIDs)
                guard attempt < Self.maxAttempts else {
                    throw StoreError(.contended, "a decision conflicted with other replicas \(attempt) times running")
                }
                // Jittered, growing, short: the replica that won has long finished writing.
                try await Task.sleep(for: .milliseconds(Int.random(in: 2...(10 + 10 * min(attempt, 10)))))
                continue
            }
            if first == nil { first = result }
            if effects.isEmpty || !truncated { return first ?? result }
            attempt = 0
        }
    }

    /// A write refused because an item changed after it was read.
    struct Conflict: Error { var outboxIDs: [Int64] }

    /// Loads the items a unit declared (and the tokens waiting on each job or execution it
    /// declared), consistently, and returns the view of them.
    private func read(_ reads: [StoreKey], into set: WorkingSet, now: Int64, seedHeld: Bool) async throws -> DynamoView {
        try await fetch(reads.map(ItemKey.of), into: set, seedHeld: seedHeld)
        var tokens: [String] = []
        for key in reads {
            switch key {
            case .job(let kind, let name):
                tokens += (set.job(ItemKey.job(kind: kind, name: name))?.tokens ?? []).sorted().prefix(Self.tokenReadCap)
            case .execution(let arn):
                tokens += (set.execution(ItemKey.execution(arn))?.tokens ?? []).sorted().prefix(Self.tokenReadCap)
            case .token: continue
            }
        }
        try await fetch(tokens.map(ItemKey.token), into: set, seedHeld: seedHeld)
        return DynamoView(allowed: Set(reads), set: set, now: now, options: options, limit: settings.callbacksPerTransaction)
    }

    /// Tokens of one job or execution read per decision; beyond it, the rest wait for a later round.
    static let tokenReadCap = 200

    /// Reads the items of `keys` not yet in `set`. Outbox entries this replica holds are taken
    /// from memory (`seedHeld`), with the version it wrote; a conflict reads them afresh.
    func fetch(_ keys: [String], into set: WorkingSet, seedHeld: Bool) async throws {
        var missing: [String] = []
        var seen = Set<String>()
        for key in keys where !set.contains(key) && seen.insert(key).inserted {
            if seedHeld, let id = ItemKey.outboxID(key), let entry = held.withLock({ $0[id] }) {
                set.loaded(key, version: entry.version, record: .outbox(entry.record))
            } else {
                missing.append(key)
            }
        }
        guard !missing.isEmpty else { return }
        let items = try await db.batchGetItem(keys: missing.map { ["pk": .s($0)] }, consistent: true)
        var found: [String: DynamoItem] = [:]
        for item in items {
            if let key = item["pk"]?.stringValue { found[key] = item }
        }
        for key in missing {
            if let item = found[key] {
                set.loaded(key, version: item.version ?? 0, record: try WorkingSet.Record(item: item, key: key))
            } else {
                set.loaded(key, version: nil, record: nil)
            }
        }
    }

    // MARK: effects

    /// Applies effects to the records in `set`, reading items they touch that the unit did not read.
    func apply(_ effects: [Effect], to set: WorkingSet, now: Int64) async throws {
        func token(_ hash: String) async throws -> TokenRecord {
            try await fetch([ItemKey.token(hash)], into: set, seedHeld: true)
            return set.token(hash) ?? TokenRecord(hash: hash)
        }
        func save(_ record: TokenRecord) { set.set(ItemKey.token(record.hash), .token(record)) }
        for effect in effects {
            switch effect {
            case .insertPending(let callback):
                var record = try await token(callback.tokenHash)
                guard record.pending == nil else { continue }
                record.pending = callback
                save(record)
                let jobKey = ItemKey.job(kind: callback.jobKind, name: callback.jobName)
                try await fetch([jobKey], into: set, seedHeld: false)
                var job = set.job(jobKey) ?? JobRecord(kind: callback.jobKind, name: callback.jobName)
                job.tokens.insert(callback.tokenHash)
                job.lastRegisteredAt = max(job.lastRegisteredAt ?? 0, callback.registeredAt)
                set.set(jobKey, .job(job))
                if let arn = callback.executionArn {
                    let key = ItemKey.execution(arn)
                    try await fetch([key], into: set, seedHeld: false)
                    var execution = set.execution(key) ?? ExecutionRecord(arn: arn)
                    execution.tokens.insert(callback.tokenHash)
                    execution.lastRegisteredAt = max(execution.lastRegisteredAt ?? 0, callback.registeredAt)
                    set.set(key, .execution(execution))
                }

            case .removePending(let hash):
                var record = try await token(hash)
                guard let callback = record.pending else { continue }
                record.pending = nil
                save(record)
                // The job's and execution's token sets are supersets; they are tidied when read
                // here anyway, never read just for this.
                let jobKey = ItemKey.job(kind: callback.jobKind, name: callback.jobName)
                if var job = set.job(jobKey) {
                    job.tokens.remove(hash)
                    set.set(jobKey, .job(job))
                }
                if let arn = callback.executionArn, var execution = set.execution(ItemKey.execution(arn)) {
                    execution.tokens.remove(hash)
                    set.set(ItemKey.execution(arn), .execution(execution))
                }

            case .updateStatus(let hash, let status, let at):
                var record = try await token(hash)
                guard record.pending != nil else { continue }
                record.pending?.lastStatus = status
                record.pending?.lastEventAt = at
                save(record)

            case .noteHeartbeat(let hash, let at):
                var record = try await token(hash)
                guard record.pending != nil else { continue }
                record.pending?.lastHeartbeatAt = at
                save(record)

            case .recordSweep(let hash, let state):
                var record = try await token(hash)
                guard record.pending != nil else { continue }
                record.pending?.sweep = state
                save(record)

            case .markClosed(let hash, let result, let at):
                var record = try await token(hash)
                record.closedAt = at
                record.closedResult = result
                save(record)

            case .enqueue(let new):
                let id = Self.newID()
                let entry = OutboxEntry(
                    id: id, tokenHash: new.tokenHash, taskToken: new.taskToken, jobKind: new.jobKind, jobName: new.jobName,
                    action: new.action, payload: new.payload, errorName: new.errorName, attempts: 0,
                    nextAttemptAt: new.notBefore, createdAt: new.notBefore, lastError: nil
                )
                // Born leased to this replica: it delivers what it queued, with no read to find it.
                set.set(
                    ItemKey.outbox(id),
                    .outbox(
                        OutboxRecord(
                            entry: entry, owner: settings.replicaID, leaseUntil: max(now, new.notBefore) + lease
                        )))
                if !new.tokenHash.isEmpty {
                    var record = try await token(new.tokenHash)
                    record.queued[id] = new.action
                    save(record)
                }

            case .dropQueued(let hash, let actions):
                var record = try await token(hash)
                let dropped = record.queued.filter { actions.contains($0.value) }.map(\.key)
                guard !dropped.isEmpty else { continue }
                for id in dropped {
                    record.queued[id] = nil
                    set.deleteUnread(ItemKey.outbox(id))
                }
                save(record)

            case .deleteOutbox(let id):
                try await fetch([ItemKey.outbox(id)], into: set, seedHeld: true)
                guard let outbox = set.outbox(id) else { continue }
                set.set(ItemKey.outbox(id), nil)
                if !outbox.entry.tokenHash.isEmpty {
                    var record = try await token(outbox.entry.tokenHash)
                    record.queued[id] = nil
                    save(record)
                }

            case .rescheduleOutbox(let id, let attempts, let next, let lastError):
                try await fetch([ItemKey.outbox(id)], into: set, seedHeld: true)
                // Taken over by another replica (this one was presumed dead): that one decides.
                guard var outbox = set.outbox(id), outbox.owner == nil || outbox.owner == settings.replicaID else { continue }
                outbox.entry.attempts = attempts
                outbox.entry.nextAttemptAt = next
                outbox.entry.lastError = lastError
                outbox.owner = settings.replicaID
                outbox.leaseUntil = max(now, next) + lease
                set.set(ItemKey.outbox(id), .outbox(outbox))

            case .rememberExecutionEnd(let ended):
                let key = ItemKey.execution(ended.executionArn)
                try await fetch([key], into: set, seedHeld: false)
                var execution = set.execution(key) ?? ExecutionRecord(arn: ended.executionArn)
                execution.ended = ended
                set.set(key, .execution(execution))

            case .rememberTerminal(let event):
                let key = ItemKey.job(kind: event.jobKind, name: event.jobName)
                try await fetch([key], into: set, seedHeld: false)
                var job = set.job(key) ?? JobRecord(kind: event.jobKind, name: event.jobName)
                // The first terminal event wins; one past its TTL counts as gone.
                guard job.earlyEvent(now: now, options: options) == nil else { continue }
                job.early = event
                set.set(key, .job(job))

            case .recordRejected(let message):
                set.rejected.append(message.item(id: Self.newID(), options: options, shards: settings.shards))
            }
        }
        // Token sets read for this decision keep only tokens still pending.
        for key in set.changedKeys {
            if var job = set.job(key) {
                job.tokens = job.tokens.filter { hash in set.token(hash).map { $0.pending != nil } ?? true }
                set.set(key, .job(job))
            } else if var execution = set.execution(key) {
                execution.tokens = execution.tokens.filter { hash in set.token(hash).map { $0.pending != nil } ?? true }
                set.set(key, .execution(execution))
            }
        }
    }

    // MARK: writing

    /// Writes what changed in `set`: one conditional write, or one transaction of them. Throws
    /// ``Conflict`` when an item changed since it was read.
    func write(_ set: WorkingSet) async throws {
        var writes: [DynamoWrite] = []
        // Size hints for the meter: each write's item as read (re-encoded), when one is counting.
        let metered = db.meter != nil
        var previous: [DynamoItem?] = []
        var outcomes: [(id: Int64, held: Held?)] = []
        for key in set.changedKeys {
            guard let slot = set.slots[key] else { continue }
            let before: DynamoItem? =
                metered
                ? slot.original?.item(options: options, shards: settings.shards).map { item in
                    var item = item
                    if let version = slot.version { item["v"] = .number(version) }
                    return item
                } : nil
            let condition: DynamoExpression?
            if !settings.guarded || slot.blind {
                condition = nil
            } else if slot.existed, let version = slot.version {
                condition = DynamoExpression("#v = :v", names: ["#v": "v"], values: [":v": .number(version)])
            } else {
                condition = DynamoExpression("attribute_not_exists(pk)")
            }
            let next = (slot.version ?? 0) + 1
            if var item = slot.record?.item(options: options, shards: settings.shards) {
                item["v"] = .number(next)
                writes.append(.put(item: item, condition: condition))
                previous.append(before)
                if case .outbox(let record)? = slot.record {
                    outcomes.append((record.entry.id, record.owner == settings.replicaID ? Held(record: record, version: next) : nil))
                }
            } else if slot.existed {
                writes.append(.delete(key: ["pk": .s(key)], condition: condition))
                previous.append(before)
                if let id = ItemKey.outboxID(key) { outcomes.append((id, nil)) }
            }
        }
        writes += set.rejected.map { .put(item: $0, condition: nil) }
        guard !writes.isEmpty else { return }
        guard writes.count <= 100 else {
            throw StoreError(.tooLarge, "a decision would write \(writes.count) items; DynamoDB allows 100 in one transaction")
        }
        do {
            if writes.count == 1 {
                switch writes[0] {
                case .put(let item, let condition): try await db.putItem(item, condition: condition, previous: previous.first ?? nil)
                case .delete(let key, let condition): try await db.deleteItem(key: key, condition: condition, previous: previous.first ?? nil)
                default: try await db.transactWriteItems(writes, previous: previous)
                }
            } else {
                try await db.transactWriteItems(writes, previous: previous)
            }
        } catch is DynamoConditionFailed {
            throw Conflict(outboxIDs: outcomes.map(\.id))
        } catch let canceled as DynamoTransactionCanceled where canceled.isConflict {
            throw Conflict(outboxIDs: outcomes.map(\.id))
        }
        held.withLock { held in
            for (id, entry) in outcomes { held[id] = entry }
        }
    }

    private func forgetHeld(_ ids: [Int64]) {
        guard !ids.isEmpty else { return }
        held.withLock { held in
            for id in ids { held[id] = nil }
        }
    }
}

extension DynamoStore {
    /// What `doctor` finds wrong with the table beyond its design: TTL off, or a call the service
    /// makes that is refused. Writes (and removes) one short-lived probe item; never touches the
    /// service's items. Empty when all is well.
    public func accessProblems() async -> [String] {
        var problems: [String] = []
        func check(_ what: String, _ body: () async throws -> Void) async {
            do {
                try await body()
            } catch {
                problems.append(Self.classify(error, table: table, doing: what).message)
            }
        }
        await check("describe its TTL (dynamodb:DescribeTimeToLive)") {
            let ttl = try await db.describeTimeToLive()
            if !["ENABLED", "ENABLING"].contains(ttl.status) || ttl.attribute != DynamoTableDesign.ttlAttribute {
                problems.append(
                    "dynamodb://\(table): TTL is \(ttl.status.lowercased()) on \(ttl.attribute ?? "no attribute"), not enabled on \(DynamoTableDesign.ttlAttribute): nothing that expires would ever be deleted"
                )
            }
        }
        let key: DynamoItem = ["pk": .s("D#doctor-probe-\(settings.replicaID)")]
        var probe = key
        probe[DynamoTableDesign.ttlAttribute] = .number(WallClock.millisecondsNow() / 1000 + 600)
        probe["v"] = .number(1)
        await check("write items (dynamodb:PutItem)") { try await db.putItem(probe) }
        await check("read items (dynamodb:GetItem, BatchGetItem)") {
            _ = try await db.getItem(key: key)
            _ = try await db.batchGetItem(keys: [key])
        }
        await check("update items (dynamodb:UpdateItem)") {
            _ = try await db.updateItem(key: key, update: DynamoExpression("SET #v = :two", names: ["#v": "v"], values: [":two": .number(2)]))
        }
        await check("write transactions (dynamodb:ConditionCheckItem, DeleteItem in TransactWriteItems)") {
            try await db.transactWriteItems([
                .conditionCheck(key: ["pk": .s(ItemKey.lease("doctor-probe"))], condition: DynamoExpression("attribute_not_exists(pk)")),
                .delete(key: key, condition: DynamoExpression("attribute_exists(pk)")),
            ])
        }
        for index in DynamoTableDesign.indexes {
            await check("query its index \(index.name) (dynamodb:Query)") {
                _ = try await db.query(
                    index: index.name,
                    keyCondition: DynamoExpression("#h = :p", names: ["#h": index.hashKey], values: [":p": .s("doctor#0")]), limit: 1
                )
            }
        }
        return problems
    }
}
