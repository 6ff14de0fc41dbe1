import AWS
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
        return Set(statements.filter { $0["Effect"] == "Allow" }.flatMap { statement -> [String] in
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

/// The execution rule on the emulator, as `LocalDeployment` puts it.
@Suite("infra/ on the emulator", .timeLimit(.minutes(1)))
struct InfraEmulatorTests {
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
        try await d.publishExecutionStatus(executionArn: foreign.replacingOccurrences(of: ":stateMachine:", with: ":execution:") + ":x",
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
