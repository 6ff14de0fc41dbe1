import AWS
import Foundation
import Logging
import DynamoStore
import CallbackStore
import JSON
import Moto
import Relay
import Testing

/// What users deploy is what the tests and the demo run.
@Suite("infra/")
struct InfraTests {
    /// The statuses that end an execution, which the execution rule routes.
    static let endStatuses: Set<String> = ["ABORTED", "TIMED_OUT", "FAILED", "SUCCEEDED"]

    static func resources() throws -> JSONObject {
        try #require(try Infra.template()["Resources"]?.objectValue)
    }

    @Test("each state machine in the template is its .asl.json file, exactly", arguments: LocalDeployment.stateMachineNames)
    func definitionsMatch(name: String) throws {
        let file = try Infra.stateMachine(name)
        let embedded = try Self.resources().compactMap { $0.value["Properties"]?["Definition"] }
        #expect(embedded.contains(file), "the template does not embed \(name).asl.json as it is")
        #expect(file.serialized().contains("${RequestsQueueUrl}"))
    }

    @Test("the rule routes SageMaker processing job state changes")
    func rule() throws {
        let pattern = try Infra.jobEventPattern()
        #expect(pattern["source"] == ["aws.sagemaker"])
        #expect(pattern["detail-type"]?.arrayValue?.contains("SageMaker Processing Job State Change") == true)
    }

    @Test("the execution rule routes the ends of exactly the template's own state machines to the events queue")
    func executionRule() throws {
        let resources = try Self.resources()
        let machines = Set(resources.filter { $0.value["Type"] == "AWS::StepFunctions::StateMachine" }.map(\.key))
        #expect(machines.count == LocalDeployment.stateMachineNames.count)

        let pattern = try Infra.eventPattern(source: "aws.states")
        #expect(pattern["source"] == ["aws.states"])
        #expect(pattern["detail-type"] == ["Step Functions Execution Status Change"])
        #expect(Set(pattern["detail"]?["status"]?.arrayValue?.compactMap(\.stringValue) ?? []) == Self.endStatuses)
        let refs = pattern["detail"]?["stateMachineArn"]?.arrayValue ?? []
        #expect(refs.count == machines.count)
        #expect(Set(refs.compactMap { $0["Ref"]?.stringValue }) == machines)

        // Same target, retries and dead-letter queue as the SageMaker rule.
        let rules = resources.filter { $0.value["Type"] == "AWS::Events::Rule" }
        let targets = rules.map { $0.value["Properties"]?["Targets"] }
        #expect(rules.count == 2)
        #expect(targets[0] != nil && targets[0] == targets[1])
        #expect(targets[0]?[0]?["Arn"] == ["Fn::GetAtt": ["EventsQueue", "Arn"]])

        // Both queues EventBridge writes to let every rule send.
        for policy in ["EventsQueuePolicy", "EventsDeadLetterQueuePolicy"] {
            let statement = resources[policy]?["Properties"]?["PolicyDocument"]?["Statement"]?[0]
            let sources = statement?["Condition"]?["ArnEquals"]?["aws:SourceArn"]?.arrayValue ?? []
            #expect(Set(sources) == Set(rules.map { ["Fn::GetAtt": [.string($0.key), "Arn"]] }), "\(policy)")
        }
    }

    /// Every action the service role's inline policies allow.
    static func serviceActions() throws -> Set<String> {
        let policies = try Self.resources()["ServiceRole"]?["Properties"]?["Policies"]?.arrayValue ?? []
        let statements = policies.flatMap { $0["PolicyDocument"]?["Statement"]?.arrayValue ?? [] }
        return Set(
            statements.filter { $0["Effect"] == "Allow" }.flatMap { statement -> [String] in
                statement["Action"]?.stringValue.map { [$0] } ?? statement["Action"]?.arrayValue?.compactMap(\.stringValue) ?? []
            })
    }

    @Test("the service role may describe and stop every job kind", arguments: JobKind.all)
    func serviceRoleStopsJobs(kind: JobKind) throws {
        let actions = try Self.serviceActions()
        #expect(actions.contains("sagemaker:Stop\(kind.name)"))
        #expect(actions.contains("sagemaker:\(kind.describeOperation)"))
    }

    @Test("the service role may send heartbeats")
    func serviceRoleHeartbeats() throws {
        #expect(try Self.serviceActions().isSuperset(of: ["states:SendTaskHeartbeat", "states:SendTaskSuccess", "states:SendTaskFailure"]))
    }

    @Test("train-with-heartbeats asks for heartbeats and catches their absence")
    func trainWithHeartbeats() throws {
        let machine = try Infra.stateMachine("train-with-heartbeats")
        let start = try #require(machine["StartAt"]?.stringValue)
        let task = try #require(machine["States"]?[start])
        #expect(task["Resource"] == "arn:aws:states:::sqs:sendMessage.waitForTaskToken")
        #expect(task["Parameters"]?["MessageBody"]?["Heartbeat"] == true)
        #expect(task["Parameters"]?["MessageBody"]?["ExecutionArn.$"] == "$$.Execution.Id")
        let heartbeat = try #require(task["HeartbeatSeconds"]?.intValue)
        #expect(heartbeat > 60, "HeartbeatSeconds must outlast the service's default 60 s interval")
        #expect(heartbeat < (task["TimeoutSeconds"]?.intValue ?? 0))

        // A heartbeat timeout is States.Timeout (States.TaskFailed does not match it).
        let catchers = task["Catch"]?.arrayValue ?? []
        let timeout = try #require(catchers.first { $0["ErrorEquals"]?.arrayValue?.contains("States.Timeout") == true })
        let next = try #require(timeout["Next"]?.stringValue)
        let fail = machine["States"]?[next]
        #expect(fail?["Type"] == "Fail")
        #expect(fail?["Error"] == "TrainingJobWaitTimedOut")
        let caught = Set(catchers.flatMap { $0["ErrorEquals"]?.arrayValue?.compactMap(\.stringValue) ?? [] })
        #expect(caught.isSuperset(of: ["SageMaker.TrainingJobFailed", "SageMaker.TrainingJobStopped", "SageMaker.JobNotFound"]))
    }
}

extension InfraTests {
    /// The DynamoDB store's table and the service on ECS Fargate (`DeployService=true`), as the
    /// template declares them; and the single-host systemd unit. (Nested, so that
    /// `--filter InfraTests` runs it.)
    @Suite("deployment")
    struct Deployment {
        static func resources() throws -> JSONObject { try InfraTests.resources() }

        /// The one resource of `type`, with its logical ID.
        static func only(_ type: String) throws -> (id: String, resource: JSONValue) {
            let matches = try resources().filter { $0.value["Type"]?.stringValue == type }
            try #require(matches.count == 1, "expected exactly one \(type), found \(matches.count)")
            return (matches[0].key, matches[0].value)
        }

        static func key(_ name: String, _ type: String) -> JSONValue { ["AttributeName": .string(name), "KeyType": .string(type)] }

        @Test("the template has exactly one DynamoDB table, with the store's key schema, indexes and TTL, written as plain values")
        func stateTable() throws {
            let (_, table) = try Self.only("AWS::DynamoDB::Table")
            let p = try #require(table["Properties"])
            #expect(p["BillingMode"] == "PAY_PER_REQUEST")
            #expect(p["KeySchema"] == [Self.key("pk", "HASH")])
            let definitions = Dictionary(
                uniqueKeysWithValues: (p["AttributeDefinitions"]?.arrayValue ?? []).compactMap { d in
                    d["AttributeName"]?.stringValue.map { ($0, d["AttributeType"]?.stringValue ?? "?") }
                })
            #expect(definitions == ["pk": "S", "g1pk": "S", "g1sk": "N", "g2pk": "S", "g2sk": "N", "g3pk": "S", "g3sk": "N"])
            #expect(p["AttributeDefinitions"]?.arrayValue?.count == 7)

            let indexes = Dictionary(
                uniqueKeysWithValues: (p["GlobalSecondaryIndexes"]?.arrayValue ?? []).compactMap { i in
                    i["IndexName"]?.stringValue.map { ($0, i) }
                })
            #expect(Set(indexes.keys) == ["by-time", "heartbeats", "sweep"])
            #expect(p["GlobalSecondaryIndexes"]?.arrayValue?.count == 3)
            #expect(indexes["by-time"]?["KeySchema"] == [Self.key("g1pk", "HASH"), Self.key("g1sk", "RANGE")])
            #expect(indexes["by-time"]?["Projection"] == ["ProjectionType": "INCLUDE", "NonKeyAttributes": ["leaseUntil", "owner"]])
            #expect(indexes["heartbeats"]?["KeySchema"] == [Self.key("g2pk", "HASH"), Self.key("g2sk", "RANGE")])
            #expect(indexes["heartbeats"]?["Projection"] == ["ProjectionType": "KEYS_ONLY"])
            #expect(indexes["sweep"]?["KeySchema"] == [Self.key("g3pk", "HASH"), Self.key("g3sk", "RANGE")])
            #expect(indexes["sweep"]?["Projection"] == ["ProjectionType": "KEYS_ONLY"])
            // On-demand: no throughput anywhere.
            #expect(p["ProvisionedThroughput"] == nil)
            #expect(indexes.values.allSatisfy { $0["ProvisionedThroughput"] == nil })

            #expect(p["TimeToLiveSpecification"] == ["AttributeName": "expiresAt", "Enabled": true])
            #expect(p["PointInTimeRecoverySpecification"]?["PointInTimeRecoveryEnabled"] == true)
            #expect(p["SSESpecification"]?["SSEEnabled"] == true)
            #expect(table["DeletionPolicy"] == "Retain")
            #expect(table["UpdateReplacePolicy"] == "Retain")
            #expect(table["Condition"] == nil, "the table is deployed with or without the ECS service")

            // Tools read the schema straight from the template: no intrinsic function in it.
            for field in ["KeySchema", "AttributeDefinitions", "GlobalSecondaryIndexes"] {
                #expect(p[field]?.serialized().contains("\"Fn::") == false, "\(field)")
                #expect(p[field]?.serialized().contains("\"Ref\"") == false, "\(field)")
            }
        }

        /// The store's DynamoDB actions. IAM has no `dynamodb:TransactWriteItems`: a transaction is
        /// authorized by the Put/Update/Delete/ConditionCheckItem permissions of its parts.
        static let storeActions: Set<String> = [
            "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
            "dynamodb:Query", "dynamodb:Scan", "dynamodb:ConditionCheckItem", "dynamodb:DescribeTable", "dynamodb:DescribeTimeToLive",
        ]

        static func actions(_ statement: JSONValue) -> [String] {
            statement["Action"]?.stringValue.map { [$0] } ?? statement["Action"]?.arrayValue?.compactMap(\.stringValue) ?? []
        }

        @Test("the task role is the service role; its DynamoDB statement names only the table and its indexes, and only the store's actions")
        func taskRoleDynamoDB() throws {
            let resources = try Self.resources()
            let (tableID, _) = try Self.only("AWS::DynamoDB::Table")
            let (_, taskDefinition) = try Self.only("AWS::ECS::TaskDefinition")
            let roleRef = try #require(taskDefinition["Properties"]?["TaskRoleArn"])
            #expect(roleRef == ["Fn::GetAtt": ["ServiceRole", "Arn"]], "one role, one source of truth for the service's permissions")
            let roleID = try #require(roleRef["Fn::GetAtt"]?[0]?.stringValue)

            // Every statement that reaches the role: its inline policies and any AWS::IAM::Policy attached to it.
            let inline = resources[roleID]?["Properties"]?["Policies"]?.arrayValue ?? []
            let attached = resources.values.filter {
                $0["Type"] == "AWS::IAM::Policy" && $0["Properties"]?["Roles"]?.arrayValue?.contains(["Ref": .string(roleID)]) == true
            }.map { $0["Properties"] ?? nil }
            let statements = (inline + attached).flatMap { $0["PolicyDocument"]?["Statement"]?.arrayValue ?? [] }
            let dynamo = statements.filter { Self.actions($0).contains { $0.hasPrefix("dynamodb:") } }
            try #require(dynamo.count == 1, "one DynamoDB statement")
            let statement = dynamo[0]
            #expect(statement["Effect"] == "Allow")
            #expect(statement["Condition"] == nil)
            #expect(Set(Self.actions(statement)) == Self.storeActions)
            #expect(Self.actions(statement).count == Self.storeActions.count)
            #expect(!Self.actions(statement).contains { $0.contains("*") })
            #expect(
                statement["Resource"] == [
                    ["Fn::GetAtt": [.string(tableID), "Arn"]],
                    ["Fn::Sub": .string("${\(tableID).Arn}/index/*")],
                ])
            // No other statement of the role grants anything on DynamoDB (no "*" action either).
            #expect(!statements.contains { s in Self.actions(s).contains { $0 == "*" || $0.hasPrefix("dynamodb:") } && s != statement })
        }

        @Test("the task definition runs serve on ARM64 Fargate with awslogs, a health check and a stop timeout past the drain")
        func taskDefinition() throws {
            let (tableID, _) = try Self.only("AWS::DynamoDB::Table")
            let (_, taskDefinition) = try Self.only("AWS::ECS::TaskDefinition")
            let p = try #require(taskDefinition["Properties"])
            #expect(p["RequiresCompatibilities"] == ["FARGATE"])
            #expect(p["NetworkMode"] == "awsvpc")
            #expect(p["RuntimePlatform"] == ["CpuArchitecture": "ARM64", "OperatingSystemFamily": "LINUX"])
            #expect(p["Cpu"] == ["Ref": "TaskCpu"])
            #expect(p["Memory"] == ["Ref": "TaskMemory"])
            let parameters = try #require(try Infra.template()["Parameters"])
            #expect(parameters["TaskCpu"]?["Default"] == "256")
            #expect(parameters["TaskMemory"]?["Default"] == "512")
            #expect(parameters["ContainerImage"] != nil)

            let containers = p["ContainerDefinitions"]?.arrayValue ?? []
            try #require(containers.count == 1)
            let container = containers[0]
            #expect(container["Image"] == ["Ref": "ContainerImage"])
            #expect(container["Command"] == ["serve"])
            #expect(container["LogConfiguration"]?["LogDriver"] == "awslogs")
            #expect(container["LogConfiguration"]?["Options"]?["awslogs-group"] != nil)

            let environment = Dictionary(
                uniqueKeysWithValues: (container["Environment"]?.arrayValue ?? []).compactMap { e in
                    e["Name"]?.stringValue.map { ($0, e["Value"] ?? .null) }
                })
            #expect(environment["SAGEMAKER_CALLBACK_EVENTS_QUEUE_URL"] == ["Ref": "EventsQueue"])
            #expect(environment["SAGEMAKER_CALLBACK_REQUESTS_QUEUE_URL"] == ["Ref": "RequestsQueue"])
            #expect(environment["SAGEMAKER_CALLBACK_DATABASE"] == ["Fn::Sub": .string("dynamodb://${\(tableID)}")])
            #expect(environment["AWS_REGION"] == ["Ref": "AWS::Region"])

            // The health check runs the binary where the image installs it.
            let health = try #require(container["HealthCheck"])
            #expect(health["Command"] == ["CMD", "/usr/local/bin/sagemaker-callback", "health"])
            for field in ["Interval", "Timeout", "Retries", "StartPeriod"] {
                #expect(health[field]?.intValue ?? 0 > 0, "HealthCheck.\(field)")
            }
            #expect((health["Timeout"]?.intValue ?? .max) < (health["Interval"]?.intValue ?? 0))
            let dockerfile = try String(contentsOf: Infra.directory.appendingPathComponent("Dockerfile"), encoding: .utf8)
            #expect(dockerfile.contains("COPY --from=build /out/sagemaker-callback /usr/local/bin/sagemaker-callback"))
            #expect(dockerfile.contains("USER 10001:10001"))

            // SIGTERM: the service cancels its long poll (up to SQS.maxWait) and gives in-flight work
            // 8 s (CallbackRelay's maximumGracefulShutdownDuration); ECS must not SIGKILL it sooner,
            // even if a poll does not cancel at once. Fargate allows at most 120 s.
            let drain = 8
            let stop = try #require(container["StopTimeout"]?.intValue)
            #expect(stop >= SQS.maxWait + drain)
            #expect(stop <= 120)
        }

        @Test(
            "alarms: either dead-letter queue not empty, the events queue's oldest message past MaxEventAgeSeconds, no running task; all notify AlarmTopicArn"
        )
        func alarms() throws {
            let resources = try Self.resources()
            let parameters = try #require(try Infra.template()["Parameters"])
            #expect(parameters["MaxEventAgeSeconds"]?["Default"]?.intValue == 300)
            #expect(parameters["AlarmTopicArn"]?["Default"] == "")
            func alarm(_ id: String) throws -> JSONValue { try #require(resources[id]?["Properties"], "\(id)") }
            for (id, queue) in [("EventsDeadLetterQueueAlarm", "EventsDeadLetterQueue"), ("RequestsDeadLetterQueueAlarm", "RequestsDeadLetterQueue")]
            {
                let p = try alarm(id)
                #expect(p["MetricName"] == "ApproximateNumberOfMessagesVisible")
                #expect(p["Dimensions"] == [["Name": "QueueName", "Value": ["Fn::GetAtt": [.string(queue), "QueueName"]]]])
                #expect(p["Threshold"]?.intValue == 0 && p["ComparisonOperator"] == "GreaterThanThreshold")
            }
            let age = try alarm("EventsQueueAgeAlarm")
            #expect(age["MetricName"] == "ApproximateAgeOfOldestMessage")
            #expect(age["Dimensions"] == [["Name": "QueueName", "Value": ["Fn::GetAtt": ["EventsQueue", "QueueName"]]]])
            #expect(age["Threshold"] == ["Ref": "MaxEventAgeSeconds"])
            let tasks = try alarm("NoRunningTasksAlarm")
            #expect(resources["NoRunningTasksAlarm"]?["Condition"] == "DeployService")
            #expect(tasks["MetricName"] == "RunningTaskCount" && tasks["TreatMissingData"] == "breaching")
            let actions: JSONValue = ["Fn::If": ["HasAlarmTopic", [["Ref": "AlarmTopicArn"]], ["Ref": "AWS::NoValue"]]]
            for id in ["EventsDeadLetterQueueAlarm", "RequestsDeadLetterQueueAlarm", "EventsQueueAgeAlarm", "NoRunningTasksAlarm"] {
                #expect(try alarm(id)["AlarmActions"] == actions, "\(id)")
            }
        }

        @Test("the dashboard shows queue depth and age, callbacks per minute (the service's EMF lines) and the dead-letter queues")
        func dashboard() throws {
            let body = try #require(Self.resources()["Dashboard"]?["Properties"]?["DashboardBody"]?["Fn::Sub"]?.stringValue)
            let widgets = try #require(try JSONValue.parse(Array(body.utf8))["widgets"]?.arrayValue)
            let titles = widgets.compactMap { $0["properties"]?["title"]?.stringValue }
            #expect(titles == ["Queue depth (visible + in flight)", "Age of the oldest message (s)", "Callbacks per minute", "Dead-letter queues"])
            #expect(body.contains("\"\(OperationsRefresher.namespace)\",\"CallbacksDelivered\""))
            for queue in ["EventsQueue", "RequestsQueue", "EventsDeadLetterQueue", "RequestsDeadLetterQueue"] {
                #expect(body.contains("${\(queue).QueueName}"), "\(queue)")
            }
            // The task serves the health endpoint on loopback and logs JSON (the EMF lines with it).
            let (_, taskDefinition) = try Self.only("AWS::ECS::TaskDefinition")
            let environment = taskDefinition["Properties"]?["ContainerDefinitions"]?[0]?["Environment"]?.arrayValue ?? []
            #expect(environment.contains(["Name": "SAGEMAKER_CALLBACK_HTTP_ADDRESS", "Value": "127.0.0.1:9090"]))
            #expect(environment.contains(["Name": "LOG_FORMAT", "Value": "json"]))
        }

        @Test("the ECS service rolls back failed deployments, runs DesiredCount tasks (2 by default) and takes no traffic")
        func service() throws {
            let resources = try Self.resources()
            let (_, service) = try Self.only("AWS::ECS::Service")
            let p = try #require(service["Properties"])
            #expect(p["LaunchType"] == "FARGATE")
            #expect(p["DesiredCount"] == ["Ref": "DesiredCount"])
            let parameters = try #require(try Infra.template()["Parameters"])
            #expect(parameters["DesiredCount"]?["Type"] == "Number")
            #expect(parameters["DesiredCount"]?["Default"]?.intValue == 2)
            let deployment = p["DeploymentConfiguration"]
            #expect(deployment?["DeploymentCircuitBreaker"] == ["Enable": true, "Rollback": true])
            #expect(deployment?["MinimumHealthyPercent"]?.intValue == 100)
            #expect(deployment?["MaximumPercent"]?.intValue == 200)
            #expect(p["LoadBalancers"] == nil)
            #expect(p["NetworkConfiguration"]?["AwsvpcConfiguration"]?["AssignPublicIp"] == ["Ref": "AssignPublicIp"])
            #expect(parameters["AssignPublicIp"]?["Default"] == "DISABLED")

            // The security group the stack creates has no ingress at all.
            let groups = resources.values.filter { $0["Type"] == "AWS::EC2::SecurityGroup" }
            #expect(groups.count == 1)
            #expect(groups.allSatisfy { $0["Properties"]?["SecurityGroupIngress"] == nil && $0["Properties"]?["SecurityGroupEgress"] != nil })
            #expect(!resources.values.contains { $0["Type"] == "AWS::EC2::SecurityGroupIngress" })

            let (_, cluster) = try Self.only("AWS::ECS::Cluster")
            #expect(cluster["Properties"]?["ClusterSettings"] == [["Name": "containerInsights", "Value": "enabled"]])
        }

        @Test("DeployService=false deploys the queues, rules and table without any ECS resource")
        func deployServiceCondition() throws {
            let template = try Infra.template()
            #expect(template["Parameters"]?["DeployService"]?["AllowedValues"] == ["true", "false"])
            #expect(template["Conditions"]?["DeployService"] == ["Fn::Equals": [["Ref": "DeployService"], "true"]])
            let serviceOnly: Set<String> = ["AWS::ECS::Cluster", "AWS::ECS::Service", "AWS::ECS::TaskDefinition", "AWS::EC2::SecurityGroup"]
            let resources = try Self.resources()
            for (id, resource) in resources where serviceOnly.contains(resource["Type"]?.stringValue ?? "") {
                let condition = resource["Condition"]?.stringValue
                #expect(condition == "DeployService" || condition == "CreateSecurityGroup", "\(id)")
            }
            for id in ["ServiceLogGroup", "TaskExecutionRole"] {
                #expect(resources[id]?["Condition"] == "DeployService", "\(id)")
            }
            for id in ["EventsQueue", "RequestsQueue", "SageMakerEventsRule", "ExecutionEventsRule", "ServiceRole"] {
                #expect(resources[id] != nil && resources[id]?["Condition"] == nil, "\(id)")
            }
        }

        @Test("the systemd unit runs serve with SQLite in its state directory, hardened, with a stop timeout past the drain")
        func systemdUnit() throws {
            let text = try String(contentsOf: Infra.directory.appendingPathComponent("sagemaker-callback.service"), encoding: .utf8)
            var settings: [String: [String]] = [:]
            for line in text.split(separator: "\n") where !line.hasPrefix("#") && !line.hasPrefix("[") {
                guard let equals = line.firstIndex(of: "=") else { continue }
                settings[String(line[..<equals]), default: []].append(String(line[line.index(after: equals)...]))
            }
            let exec = try #require(settings["ExecStart"]?.first)
            let words = exec.split(separator: " ").map(String.init)
            #expect(words.first == "/usr/local/bin/sagemaker-callback")
            #expect(words.dropFirst().first == "serve")
            #expect(exec.contains("--database /var/lib/sagemaker-callback/state.sqlite"))
            #expect(settings["StateDirectory"] == ["sagemaker-callback"])
            #expect(settings["EnvironmentFile"]?.isEmpty == false)
            #expect(settings["Restart"] == ["on-failure"])
            #expect(settings["KillSignal"] == ["SIGTERM"])
            #expect(settings["NoNewPrivileges"] == ["yes"])
            #expect(settings["ProtectSystem"] == ["strict"])
            #expect(settings["ReadWritePaths"] == ["/var/lib/sagemaker-callback"])
            #expect(settings["User"]?.first.map { $0 != "root" && $0 != "0" } == true)
            let stop = try #require(settings["TimeoutStopSec"]?.first.flatMap { Int($0.replacingOccurrences(of: "s", with: "")) })
            #expect(stop >= SQS.maxWait + 8)
        }
    }
}

/// The execution rule on the emulator, as `LocalDeployment` puts it.
@Suite("infra/ on the emulator", .timeLimit(.minutes(1)))
struct InfraEmulatorTests {
    @Test("the template's table is the store's design: it is created as declared, and the DynamoDB backend opens it with its TTL on")
    func stateTableFitsTheStore() async throws {
        let properties = try Infra.stateTableProperties()
        let design = DynamoTableDesign.createTableRequest(name: "x")
        for field in ["KeySchema", "BillingMode"] {
            #expect(properties[field] == design[field], "\(field)")
        }
        func set(_ value: JSONValue?) -> Set<String> { Set((value?.arrayValue ?? []).map { $0.serialized() }) }
        #expect(set(properties["AttributeDefinitions"]) == set(design["AttributeDefinitions"]))
        #expect(set(properties["GlobalSecondaryIndexes"]) == set(design["GlobalSecondaryIndexes"]))

        let emulator = try await Emulator.start("table")
        defer { emulator.stop() }
        let database = try await emulator.createStateTable()
        guard case .dynamoDB(let table) = try StoreLocation(parsing: database) else { throw StoreError(.corruptRow, "not a table") }
        let store = try await DynamoStore.open(table: table, client: emulator.deployment.client, logger: Logger(label: "test"))
        defer { store.close() }
        #expect(await store.accessProblems() == [], "TTL on expiresAt, every call allowed")
    }

    @Test("execution ends of the deployment's machines reach the events queue; others do not")
    func executionEventsRouted() async throws {
        let emulator = try await Emulator.start("infra-executions")
        defer { emulator.stop() }
        let d = emulator.deployment
        let machine = try #require(d.stateMachines["train-with-heartbeats"])
        let execution = { (name: String) in
            machine.replacingOccurrences(of: ":stateMachine:", with: ":execution:") + ":\(name)"
        }
        let foreign = "arn:aws:states:us-east-1:123456789012:stateMachine:another-stack-train"
        // Neither a foreign machine nor a status that does not end the execution is routed.
        try await d.publishExecutionStatus(
            executionArn: foreign.replacingOccurrences(of: ":stateMachine:", with: ":execution:") + ":x",
            stateMachineArn: foreign, status: "ABORTED")
        try await d.publishExecutionStatus(executionArn: execution("running"), stateMachineArn: machine, status: "RUNNING")
        for status in InfraTests.endStatuses.sorted() {
            try await d.publishExecutionStatus(executionArn: execution(status.lowercased()), stateMachineArn: machine, status: status)
        }

        let sqs = SQS(client: d.client)
        var received: [String: String] = [:]
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            // Once all four arrived, one more short poll shows nothing else is on its way.
            let messages = try await sqs.receiveMessages(queueURL: d.eventsQueueURL, waitSeconds: received.count >= 4 ? 2 : 1)
            if messages.isEmpty, received.count >= 4 { break }
            for message in messages {
                let event = try JSONValue.parse(message.body)
                #expect(event["source"] == "aws.states")
                #expect(event["detail-type"] == "Step Functions Execution Status Change")
                let arn = try #require(event["detail"]?["executionArn"]?.stringValue)
                #expect(event["resources"] == [.string(arn)])
                #expect(event["detail"]?["name"]?.stringValue == arn.split(separator: ":").last.map(String.init))
                received[arn] = event["detail"]?["status"]?.stringValue
            }
        }
        #expect(received == Dictionary(uniqueKeysWithValues: InfraTests.endStatuses.map { (execution($0.lowercased()), $0) }))
    }

    @Test("train-with-heartbeats registers with Heartbeat and its execution ARN")
    func trainWithHeartbeatsRegisters() async throws {
        let emulator = try await Emulator.start("infra-heartbeats")
        defer { emulator.stop() }
        let d = emulator.deployment
        let request: JSONObject = ["TrainingJobName": "nightly-train", "RoleArn": "arn:aws:iam::123456789012:role/SageMakerExecution"]
        let arn = try await d.startExecution("train-with-heartbeats", name: "nightly", input: ["CreateTrainingJob": .object(request)])

        let sqs = SQS(client: d.client)
        var body: JSONValue?
        let deadline = ContinuousClock.now + .seconds(30)
        while body == nil, ContinuousClock.now < deadline {
            body = try await sqs.receiveMessages(queueURL: d.requestsQueueURL, waitSeconds: 1).first.map { try JSONValue.parse($0.body) }
        }
        let registration = try #require(body)
        #expect(registration["Heartbeat"] == true)
        #expect(registration["ExecutionArn"]?.stringValue == arn)
        #expect(registration["CreateTrainingJob"] == .object(request))
        #expect(registration["TaskToken"]?.stringValue?.isEmpty == false)
    }
}
