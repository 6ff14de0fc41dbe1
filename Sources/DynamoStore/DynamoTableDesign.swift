public import AWS
public import JSON

/// The table `DynamoStore` needs: one string key `pk`, three sparse time-ordered indexes and a
/// TTL attribute. `infra/sagemaker-callback.template.json` declares exactly this; `doctor` and
/// start-up check a table against it.
///
/// Items, by the prefix of `pk`:
/// - `T#<token hash>`: one task token — its pending callback (`p`), its closed record (`c`), and
///   the ids and actions of its queued outbox entries (`q`). Closing a token is a conditional
///   write of this one item, so a token can be closed only while it is pending, and only once.
/// - `J#<kind>#<job name>`: one job — the hashes of the tokens waiting for it (`t`, a superset:
///   the token items are the truth) and its first terminal event (`e`). Every registration for
///   the job and every terminal event for it writes this item conditioned on the version it read,
///   so a registration and its event handled at once by two replicas are always correlated.
/// - `X#<execution ARN>`: one Step Functions execution — its waiting tokens and how it ended.
/// - `O#<id>`: one outbox entry, leased to the replica that delivers it (`owner`, `leaseUntil`).
/// - `R#<id>`: one rejected message (bounded by TTL).
/// - `L#<name>`: a fleet-wide lease (heartbeats, the sweep, expiry).
///
/// Every item but leases and rejected messages carries a version `v`; every write of a decision
/// is conditioned on the versions its decision read.
public enum DynamoTableDesign {
    /// The partition key: the only key of the table.
    public static let partitionKey = "pk"
    /// The TTL attribute (epoch seconds). DynamoDB deletes late (up to days): reads apply their own cut-offs.
    public static let ttlAttribute = "expiresAt"

    /// One global secondary index: a sparse, sharded time order.
    public struct Index: Sendable, Equatable {
        public var name: String
        public var hashKey: String
        public var rangeKey: String
        /// Attributes projected besides the keys (nil: keys only).
        public var included: [String]?
    }

    /// Pending tokens by registration, outbox entries by next attempt, early events and rejected
    /// messages by arrival.
    public static let byTime = Index(name: "by-time", hashKey: "g1pk", rangeKey: "g1sk", included: ["leaseUntil", "owner"])
    /// Tokens that asked for heartbeats, by their last heartbeat (or registration).
    public static let heartbeats = Index(name: "heartbeats", hashKey: "g2pk", rangeKey: "g2sk", included: nil)
    /// Tokens by when the safety sweep is due: never checked (by registration) or re-check time.
    public static let sweep = Index(name: "sweep", hashKey: "g3pk", rangeKey: "g3sk", included: nil)

    public static let indexes = [byTime, heartbeats, sweep]

    /// The indexes as the capacity meter computes their writes.
    public static var capacityIndexes: [DynamoCapacityRules.Index] {
        indexes.map { DynamoCapacityRules.Index(name: $0.name, hashKey: $0.hashKey, rangeKey: $0.rangeKey, included: $0.included) }
    }

    /// The `CreateTable` request for a table named `name` (tests and local set-ups; production
    /// tables come from the template).
    public static func createTableRequest(name: String) -> JSONObject {
        var definitions: [JSONValue] = [["AttributeName": .string(partitionKey), "AttributeType": "S"]]
        var indexes: [JSONValue] = []
        for index in Self.indexes {
            definitions.append(["AttributeName": .string(index.hashKey), "AttributeType": "S"])
            definitions.append(["AttributeName": .string(index.rangeKey), "AttributeType": "N"])
            var projection: JSONObject = ["ProjectionType": index.included == nil ? "KEYS_ONLY" : "INCLUDE"]
            if let included = index.included { projection["NonKeyAttributes"] = .array(included.map(JSONValue.string)) }
            indexes.append([
                "IndexName": .string(index.name),
                "KeySchema": [
                    ["AttributeName": .string(index.hashKey), "KeyType": "HASH"],
                    ["AttributeName": .string(index.rangeKey), "KeyType": "RANGE"],
                ],
                "Projection": .object(projection),
            ])
        }
        return [
            "TableName": .string(name),
            "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [["AttributeName": .string(partitionKey), "KeyType": "HASH"]],
            "AttributeDefinitions": .array(definitions),
            "GlobalSecondaryIndexes": .array(indexes),
        ]
    }

    /// What is wrong with a table for this design, one sentence each; empty when it fits.
    public static func problems(with table: DynamoTableDescription) -> [String] {
        var problems: [String] = []
        let keys = table.keySchema.map { "\($0.name) \($0.keyType)" }
        if keys != ["\(partitionKey) HASH"] {
            problems.append("its key schema is [\(keys.joined(separator: ", "))], not [\(partitionKey) HASH]")
        } else if table.attributeTypes[partitionKey] != "S" {
            problems.append("its key \(partitionKey) is not a string")
        }
        for index in indexes {
            guard let schema = table.indexes[index.name] else {
                problems.append("it has no global secondary index \(index.name)")
                continue
            }
            let found = schema.map { "\($0.name) \($0.keyType)" }
            if found != ["\(index.hashKey) HASH", "\(index.rangeKey) RANGE"] {
                problems.append(
                    "its index \(index.name) has keys [\(found.joined(separator: ", "))], not [\(index.hashKey) HASH, \(index.rangeKey) RANGE]")
            } else if table.attributeTypes[index.hashKey] != "S" || table.attributeTypes[index.rangeKey] != "N" {
                problems.append("its index \(index.name) needs \(index.hashKey) a string and \(index.rangeKey) a number")
            }
        }
        return problems
    }
}
