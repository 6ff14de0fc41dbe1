public import JSON

/// What `DescribeTable` says about a table: enough to check it has the shape the service needs.
public struct DynamoTableDescription: Sendable, Equatable {
    /// One attribute of a key schema: its name and `HASH` or `RANGE`.
    public struct KeyElement: Sendable, Equatable {
        public var name: String
        public var keyType: String
        public init(name: String, keyType: String) {
            self.name = name
            self.keyType = keyType
        }
    }

    public var name: String
    /// `CREATING`, `ACTIVE`, `UPDATING`, `DELETING`, …
    public var status: String
    /// The table's key: `[("pk", "HASH"), ("sk", "RANGE")]`.
    public var keySchema: [KeyElement]
    /// `AttributeDefinitions`: attribute name to `S`, `N` or `B`.
    public var attributeTypes: [String: String]
    /// Each global secondary index's name to its key schema.
    public var indexes: [String: [KeyElement]]
    /// DynamoDB's estimate (updated about every six hours on AWS).
    public var itemCount: Int?

    public init(
        name: String, status: String, keySchema: [KeyElement], attributeTypes: [String: String],
        indexes: [String: [KeyElement]], itemCount: Int?
    ) {
        self.name = name
        self.status = status
        self.keySchema = keySchema
        self.attributeTypes = attributeTypes
        self.indexes = indexes
        self.itemCount = itemCount
    }

    /// The description in a `DescribeTable` answer's `Table`.
    init(_ table: JSONValue) throws {
        guard let name = table["TableName"]?.stringValue, let status = table["TableStatus"]?.stringValue else {
            throw AWSResponseError(operation: "DescribeTable", reason: "the table has no TableName or TableStatus")
        }
        func keySchema(_ value: JSONValue?) -> [KeyElement] {
            (value?.arrayValue ?? []).compactMap { element in
                guard let name = element["AttributeName"]?.stringValue, let type = element["KeyType"]?.stringValue else { return nil }
                return KeyElement(name: name, keyType: type)
            }
        }
        var attributeTypes: [String: String] = [:]
        for definition in table["AttributeDefinitions"]?.arrayValue ?? [] {
            if let name = definition["AttributeName"]?.stringValue, let type = definition["AttributeType"]?.stringValue {
                attributeTypes[name] = type
            }
        }
        var indexes: [String: [KeyElement]] = [:]
        for index in table["GlobalSecondaryIndexes"]?.arrayValue ?? [] {
            if let indexName = index["IndexName"]?.stringValue { indexes[indexName] = keySchema(index["KeySchema"]) }
        }
        self.init(
            name: name, status: status, keySchema: keySchema(table["KeySchema"]), attributeTypes: attributeTypes,
            indexes: indexes, itemCount: table["ItemCount"]?.intValue
        )
    }
}

extension DynamoDB {
    /// The members of CloudFormation's `AWS::DynamoDB::Table` Properties that `CreateTable` takes as they are.
    static let createTableMembers: Set<String> = [
        "TableName", "KeySchema", "AttributeDefinitions", "GlobalSecondaryIndexes", "LocalSecondaryIndexes",
        "BillingMode", "ProvisionedThroughput", "TableClass", "DeletionProtectionEnabled", "Tags",
    ]

    /// The table's description.
    /// - Throws: `AWSError` `ResourceNotFoundException` when there is no such table.
    public func describeTable() async throws -> DynamoTableDescription {
        let response = try await send("DescribeTable", ["TableName": .string(table)], secrets: [])
        return try DynamoTableDescription(response["Table"] ?? .null)
    }

    /// The table's time-to-live setting: `ENABLED`, `DISABLED`, `ENABLING`, `DISABLING`, and the
    /// attribute when one is set.
    public func describeTimeToLive() async throws -> (status: String, attribute: String?) {
        let response = try await send("DescribeTimeToLive", ["TableName": .string(table)], secrets: [])
        guard let description = response["TimeToLiveDescription"], let status = description["TimeToLiveStatus"]?.stringValue else {
            throw AWSResponseError(operation: "DescribeTimeToLive", reason: "the answer has no TimeToLiveStatus")
        }
        return (status, description["AttributeName"]?.stringValue)
    }

    /// Switches on time to live with `attribute` (epoch seconds) as the expiry. AWS deletes
    /// expired items late (up to days): readers still apply their own cut-offs.
    public func updateTimeToLive(attribute: String) async throws {
        _ = try await send(
            "UpdateTimeToLive",
            ["TableName": .string(table), "TimeToLiveSpecification": ["Enabled": true, "AttributeName": .string(attribute)]],
            secrets: []
        )
    }

    /// For tests and set-up: creates a table from `request` shaped as CloudFormation's
    /// `AWS::DynamoDB::Table` Properties (TableName, KeySchema, AttributeDefinitions,
    /// GlobalSecondaryIndexes, BillingMode, …; members CreateTable does not take are left out, and
    /// an enabled `TimeToLiveSpecification` is applied afterwards), and waits until it is ACTIVE.
    public static func createTable(client: AWSClient, request: JSONObject, timeout: Duration = .seconds(60)) async throws {
        guard let name = request["TableName"]?.stringValue else {
            throw AWSResponseError(operation: "CreateTable", reason: "the request has no TableName")
        }
        let table = DynamoDB(client: client, table: name)
        _ = try await client.call(
            .dynamoDB, "CreateTable", JSONObject(request.filter { createTableMembers.contains($0.key) }.map { ($0.key, $0.value) }))
        let deadline = ContinuousClock.now + timeout
        while try await table.describeTable().status != "ACTIVE" {
            guard ContinuousClock.now < deadline else {
                throw AWSResponseError(operation: "CreateTable", reason: "\(name) was not ACTIVE within \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        if let ttl = request["TimeToLiveSpecification"], ttl["Enabled"]?.boolValue == true, let attribute = ttl["AttributeName"]?.stringValue {
            try await table.updateTimeToLive(attribute: attribute)
        }
    }
}
