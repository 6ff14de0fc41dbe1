import JSON
import Relay
import Testing

@Suite("Outcome shaping at the limits")
struct OutcomeTests {
    @Test("a 300 KB detail becomes valid JSON of at most 262,144 bytes, marked Truncated")
    func largeDetail() throws {
        var environment = JSONObject()
        for index in 0..<3000 { environment["VARIABLE_\(index)"] = .string(String(repeating: "v", count: 90)) }
        let detail: JSONObject = [
            "ProcessingJobName": "big-job", "ProcessingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:processing-job/big-job",
            "ProcessingJobStatus": "Completed", "Environment": .object(environment), "RoleArn": "arn:aws:iam::123456789012:role/r",
        ]
        #expect(JSONValue.object(detail).serializedByteCount > 300_000)
        let output = Outcome.boundedOutput(detail)
        #expect(output.utf8.count <= Outcome.outputLimit)
        let parsed = try #require(try JSONValue.parse(output).objectValue)
        #expect(parsed["Truncated"] == true)
        #expect(parsed["Environment"] == nil)
        #expect(parsed["RoleArn"]?.stringValue == "arn:aws:iam::123456789012:role/r")
        #expect(parsed["ProcessingJobName"] == "big-job")
    }

    @Test("a detail that fits is passed through byte for byte")
    func fits() throws {
        let text = #"{"ProcessingJobName":"j","ProcessingEndTime":1589879479000,"Ratio":1.50,"Tags":{"a":"b"}}"#
        let detail = try #require(try JSONValue.parse(text).objectValue)
        #expect(Outcome.boundedOutput(detail) == text)
    }

    @Test("the output limit holds exactly at the boundary", arguments: [262_143, 262_144, 262_145, 400_000])
    func boundary(size: Int) throws {
        let overhead = #"{"ProcessingJobName":"j","Blob":""}"#.utf8.count
        let detail: JSONObject = ["ProcessingJobName": "j", "Blob": .string(String(repeating: "b", count: size - overhead))]
        let output = Outcome.boundedOutput(detail)
        #expect(output.utf8.count <= 262_144)
        let parsed = try #require(try JSONValue.parse(output).objectValue)
        #expect((parsed["Truncated"] != nil) == (size > 262_144))
    }

    @Test("a 40,000-character failure reason is trimmed to the cause limit")
    func longReason() throws {
        let reason = String(repeating: "Ω", count: 40_000)
        let change = JobStateChange(
            kind: .processing, jobName: "failing", jobArn: "arn:aws:sagemaker:us-east-1:1:processing-job/failing", status: .failed,
            detail: ["ProcessingJobName": "failing", "FailureReason": .string(reason), "ExitMessage": "Traceback…\n  boom"],
            eventID: nil, changedAt: nil
        )
        guard case .failure(let error, let cause)? = Outcome.forChange(change) else {
            Issue.record("a failed job fails the task")
            return
        }
        #expect(error == "SageMaker.ProcessingJobFailed")
        #expect(cause.utf8.count <= Outcome.causeLimit)
        #expect(cause.count <= Outcome.causeLimit)
        let parsed = try #require(try JSONValue.parse(cause).objectValue)
        #expect(parsed["FailureReason"]?.stringValue?.hasSuffix("…") == true)
        #expect(parsed["ExitMessage"]?.stringValue == "Traceback…\n  boom")
        #expect(parsed["ProcessingJobArn"]?.stringValue == change.jobArn)
        #expect(parsed["ProcessingJobStatus"] == "Failed")
    }

    @Test("a cause full of characters that JSON escapes still fits")
    func escapedCause() throws {
        let cause = Outcome.boundedCause(["ProcessingJobName": "j", "FailureReason": .string(String(repeating: "\"\u{1}", count: 20_000))])
        #expect(cause.utf8.count <= Outcome.causeLimit)
        #expect((try? JSONValue.parse(cause)) != nil)
    }

    @Test("running statuses give no outcome; stopped gives its own error")
    func statuses() {
        func change(_ status: JobStatus) -> JobStateChange {
            JobStateChange(
                kind: .processing, jobName: "j", jobArn: nil, status: status, detail: ["ProcessingJobName": "j"], eventID: nil, changedAt: nil)
        }
        #expect(Outcome.forChange(change(.inProgress)) == nil)
        #expect(Outcome.forChange(change(.stopping)) == nil)
        guard case .failure(let error, _)? = Outcome.forChange(change(.stopped)) else {
            Issue.record("stopped fails the task")
            return
        }
        #expect(error == "SageMaker.ProcessingJobStopped")
        #expect(error.count <= Outcome.errorLimit)
    }
}
