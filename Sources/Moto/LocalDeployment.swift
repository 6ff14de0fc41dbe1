public import AWS
public import Foundation
public import JSON

/// The files of `infra/`: the CloudFormation template and the example state machines, read by the
/// tests and the demo so that what they run is what users deploy.
public enum Infra {
    /// `infra/` of this package.
    public static var directory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("infra")
    }

    /// The CloudFormation template, parsed.
    public static func template() throws -> JSONObject {
        let data = try Data(contentsOf: directory.appendingPathComponent("sagemaker-callback.template.json"))
        guard let object = try JSONValue.parse(Array(data)).objectValue else {
            throw MotoUnavailable(message: "the template is not a JSON object")
        }
        return object
    }

    /// A state machine definition from `infra/state-machines/NAME.asl.json`, parsed.
    public static func stateMachine(_ name: String) throws -> JSONValue {
        let data = try Data(contentsOf: directory.appendingPathComponent("state-machines/\(name).asl.json"))
        return try JSONValue.parse(Array(data))
    }

    /// The definition with `${RequestsQueueUrl}` replaced, as CloudFormation's DefinitionSubstitutions would.
    public static func stateMachineDefinition(_ name: String, requestsQueueURL: String) throws -> String {
        try stateMachine(name).serialized().replacingOccurrences(of: "${RequestsQueueUrl}", with: requestsQueueURL)
    }

    /// The event pattern of the template's rule for SageMaker job state changes.
    public static func jobEventPattern() throws -> JSONValue {
        try eventPattern(source: "aws.sagemaker")
    }

    /// The event pattern of the template's rule for Step Functions execution status changes, with
    /// its `{"Ref": ...}` list of the stack's state machines replaced by `stateMachineArns`.
    public static func executionEventPattern(stateMachineArns: [String]) throws -> JSONValue {
        guard case .object(var pattern) = try eventPattern(source: "aws.states"), case .object(var detail)? = pattern["detail"] else {
            throw MotoUnavailable(message: "the template's aws.states rule has no detail pattern")
        }
        detail["stateMachineArn"] = .array(stateMachineArns.map(JSONValue.string))
        pattern["detail"] = .object(detail)
        return .object(pattern)
    }

    /// The `Properties` of the template's one `AWS::DynamoDB::Table` (the store's table).
    public static func stateTableProperties() throws -> JSONObject {
        let resources = try template()["Resources"]?.objectValue ?? [:]
        let tables = resources.values.filter { $0["Type"]?.stringValue == "AWS::DynamoDB::Table" }
        guard tables.count == 1, let properties = tables[0]["Properties"]?.objectValue else {
            throw MotoUnavailable(message: "the template must declare exactly one AWS::DynamoDB::Table")
        }
        return properties
    }

    /// Creates the template's table on `client`'s DynamoDB under `name` (keys, indexes and TTL as
    /// declared), and waits until it is active.
    public static func createStateTable(named name: String, on client: AWSClient) async throws {
        var request = try stateTableProperties()
        request["TableName"] = .string(name)
        try await DynamoDB.createTable(client: client, request: request)
    }

    /// The event pattern of the template's EventBridge rule for events from `source`, as written.
    public static func eventPattern(source: String) throws -> JSONValue {
        let resources = try template()["Resources"]?.objectValue ?? [:]
        for (_, resource) in resources where resource["Type"]?.stringValue == "AWS::Events::Rule" {
            if let pattern = resource["Properties"]?["EventPattern"], pattern["source"]?.arrayValue?.contains(.string(source)) == true {
                return pattern
            }
        }
        throw MotoUnavailable(message: "the template has no EventBridge rule for \(source)")
    }
}

/// What `infra/` deploys, created on the emulator: the two queues, the EventBridge rules feeding
/// the events queue (SageMaker job state changes, and the ends of the deployment's executions),
/// and the example state machines.
public struct LocalDeployment: Sendable {
    public let client: AWSClient
    public let eventsQueueURL: String
    public let requestsQueueURL: String
    /// State machine ARNs by definition name (`wait-for-processing-job`, …).
    public let stateMachines: [String: String]
    /// The EventBridge bus the rules are on and events are published to: `default`, as in the
    /// template, or one of the deployment's own (see ``create(on:prefix:ownEventBus:)``).
    public let eventBusName: String

    /// The example state machines of `infra/state-machines/`.
    public static let stateMachineNames = ["wait-for-processing-job", "start-and-wait-processing-job", "train-with-heartbeats"]

    /// Creates everything with names that start with `prefix`, so deployments never collide.
    ///
    /// `ownEventBus` puts the rules on a bus named `PREFIX-bus` instead of the default one, for
    /// deployments that share an emulator: on one bus every deployment's SageMaker rule (they all
    /// have the template's pattern) would route every job event to every events queue.
    public static func create(on client: AWSClient, prefix: String, ownEventBus: Bool = false) async throws -> LocalDeployment {
        let bus = ownEventBus ? "\(prefix)-bus" : "default"
        if ownEventBus { _ = try await client.call(.eventBridge, "CreateEventBus", ["Name": .string(bus)]) }
        let events = try await client.call(.sqs, "CreateQueue", ["QueueName": .string("\(prefix)-events")])["QueueUrl"]?.stringValue ?? ""
        let requests = try await client.call(.sqs, "CreateQueue", ["QueueName": .string("\(prefix)-requests")])["QueueUrl"]?.stringValue ?? ""
        let attributes = try await client.call(.sqs, "GetQueueAttributes", ["QueueUrl": .string(events), "AttributeNames": ["QueueArn"]])
        let eventsArn = attributes["Attributes"]?["QueueArn"]?.stringValue ?? ""

        try await putRule("\(prefix)-sagemaker-job-state-changes", pattern: try Infra.jobEventPattern(), target: eventsArn, bus: bus, on: client)

        var machines: [String: String] = [:]
        for name in stateMachineNames {
            let response = try await client.call(
                .stepFunctions, "CreateStateMachine",
                [
                    "name": .string("\(prefix)-\(name)"),
                    "definition": .string(try Infra.stateMachineDefinition(name, requestsQueueURL: requests)),
                    "roleArn": .string("arn:aws:iam::\(MotoServer.accountID):role/\(prefix)-state-machine"),
                    "type": "STANDARD",
                ])
            machines[name] = response["stateMachineArn"]?.stringValue
        }
        // Only this deployment's machines, as in the template: executions of other stacks never reach its queue.
        let executions = try Infra.executionEventPattern(stateMachineArns: stateMachineNames.compactMap { machines[$0] })
        try await putRule("\(prefix)-executions", pattern: executions, target: eventsArn, bus: bus, on: client)
        return LocalDeployment(client: client, eventsQueueURL: events, requestsQueueURL: requests, stateMachines: machines, eventBusName: bus)
    }

    /// Creates (or replaces) an enabled rule with one target.
    private static func putRule(_ name: String, pattern: JSONValue, target: String, bus: String, on client: AWSClient) async throws {
        _ = try await client.call(
            .eventBridge, "PutRule",
            [
                "Name": .string(name), "EventBusName": .string(bus), "EventPattern": .string(pattern.serialized()), "State": "ENABLED",
            ])
        _ = try await client.call(
            .eventBridge, "PutTargets",
            [
                "Rule": .string(name), "EventBusName": .string(bus), "Targets": [["Id": "events-queue", "Arn": .string(target)]],
            ])
    }

    /// Starts an execution (always named: moto needs it) and returns its ARN.
    public func startExecution(_ stateMachine: String, name: String, input: JSONObject) async throws -> String {
        let response = try await client.call(
            .stepFunctions, "StartExecution",
            [
                "stateMachineArn": .string(stateMachines[stateMachine] ?? stateMachine),
                "name": .string(name),
                "input": .string(JSONValue.object(input).serialized()),
            ])
        return response["executionArn"]?.stringValue ?? ""
    }

    /// DescribeExecution.
    public func describeExecution(_ arn: String) async throws -> JSONObject {
        try await client.call(.stepFunctions, "DescribeExecution", ["executionArn": .string(arn)])
    }

    /// Waits until the execution leaves RUNNING, and returns its description.
    public func waitForExecution(_ arn: String, timeout: Duration = .seconds(60)) async throws -> JSONObject {
        let deadline = ContinuousClock.now + timeout
        while true {
            let description = try await describeExecution(arn)
            if description["status"]?.stringValue != "RUNNING" { return description }
            guard ContinuousClock.now < deadline else {
                throw MotoUnavailable(message: "execution \(arn) still RUNNING after \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// The execution's history events, oldest first.
    public func history(_ arn: String) async throws -> [JSONObject] {
        let response = try await client.call(.stepFunctions, "GetExecutionHistory", ["executionArn": .string(arn), "maxResults": 1000])
        return (response["events"]?.arrayValue ?? []).compactMap(\.objectValue)
    }

    /// Publishes a SageMaker job state change through EventBridge, as SageMaker would; the rule
    /// routes it to the events queue.
    public func publishJobEvent(detailType: String, detail: JSONObject) async throws {
        let resources = detail.first { $0.key.hasSuffix("JobArn") }.map { [$0.value] } ?? []
        try await putEvent(source: "aws.sagemaker", detailType: detailType, detail: detail, resources: resources)
    }

    /// Publishes a Step Functions execution status change through EventBridge, as Step Functions
    /// would (name from the ARN, epoch-millis dates, `stopDate` null while RUNNING); the execution
    /// rule routes it to the events queue only for this deployment's state machines.
    public func publishExecutionStatus(executionArn: String, stateMachineArn: String, status: String) async throws {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let errors: [String: String] = ["TIMED_OUT": "States.Timeout", "FAILED": "States.TaskFailed"]
        let detail: JSONObject = [
            "executionArn": .string(executionArn),
            "stateMachineArn": .string(stateMachineArn),
            "name": .string(executionArn.split(separator: ":").last.map(String.init) ?? executionArn),
            "status": .string(status),
            "startDate": JSONValue(now - 60_000),
            "stopDate": status == "RUNNING" ? .null : JSONValue(now),
            "input": "{}",
            "inputDetails": ["included": true],
            "output": status == "SUCCEEDED" ? "{}" : .null,
            "outputDetails": status == "SUCCEEDED" ? ["included": true] : .null,
            "error": errors[status].map(JSONValue.string) ?? .null,
            "cause": .null,
        ]
        try await putEvent(
            source: "aws.states", detailType: "Step Functions Execution Status Change", detail: detail, resources: [.string(executionArn)])
    }

    /// One PutEvents entry; a failed entry is an error.
    private func putEvent(source: String, detailType: String, detail: JSONObject, resources: [JSONValue]) async throws {
        let response = try await client.call(
            .eventBridge, "PutEvents",
            [
                "Entries": [
                    [
                        "EventBusName": .string(eventBusName),
                        "Source": .string(source),
                        "DetailType": .string(detailType),
                        "Detail": .string(JSONValue.object(detail).serialized()),
                        "Resources": .array(resources),
                    ]
                ]
            ])
        if let failed = response["FailedEntryCount"]?.int64Value, failed > 0 {
            throw MotoUnavailable(message: "PutEvents failed for \(failed) entries")
        }
    }

    /// Publishes a processing job state change with a realistic detail.
    public func publishProcessingJob(_ name: String, status: String, failureReason: String? = nil, extra: JSONObject = [:]) async throws {
        try await publishJobEvent(
            detailType: "SageMaker Processing Job State Change",
            detail: Self.processingDetail(name, status: status, failureReason: failureReason, extra: extra))
    }

    /// A processing job description as SageMaker puts it in events.
    public static func processingDetail(_ name: String, status: String, failureReason: String? = nil, extra: JSONObject = [:]) -> JSONObject {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        var detail: JSONObject = [
            "ProcessingJobName": .string(name),
            "ProcessingJobArn": .string("arn:aws:sagemaker:\(MotoServer.region):\(MotoServer.accountID):processing-job/\(name)"),
            "ProcessingJobStatus": .string(status),
            "ProcessingResources": ["ClusterConfig": ["InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 30]],
            "AppSpecification": ["ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/preprocess:latest"],
            "RoleArn": "arn:aws:iam::123456789012:role/SageMakerExecution",
            "CreationTime": JSONValue(now - 60_000),
            "LastModifiedTime": JSONValue(now),
            "Tags": ["team": "ml-platform"],
        ]
        if let failureReason {
            detail["FailureReason"] = .string(failureReason)
            detail["ExitMessage"] = "exit status 1"
        }
        for (key, value) in extra { detail[key] = value }
        return detail
    }

    /// Sends a message straight to the requests queue (as a state machine task would).
    public func sendRegistration(_ body: JSONObject) async throws {
        _ = try await SQS(client: client).sendMessage(queueURL: requestsQueueURL, body: JSONValue.object(body).serialized())
    }

    /// ApproximateNumberOfMessages + NotVisible of a queue.
    public func queueDepth(_ queueURL: String) async throws -> Int {
        let response = try await client.call(
            .sqs, "GetQueueAttributes",
            [
                "QueueUrl": .string(queueURL),
                "AttributeNames": ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            ])
        let attributes = response["Attributes"]
        return ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"].reduce(0) { sum, key in
            sum + (attributes?[key]?.stringValue.flatMap(Int.init) ?? 0)
        }
    }
}
