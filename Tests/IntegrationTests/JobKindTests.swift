import AWS
import CallbackStore
import Foundation
import JSON
import Moto
import Relay
import Testing

/// One workflow per job kind, on the emulator: completed, failed and stopped jobs end executions
/// as the contract says, and the create form has moto create the job.
@Suite("Every job kind", .timeLimit(.minutes(3)))
struct JobKindTests {
    static let role = "arn:aws:iam::123456789012:role/SageMakerExecution"

    /// A minimal valid Create request of each kind, as moto accepts it.
    static func createRequest(_ kind: JobKind, name: String) -> JSONObject {
        let resources: JSONValue = ["InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10]
        let training: JSONObject = [
            "AlgorithmSpecification": [
                "TrainingImage": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1", "TrainingInputMode": "File",
            ],
            "RoleArn": .string(role), "OutputDataConfig": ["S3OutputPath": "s3://ml-artifacts/out"],
            "ResourceConfig": resources, "StoppingCondition": ["MaxRuntimeInSeconds": 3600],
        ]
        var request: JSONObject
        switch kind {
        case .training:
            request = training
        case .transform:
            request = [
                "ModelName": "churn-model",
                "TransformInput": ["DataSource": ["S3DataSource": ["S3DataType": "S3Prefix", "S3Uri": "s3://ml-data/score/"]]],
                "TransformOutput": ["S3OutputPath": "s3://ml-artifacts/scores/"],
                "TransformResources": ["InstanceType": "ml.m5.large", "InstanceCount": 1],
            ]
        case .tuning:
            request = [
                "HyperParameterTuningJobConfig": [
                    "Strategy": "Bayesian", "ResourceLimits": ["MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 1],
                    "HyperParameterTuningJobObjective": ["Type": "Maximize", "MetricName": "validation:auc"],
                ],
                "TrainingJobDefinition": .object(training),
            ]
        default:
            request = [
                "ProcessingResources": ["ClusterConfig": resources],
                "AppSpecification": ["ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/job:1"],
                "RoleArn": .string(role), "StoppingCondition": ["MaxRuntimeInSeconds": 3600],
            ]
        }
        request[kind.nameField] = .string(name)
        return request
    }

    /// A state machine like `infra/`'s wait-for-processing-job, for `kind`: it forwards the name
    /// field or the Create request from its input, and catches nothing (the error ends it).
    static func definition(_ kind: JobKind, requestsQueueURL: String, create: Bool) -> String {
        let body: JSONObject =
            create
            ? ["TaskToken.$": "$$.Task.Token", "ExecutionArn.$": "$$.Execution.Id", "\(kind.createOperation).$": "$.Request"]
            : ["TaskToken.$": "$$.Task.Token", "ExecutionArn.$": "$$.Execution.Id", "\(kind.nameField).$": "$.Name"]
        let machine: JSONObject = [
            "StartAt": "Wait",
            "States": [
                "Wait": [
                    "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                    "Parameters": ["QueueUrl": .string(requestsQueueURL), "MessageBody": .object(body)],
                    "TimeoutSeconds": 600, "End": true,
                ]
            ],
        ]
        return JSONValue.object(machine).serialized()
    }

    @Test("wait and create forms of each kind", arguments: [JobKind.training, .transform, .tuning], Backend.allCases)
    func kind(kind: JobKind, backend: Backend) async throws {
        let emulator = try await Emulator.start("kind-\(kind.name.lowercased())", backend: backend)
        defer { emulator.stop() }
        let relay = try await InProcessRelay.start(emulator)
        let d = emulator.deployment
        var machines: [Bool: String] = [:]
        for create in [false, true] {
            let response = try await d.client.call(
                .stepFunctions, "CreateStateMachine",
                [
                    "name": .string("\(emulator.name)-\(create ? "create" : "wait")"),
                    "definition": .string(Self.definition(kind, requestsQueueURL: d.requestsQueueURL, create: create)),
                    "roleArn": .string(Self.role), "type": "STANDARD",
                ])
            machines[create] = response["stateMachineArn"]?.stringValue
        }
        // Job names of the test's own: the emulator (and its SageMaker) may be shared.
        let prefix = emulator.name
        var executions: [String: String] = [:]
        for status in ["Completed", "Failed", "Stopped"] {
            executions[status] = try await d.startExecution(
                try #require(machines[false]), name: "\(prefix)-\(status)", input: ["Name": .string("\(prefix)-\(status.lowercased())")]
            )
        }
        let created = try await d.startExecution(
            try #require(machines[true]), name: "\(prefix)-created", input: ["Request": .object(Self.createRequest(kind, name: "\(prefix)-created"))]
        )
        try await emulator.eventually("four callbacks pending") { try await emulator.storeCounts().pending == 4 }
        try await emulator.eventually("the service creates the job in SageMaker") {
            let describe = try await d.client.call(.sageMaker, kind.describeOperation, [kind.nameField: .string("\(prefix)-created")])
            return describe[kind.nameField]?.stringValue == "\(prefix)-created"
        }

        func publish(_ name: String, _ status: String) async throws {
            var detail: JSONObject = [
                kind.nameField: .string(name), kind.statusField: .string(status),
                kind.arnField: .string("arn:aws:sagemaker:us-east-1:123456789012:\(prefix)/\(name)"),
                "LastModifiedTime": 1716112931000,
            ]
            if status == "Failed" { detail["FailureReason"] = "AlgorithmError: boom" }
            if kind == .training { detail["ModelArtifacts"] = ["S3ModelArtifacts": "s3://ml-artifacts/out/model.tar.gz"] }
            try await d.publishJobEvent(detailType: kind.detailType, detail: detail)
        }
        for status in ["Completed", "Failed", "Stopped"] { try await publish("\(prefix)-\(status.lowercased())", status) }
        try await publish("\(prefix)-created", "Completed")

        for arn in [try #require(executions["Completed"]), created] {
            let description = try await d.waitForExecution(arn)
            #expect(description["status"] == "SUCCEEDED")
            let output = try JSONValue.parse(description["output"]?.stringValue ?? "")
            #expect(output[kind.statusField] == "Completed")
            if kind == .training { #expect(output["ModelArtifacts"]?["S3ModelArtifacts"] != nil) }
        }
        for (status, error) in [("Failed", kind.failedError), ("Stopped", kind.stoppedError)] {
            let arn = try #require(executions[status])
            #expect(try await d.waitForExecution(arn)["status"] == "FAILED")
            let failed = try await d.history(arn).first { $0["type"] == "TaskFailed" }
            #expect(failed?["taskFailedEventDetails"]?["error"]?.stringValue == error)
        }
        try await relay.stop()
    }
}
