import JSON
import Moto
import Testing

/// What users deploy is what the tests and the demo run.
@Suite("infra/")
struct InfraTests {
    @Test("each state machine in the template is its .asl.json file, exactly", arguments: LocalDeployment.stateMachineNames)
    func definitionsMatch(name: String) throws {
        let file = try Infra.stateMachine(name)
        let resources = try #require(try Infra.template()["Resources"]?.objectValue)
        let embedded = resources.compactMap { $0.value["Properties"]?["Definition"] }
        #expect(embedded.contains(file), "the template does not embed \(name).asl.json as it is")
        #expect(file.serialized().contains("${RequestsQueueUrl}"))
    }

    @Test("the rule routes SageMaker processing job state changes")
    func rule() throws {
        let pattern = try Infra.jobEventPattern()
        #expect(pattern["source"] == ["aws.sagemaker"])
        #expect(pattern["detail-type"]?.arrayValue?.contains("SageMaker Processing Job State Change") == true)
    }
}
