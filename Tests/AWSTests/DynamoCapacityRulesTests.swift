import AWS
import JSON
import Moto
import Testing

/// The size and unit rules against the worked examples of AWS's Developer Guide ("DynamoDB item
/// sizes and formats", "DynamoDB read and write operations", the on-demand pricing page).
@Suite("DynamoDB capacity rules") struct DynamoCapacityRulesTests {
    @Test func sizesFollowTheItemSizesPage() {
        // Strings: name bytes + UTF-8 bytes.
        #expect(DynamoCapacityRules.size(of: ["pk": .s("abc")]) == 5)
        #expect(DynamoCapacityRules.size(of: ["é": .s("ü")]) == 4)
        // Numbers: ~1 byte per two significant digits + 1; leading and trailing zeros trimmed.
        #expect(DynamoCapacityRules.numberSize("123") == 3)
        #expect(DynamoCapacityRules.numberSize("1700000000123") == 8)
        #expect(DynamoCapacityRules.numberSize("-0012.500") == 3)
        #expect(DynamoCapacityRules.numberSize("1000") == 2)
        #expect(DynamoCapacityRules.numberSize("0") == 2)
        // Booleans and null: 1 byte.
        #expect(DynamoCapacityRules.size(of: ["ok": .bool(true), "no": .null]) == 6)
        // Lists and maps: 3 bytes + each element (a map's with its name) + 1 byte per element.
        #expect(DynamoCapacityRules.size(of: .l([])) == 3)
        #expect(DynamoCapacityRules.size(of: .m([:])) == 3)
        #expect(DynamoCapacityRules.size(of: ["e": .m(["st": .s("Completed"), "ra": .number(12)])]) == 1 + 3 + (2 + 9 + 1) + (2 + 2 + 1))
        #expect(DynamoCapacityRules.size(of: .l([.s("ab"), .bool(false)])) == 3 + 3 + 2)
        // String sets: the sum of their strings.
        #expect(DynamoCapacityRules.size(of: ["t": .ss(["abc", "de"])]) == 6)
    }

    @Test func readUnitsRoundUpTo4KB() {
        // "reading a 3,500-byte item consumes the same throughput as reading a 4 KB item"
        #expect(DynamoCapacityRules.readUnits(bytes: 3_500, consistent: true) == 1)
        #expect(DynamoCapacityRules.readUnits(bytes: 3_500, consistent: false) == 0.5)
        // "if your item size is 8 KB, you require 2 read units ... 1 if eventually consistent"
        #expect(DynamoCapacityRules.readUnits(bytes: 8 * 1_024, consistent: true) == 2)
        #expect(DynamoCapacityRules.readUnits(bytes: 8 * 1_024, consistent: false) == 1)
        // "If you read a 10 KB item, DynamoDB rounds the item size to 12 KB"
        #expect(DynamoCapacityRules.readUnits(bytes: 10 * 1_024, consistent: true) == 3)
        // BatchGetItem of 1.5 KB and 6.5 KB items: each rounded, 4 KB + 8 KB = 12 KB, 3 units.
        let batch = [1_536, 6_656].map { DynamoCapacityRules.readUnits(bytes: $0, consistent: true) }.reduce(0, +)
        #expect(batch == 3)
        // A missing item still costs the minimum.
        #expect(DynamoCapacityRules.readUnits(bytes: 0, consistent: true) == 1)
    }

    @Test func writeUnitsRoundUpTo1KB() {
        #expect(DynamoCapacityRules.writeUnits(bytes: 0) == 1)
        #expect(DynamoCapacityRules.writeUnits(bytes: 500) == 1)
        #expect(DynamoCapacityRules.writeUnits(bytes: 1_024) == 1)
        #expect(DynamoCapacityRules.writeUnits(bytes: 1_025) == 2)
        // A transactional write of a 3 KB item: 2 × 3 = 6 units.
        #expect(2 * DynamoCapacityRules.writeUnits(bytes: 3 * 1_024) == 6)
    }

    @Test func indexWritesFollowTheGSIPage() {
        let index = DynamoCapacityRules.Index(name: "by-time", hashKey: "g1pk", rangeKey: "g1sk", included: ["owner"])
        let key = ["pk"]
        let plain: DynamoItem = ["pk": .s("T#1"), "p": .s("x")]
        let indexed: DynamoItem = ["pk": .s("T#1"), "g1pk": .s("pending#0"), "g1sk": .number(5), "p": .s("x")]
        // Not in the index before or after: nothing.
        #expect(DynamoCapacityRules.indexWriteUnits(before: nil, after: plain, index: index, tableKey: key) == 0)
        // Enters or leaves the index: one write; a non-projected change: nothing.
        #expect(DynamoCapacityRules.indexWriteUnits(before: plain, after: indexed, index: index, tableKey: key) == 1)
        #expect(DynamoCapacityRules.indexWriteUnits(before: indexed, after: nil, index: index, tableKey: key) == 1)
        var other = indexed
        other["p"] = .s("y")
        #expect(DynamoCapacityRules.indexWriteUnits(before: indexed, after: other, index: index, tableKey: key) == 0)
        // A projected attribute changes: one write; an index key changes: two (delete, put).
        other["owner"] = .s("replica")
        #expect(DynamoCapacityRules.indexWriteUnits(before: indexed, after: other, index: index, tableKey: key) == 1)
        other["g1sk"] = .number(6)
        #expect(DynamoCapacityRules.indexWriteUnits(before: indexed, after: other, index: index, tableKey: key) == 2)
        // The entry is the table key, the index keys and the projection only.
        #expect(
            DynamoCapacityRules.entry(of: other, in: index, tableKey: key) == [
                "pk": .s("T#1"), "g1pk": .s("pending#0"), "g1sk": .number(6), "owner": .s("replica"),
            ])
    }

    /// The client computes units from what it sends and receives, beside moto's poor reports.
    @Test(.timeLimit(.minutes(2))) func clientComputesUnitsBesideReportedOnes() async throws {
        try await DynamoDBTests.withTable { moto, created, _ in
            let meter = DynamoCapacityMeter()
            let index = DynamoCapacityRules.Index(name: "byGroup", hashKey: "group", rangeKey: "due", included: nil)
            let table = DynamoDB(client: try moto.client(), table: created.table, meter: meter, tableKey: ["pk"], indexes: [index])
            let big: DynamoItem = ["pk": .s("A#1"), "body": .s(String(repeating: "x", count: 2_000))] // 2,009 B: 2 units
            try await table.putItem(big)
            #expect(meter.computedWriteUnits == 2)
            #expect(meter.writeUnits == 1) // moto: 1 per PutItem whatever the size
            // A transaction: twice each write; the delete charged on the item it deletes, as read.
            meter.reset()
            let small: DynamoItem = ["pk": .s("A#2"), "group": .s("g"), "due": .number(1)]
            try await table.transactWriteItems(
                [.put(item: small, condition: nil), .delete(key: ["pk": .s("A#1")], condition: nil)], previous: [nil, big])
            // put 2×1 + its index entry 1 + delete 2×2.
            #expect(meter.computedWriteUnits == 7)
            #expect(meter.writeUnits == 0) // moto reports nothing for transactions
            #expect(meter.snapshot().byKind["A"]?.writes == 2)
            #expect(meter.snapshot().byKind["index:byGroup"]?.writeUnits == 1)
            // Reads: a strongly consistent get, a missing one, an eventually consistent query page.
            meter.reset()
            _ = try await table.getItem(key: ["pk": .s("A#2")])
            _ = try await table.getItem(key: ["pk": .s("A#1")])
            _ = try await table.query(index: "byGroup", keyCondition: DynamoExpression("#g = :g", names: ["#g": "group"], values: [":g": .s("g")]))
            #expect(meter.computedReadUnits == 2.5)
            #expect(meter.snapshot().writesWithoutPrevious == 0)
        }
    }
}
