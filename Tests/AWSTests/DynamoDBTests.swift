import AWS
import Foundation
import JSON
import Moto
import Testing

@Suite("DynamoDB values") struct DynamoValueTests {
    @Test(arguments: [
        (DynamoValue.s("a b"), #"{"S":"a b"}"#),
        (.n("-12.5"), #"{"N":"-12.5"}"#),
        (.number(1_700_000_000_123), #"{"N":"1700000000123"}"#),
        (.bool(false), #"{"BOOL":false}"#),
        (.null, #"{"NULL":true}"#),
        (.l([.s("x"), .n("1")]), #"{"L":[{"S":"x"},{"N":"1"}]}"#),
        (.m(["b": .bool(true), "a": .m(["c": .null])]), #"{"M":{"a":{"M":{"c":{"NULL":true}}},"b":{"BOOL":true}}}"#),
        (.ss(["x", "y"]), #"{"SS":["x","y"]}"#),
        (.ns(["1", "2.5"]), #"{"NS":["1","2.5"]}"#),
    ])
    func roundTrip(value: DynamoValue, wire: String) throws {
        #expect(value.json.serialized() == wire)
        #expect(try DynamoValue(json: JSONValue.parse(wire)) == value)
    }

    @Test(arguments: [#"{"B":"AAEC"}"#, #"{"BS":["AA=="]}"#, #"{"S":"a","N":"1"}"#, #"{}"#, #"{"S":1}"#, #"{"L":{"S":"a"}}"#, #""S""#])
    func unknownShapesAreRefused(wire: String) throws {
        #expect(throws: AWSResponseError.self) { try DynamoValue(json: JSONValue.parse(wire)) }
    }

    @Test func conveniences() {
        #expect(DynamoValue.number(42) == .n("42"))
        #expect(DynamoValue.n("42").int64Value == 42)
        #expect(DynamoValue.n("4.2").int64Value == nil)
        #expect(DynamoValue.s("42").int64Value == nil)
        #expect(DynamoValue.s("t").stringValue == "t")
        #expect(DynamoValue.n("1").stringValue == nil)
        #expect(DynamoValue.bool(true).boolValue == true)
        #expect(DynamoValue.null.boolValue == nil)
    }

    @Test(arguments: [
        (["None", "ConditionalCheckFailed"], true),
        (["TransactionConflict", "None"], true),
        (["ConditionalCheckFailed", "ValidationError"], false),
        (["None", "ItemCollectionSizeLimitExceeded"], false),
        ([], false),
    ])
    func conflictIsOnlyConditionsAndCollisions(reasons: [String], conflict: Bool) {
        #expect(DynamoTransactionCanceled(reasons: reasons, message: "").isConflict == conflict)
    }
}

/// Against a real moto (never skipped: a missing moto fails the test with how to install it).
///
/// What moto 5.2.5 reports as consumed capacity (bare `CapacityUnits`, no read/write split):
/// PutItem 1, DeleteItem 1, GetItem 0.5, UpdateItem 0.5, Query and Scan 1 per request,
/// BatchGetItem one unit per key asked for; TransactWriteItems nothing at all.
@Suite("DynamoDB against moto", .timeLimit(.minutes(2))) struct DynamoDBTests {
    static let tableRequest: JSONObject = [
        "TableName": "callbacks",
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [["AttributeName": "pk", "KeyType": "HASH"]],
        "AttributeDefinitions": [
            ["AttributeName": "pk", "AttributeType": "S"],
            ["AttributeName": "group", "AttributeType": "S"],
            ["AttributeName": "due", "AttributeType": "N"],
        ],
        "GlobalSecondaryIndexes": [
            [
                "IndexName": "byGroup",
                "KeySchema": [["AttributeName": "group", "KeyType": "HASH"], ["AttributeName": "due", "KeyType": "RANGE"]],
                "Projection": ["ProjectionType": "ALL"],
            ]
        ],
        "TimeToLiveSpecification": ["Enabled": true, "AttributeName": "expiresAt"],
    ]

    /// A table of its own on the moto server the test process shares (DynamoDB requests
    /// serialized there), for one test.
    static func withTable(_ body: (MotoServer, DynamoDB, DynamoCapacityMeter) async throws -> Void) async throws {
        let moto: MotoServer
        do {
            moto = try await MotoServer.shared()
        } catch let error as MotoUnavailable {
            Issue.record("\(error.message)")
            throw error
        }
        let client = try moto.client()
        var request = tableRequest
        let name = "callbacks-\(UUID().uuidString.prefix(8).lowercased())"
        request["TableName"] = .string(name)
        try await DynamoDB.createTable(client: client, request: request)
        let meter = DynamoCapacityMeter()
        try await body(moto, DynamoDB(client: client, table: name, meter: meter), meter)
    }

    static func key(_ id: String) -> DynamoItem { ["pk": .s(id)] }

    @Test func motoIsTheEndpointOfClientsAndProcesses() async throws {
        try await Self.withTable { moto, _, _ in
            #expect(try moto.client().endpoint(for: .dynamoDB)?.url == moto.endpoint)
            let environment = Environment(moto.processEnvironment())
            let resolved = try EndpointResolver.resolve(.dynamoDB, region: MotoServer.region, explicit: nil, environment: environment)
            #expect(resolved.url == moto.endpoint)
        }
    }

    @Test func describesTheTableAndItsTimeToLive() async throws {
        try await Self.withTable { moto, table, _ in
            let description = try await table.describeTable()
            #expect(description.name.hasPrefix("callbacks-"))
            #expect(description.status == "ACTIVE")
            #expect(description.keySchema == [.init(name: "pk", keyType: "HASH")])
            #expect(description.attributeTypes == ["pk": "S", "group": "S", "due": "N"])
            #expect(description.indexes == ["byGroup": [.init(name: "group", keyType: "HASH"), .init(name: "due", keyType: "RANGE")]])
            #expect(description.itemCount == 0)
            let ttl = try await table.describeTimeToLive()
            #expect(ttl.status == "ENABLED")
            #expect(ttl.attribute == "expiresAt")

            let missing = DynamoDB(client: try moto.client(), table: "no-such-table")
            await #expect { try await missing.describeTable() } throws: { ($0 as? AWSError)?.code == "ResourceNotFoundException" }
        }
    }

    @Test func putGetAndBatchGetOf150Keys() async throws {
        try await Self.withTable { _, table, meter in
            let ids = (0..<150).map { "task-\($0)" }
            for (number, id) in ids.enumerated() {
                try await table.putItem(["pk": .s(id), "n": .number(Int64(number)), "tags": .ss(["a", "b"]), "doc": .m(["x": .l([.null])])])
            }
            #expect(meter.calls == 150)
            #expect(meter.writeUnits == 150)

            let item = try await table.getItem(key: Self.key("task-7"))
            #expect(item == ["pk": .s("task-7"), "n": .n("7"), "tags": .ss(["a", "b"]), "doc": .m(["x": .l([.null])])])
            #expect(try await table.getItem(key: Self.key("absent"), consistent: false) == nil)
            #expect(meter.readUnits == 1)

            meter.reset()
            // Repeated keys are asked for once (DynamoDB refuses duplicates); a key without an item is left out.
            let keys = ids.map(Self.key) + [Self.key("task-3"), Self.key("absent")]
            let items = try await table.batchGetItem(keys: keys)
            #expect(Set(items.compactMap { $0["pk"]?.stringValue }) == Set(ids))
            #expect(items.count == 150)
            #expect(meter.calls == 2)
            #expect(meter.readUnits == 151)
            #expect(meter.writeUnits == 0)
        }
    }

    @Test func refusedConditionsThrowConditionFailed() async throws {
        try await Self.withTable { _, table, _ in
            let absent = DynamoExpression("attribute_not_exists(pk)")
            try await table.putItem(["pk": .s("t1"), "v": .number(1)], condition: absent)
            await #expect { try await table.putItem(["pk": .s("t1"), "v": .number(2)], condition: absent) } throws: {
                ($0 as? DynamoConditionFailed)?.operation == "PutItem"
            }
            let stale = DynamoExpression("#v = :v", names: ["#v": "v"], values: [":v": .number(5)])
            await #expect { try await table.deleteItem(key: Self.key("t1"), condition: stale) } throws: {
                ($0 as? DynamoConditionFailed)?.operation == "DeleteItem"
            }
            await #expect {
                _ = try await table.updateItem(
                    key: Self.key("t1"), update: DynamoExpression("SET #v = :w", names: ["#v": "v"], values: [":w": .number(9)]), condition: stale)
            } throws: { ($0 as? DynamoConditionFailed)?.operation == "UpdateItem" }
            #expect(try await table.getItem(key: Self.key("t1"))?["v"] == .number(1))

            try await table.deleteItem(key: Self.key("t1"), condition: DynamoExpression("#v = :v", names: ["#v": "v"], values: [":v": .number(1)]))
            #expect(try await table.getItem(key: Self.key("t1")) == nil)
        }
    }

    @Test func updateReturnsTheNewItem() async throws {
        try await Self.withTable { _, table, meter in
            let increment = DynamoExpression(
                "SET #c = if_not_exists(#c, :zero) + :one, #s = :s",
                names: ["#c": "count", "#s": "state"], values: [":zero": .number(0), ":one": .number(1), ":s": .s("pending")]
            )
            let first = try await table.updateItem(key: Self.key("t1"), update: increment)
            #expect(first == ["pk": .s("t1"), "count": .number(1), "state": .s("pending")])
            // The condition shares `#c` with the update: the placeholders are merged.
            let second = try await table.updateItem(
                key: Self.key("t1"), update: increment,
                condition: DynamoExpression("#c = :one", names: ["#c": "count"], values: [":one": .number(1)])
            )
            #expect(second["count"]?.int64Value == 2)
            #expect(meter.writeUnits == 1)
        }
    }

    @Test func cancelledTransactionGivesOneReasonPerWrite() async throws {
        try await Self.withTable { _, table, meter in
            try await table.putItem(["pk": .s("existing"), "v": .number(1)])
            meter.reset()
            let writes: [DynamoWrite] = [
                .put(item: ["pk": .s("new"), "v": .number(1)], condition: DynamoExpression("attribute_not_exists(pk)")),
                .conditionCheck(key: Self.key("existing"), condition: DynamoExpression("#v = :v", names: ["#v": "v"], values: [":v": .number(2)])),
                .delete(key: Self.key("gone"), condition: nil),
            ]
            await #expect { try await table.transactWriteItems(writes) } throws: { error in
                guard let canceled = error as? DynamoTransactionCanceled else { return false }
                return canceled.reasons == ["None", "ConditionalCheckFailed", "None"] && canceled.isConflict
            }
            #expect(try await table.getItem(key: Self.key("new")) == nil)

            try await table.transactWriteItems(
                [
                    .put(item: ["pk": .s("new"), "v": .number(1)], condition: DynamoExpression("attribute_not_exists(pk)")),
                    .update(
                        key: Self.key("existing"), update: DynamoExpression("SET #v = :w", names: ["#v": "v"], values: [":w": .number(2)]),
                        condition: DynamoExpression("#v = :v", names: ["#v": "v"], values: [":v": .number(1)])
                    ),
                ], clientRequestToken: "request-1")
            #expect(try await table.getItem(key: Self.key("existing"))?["v"] == .number(2))
            #expect(try await table.getItem(key: Self.key("new")) != nil)
            // Two transactions and three gets: moto reports capacity for the gets only.
            #expect(meter.calls == 5)
            #expect(meter.writeUnits == 0)
            #expect(meter.readUnits == 1.5)
        }
    }

    @Test func queryOnTheIndexByPagesAndCounts() async throws {
        try await Self.withTable { _, table, meter in
            for number in 0..<25 {
                try await table.putItem(["pk": .s("t\(number)"), "group": .s("g1"), "due": .number(Int64(number)), "even": .bool(number % 2 == 0)])
            }
            try await table.putItem(["pk": .s("other"), "group": .s("g2"), "due": .number(3)])
            meter.reset()
            let inGroup = DynamoExpression(
                "#g = :g AND #d >= :from", names: ["#g": "group", "#d": "due"], values: [":g": .s("g1"), ":from": .number(0)])
            var dues: [Int64] = []
            var startKey: DynamoItem?
            var pages = 0
            repeat {
                let page = try await table.query(index: "byGroup", keyCondition: inGroup, limit: 10, ascending: false, startKey: startKey)
                dues += page.items.compactMap { $0["due"]?.int64Value }
                startKey = page.lastKey
                pages += 1
            } while startKey != nil && pages < 10
            #expect(dues == (0..<25).reversed().map(Int64.init))
            #expect(pages == 3)
            #expect(meter.calls == 3)
            #expect(meter.readUnits == 3)

            let even = DynamoExpression("#e = :t", names: ["#e": "even"], values: [":t": .bool(true)])
            #expect(try await table.count(index: "byGroup", keyCondition: inGroup) == 25)
            #expect(try await table.count(index: "byGroup", keyCondition: inGroup, filter: even) == 13)
            #expect(try await table.count(index: nil, keyCondition: DynamoExpression("pk = :p", values: [":p": .s("t4")])) == 1)
            #expect(try await table.scanCount(filter: nil) == 26)
            #expect(try await table.scanCount(filter: even) == 13)
        }
    }

    /// Several writers increment one counter by read-modify-write, each write a transaction
    /// conditional on the version it read. moto does not isolate transactions from one another
    /// (unserialized, this test loses increments about every other run: a transaction restores
    /// the table over a concurrent one's write), so it runs on the shared moto, whose requests are serialized: with
    /// it, every cancelled write is retried after a fresh read and the count comes out exact.
    @Test func serializedMotoKeepsConcurrentIncrementsExact() async throws {
        try await Self.withTable { moto, table, _ in
            try await table.putItem(["pk": .s("counter"), "version": .number(0), "count": .number(0)])
            let writers = 6
            let increments = 10
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<writers {
                    let writer = DynamoDB(client: try moto.client(), table: table.table)
                    group.addTask {
                        for _ in 0..<increments {
                            while true {
                                let current = try await writer.getItem(key: Self.key("counter"))
                                let version = current?["version"]?.int64Value ?? 0
                                let count = current?["count"]?.int64Value ?? 0
                                do {
                                    try await writer.transactWriteItems([
                                        .update(
                                            key: Self.key("counter"),
                                            update: DynamoExpression(
                                                "SET #v = :next, #c = :count", names: ["#v": "version", "#c": "count"],
                                                values: [":next": .number(version + 1), ":count": .number(count + 1)]),
                                            condition: DynamoExpression("#v = :v", names: ["#v": "version"], values: [":v": .number(version)])
                                        )
                                    ])
                                    break
                                } catch let canceled as DynamoTransactionCanceled where canceled.isConflict {
                                    continue // another writer got in first: read again
                                }
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let final = try await table.getItem(key: Self.key("counter"))
            #expect(final?["count"]?.int64Value == Int64(writers * increments))
            #expect(final?["version"]?.int64Value == Int64(writers * increments))
        }
    }

    /// The lock covers DynamoDB requests only: a long SQS poll in progress does not hold them up.
    @Test func serializedMotoDoesNotWaitForALongPoll() async throws {
        try await Self.withTable { moto, table, _ in
            let client = try moto.client()
            let queueURL = try await client.call(.sqs, "CreateQueue", ["QueueName": "quiet"])["QueueUrl"]?.stringValue ?? ""
            let poll = Task { try await SQS(client: client).receiveMessages(queueURL: queueURL, waitSeconds: 15) }
            try await Task.sleep(for: .milliseconds(300))
            let started = ContinuousClock.now
            try await table.putItem(["pk": .s("during-poll")])
            #expect(try await table.getItem(key: Self.key("during-poll")) != nil)
            // Held up by the poll, the put would wait for its 15 s to end.
            #expect(ContinuousClock.now - started < .seconds(10))
            #expect(try await poll.value.isEmpty)
        }
    }
}
