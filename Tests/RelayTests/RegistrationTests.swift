import CallbackStore
import JSON
import Relay
import Testing

@Suite("Registration messages")
struct RegistrationTests {
    @Test("the wait form")
    func waitForm() throws {
        guard case .valid(let registration) = RegistrationMessage.parse(try RecordedFile.text("registration-wait.json")) else {
            Issue.record("registration-wait.json must be valid")
            return
        }
        #expect(registration.kind == .processing)
        #expect(registration.createRequest == nil)
        #expect(registration.executionArn?.hasPrefix("arn:aws:states:") == true)
        #expect(registration.tokenHash == TaskTokens.hash(registration.taskToken))
        #expect(registration.tokenHash.count == 64)
    }

    @Test("the create form keeps the whole request")
    func createForm() throws {
        guard case .valid(let registration) = RegistrationMessage.parse(try RecordedFile.text("registration-create.json")) else {
            Issue.record("registration-create.json must be valid")
            return
        }
        let request = try #require(registration.createRequest)
        #expect(request["ProcessingJobName"]?.stringValue == registration.jobName)
        #expect(request["Tags"]?.arrayValue?.isEmpty == false)
        #expect(request["ProcessingResources"] != nil)
    }

    /// What each kind of bad registration gets: a reason, and a token to fail when there is one.
    @Test(
        "bad registrations",
        arguments: [
            ("registration-malformed-no-token.json", false, "no TaskToken"),
            ("registration-malformed-no-job.json", true, "no job"),
            ("registration-malformed-both-forms.json", true, "more than one job field"),
            ("registration-malformed-unknown-job-field.json", true, "does not handle"),
        ])
    func badFiles(file: String, hasToken: Bool, reason: String) throws {
        guard case .invalid(let token, let why) = RegistrationMessage.parse(try RecordedFile.text(file)) else {
            Issue.record("\(file) must be invalid")
            return
        }
        #expect((token != nil) == hasToken)
        #expect(why.contains(reason), "\(why)")
    }

    @Test(
        "bad registrations built inline",
        arguments: [
            (#"[1,2]"#, "not a JSON object"),
            (#"{"TaskToken": 5, "ProcessingJobName": "a"}"#, "no TaskToken"),
            (#"{"TaskToken": "", "ProcessingJobName": "a"}"#, "no TaskToken"),
            (#"{"TaskToken": "t", "ProcessingJobName": "-bad-"}"#, "not a valid SageMaker job name"),
            (#"{"TaskToken": "t", "ProcessingJobName": 7}"#, "is not a string"),
            (#"{"TaskToken": "t", "CreateProcessingJob": {"RoleArn": "x"}}"#, "has no ProcessingJobName"),
            (#"{"TaskToken": "t", "CreateProcessingJob": "job"}"#, "is not an object"),
            (#"{"TaskToken": "t", "QuantumJobName": "job"}"#, "does not handle"),
            (#"{"TaskToken": "t", "ProcessingJobName": "job", "Heartbeat": "yes"}"#, "Heartbeat"),
            (#"{"TaskToken": "t", "ProcessingJobName": "job", "ExecutionArn": 3}"#, "ExecutionArn"),
            ("not json", "not JSON"),
        ])
    func badInline(body: String, reason: String) {
        guard case .invalid(_, let why) = RegistrationMessage.parse(body) else {
            Issue.record("\(body) must be invalid")
            return
        }
        #expect(why.contains(reason), "\(why)")
    }

    @Test("every job kind registers in both forms", arguments: JobKind.all)
    func everyKind(kind: JobKind) {
        guard case .valid(let waiting) = RegistrationMessage.parse(#"{"TaskToken": "t", "\#(kind.nameField)": "job-1"}"#) else {
            Issue.record("\(kind) wait form must be valid")
            return
        }
        #expect(waiting.kind == kind)
        guard
            case .valid(let creating) = RegistrationMessage.parse(#"{"TaskToken": "t", "\#(kind.createOperation)": {"\#(kind.nameField)": "job-2"}}"#)
        else {
            Issue.record("\(kind) create form must be valid")
            return
        }
        #expect(creating.kind == kind)
        #expect(creating.jobName == "job-2")
        #expect(creating.createRequest != nil)
    }

    @Test("a token longer than Step Functions allows is refused without being echoed")
    func longToken() {
        let token = String(repeating: "x", count: 2049)
        guard case .invalid(let kept, let why) = RegistrationMessage.parse(#"{"TaskToken": "\#(token)", "ProcessingJobName": "a"}"#) else {
            Issue.record("must be invalid")
            return
        }
        #expect(kept == nil)
        #expect(!why.contains("xxxx"))
    }

    @Test("an invalid registration with a token fails the task and never records the token")
    func invalidFailsTask() {
        let token = "AAAAKgAAAAIAAAAAAAAAAQ-secret-token"
        let body = #"{"TaskToken": "\#(token)", "Nothing": 1}"#
        let decision = Correlator(now: 9).decideInvalidRegistration(
            taskToken: token, reason: "no job", body: body, source: "requests", messageID: "m-1", tokenClosed: false
        )
        #expect(decision.verdict == .rejectedAndFailed("no job"))
        var failed = false
        for effect in decision.effects {
            switch effect {
            case .recordRejected(let record): #expect(!record.body.contains(token))
            case .enqueue(let entry):
                failed = entry.action == .failure && entry.errorName == Correlator.invalidRegistrationError
            default: break
            }
        }
        #expect(failed)
        let again = Correlator(now: 9).decideInvalidRegistration(
            taskToken: token, reason: "no job", body: body, source: "requests", messageID: "m-1", tokenClosed: true
        )
        #expect(again.verdict == .rejected("no job"))
    }
}
