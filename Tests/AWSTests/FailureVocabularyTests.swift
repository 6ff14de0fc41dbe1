@testable import AWS
import Foundation
import HTTP
import JSON
import Logging
import SigV4
import Synchronization
import Testing

/// Records the waits a retry loop asks for instead of sleeping them.
final class SleepRecorder: Sendable {
    private let waits = Mutex<[Duration]>([])
    var recorded: [Duration] { waits.withLock { $0 } }
    var sleep: RetryPolicy.Sleep { { [self] wait in waits.withLock { $0.append(wait) } } }
}

@Suite("One failure vocabulary")
struct FailureVocabularyTests {
    @Test(
        "schedules: full, equal and no jitter share one ceiling",
        arguments: [
            (RetryPolicy.Jitter.full, 0.0, Duration.zero), (.full, 0.5, .milliseconds(400)),
            (.equal, 0.0, .milliseconds(400)), (.equal, 0.5, .milliseconds(600)), (.equal, 1.0, .milliseconds(800)),
            (.none, 0.0, .milliseconds(800)), (.none, 0.7, .milliseconds(800)),
        ])
    func jitters(jitter: RetryPolicy.Jitter, random: Double, expected: Duration) {
        // Third failure: ceiling 100 ms * 2^3 = 800 ms.
        let policy = RetryPolicy(maxAttempts: .max, base: .milliseconds(100), cap: .seconds(10), jitter: jitter)
        #expect(policy.backoff(attempt: 3, random: random) == expected)
        #expect(policy.decide(.connection, attempt: 3, random: { random }) == .retry(after: expected))
    }

    @Test(
        "any error is classified, transport errors by their kind, wrapped or not",
        arguments: [
            (HTTPError.Kind.connect, RetryableFailure.connection), (.timeout, .connection), (.send, .connection), (.receive, .connection),
            (.tls, .permanent), (.invalidRequest, .permanent), (.shutdown, .permanent), (.other, .permanent),
        ])
    func transportErrors(kind: HTTPError.Kind, expected: RetryableFailure) {
        let error = HTTPError(kind: kind, curlCode: 7, message: "diagnosis")
        #expect(RetryableFailure.classify(error) == expected)
        #expect(RetryableFailure.classify(AWSTransportError(operation: "SendTaskSuccess", underlying: error)) == expected)
    }

    @Test("the call failure of each kind of error")
    func callFailures() {
        let throttled = CallFailure(AWSError(code: "ThrottlingException", message: "slow", httpStatus: 400, operation: "SendTaskSuccess"))
        #expect(throttled == CallFailure.expected(code: "ThrottlingException", message: "slow", failure: .throttling, answered: true))
        #expect(throttled.isThrottling && !throttled.isRefusal)
        let denied = CallFailure(AWSError(code: "AccessDeniedException", message: "no", httpStatus: 400, operation: "SendTaskSuccess"))
        #expect(denied.isRefusal && !denied.isThrottling)
        let unreachable = CallFailure(
            AWSTransportError(operation: "ReceiveMessage", underlying: HTTPError(kind: .connect, curlCode: 7, message: "refused")))
        #expect(unreachable == CallFailure.expected(code: CallFailure.connection, message: "refused", failure: .connection, answered: false))
        #expect(!unreachable.isRefusal)
        let unusable = CallFailure(AWSResponseError(operation: "ReceiveMessage", reason: "cut short"))
        #expect(unusable.failure == .connection && unusable.code == CallFailure.other && !unusable.isRefusal)
        let cancelled = CallFailure(CancellationError())
        #expect(cancelled.code == CallFailure.cancelled && cancelled.failure == .permanent && !cancelled.isRefusal)
    }

    static let credentialsDocument = Array(#"{"AccessKeyId":"ASIAC","SecretAccessKey":"S","Token":"T","Expiration":"2030-01-01T00:00:00Z"}"#.utf8)

    @Test("a credentials endpoint retries 5xx and connection failures by the policy, sleeping with the injected sleep")
    func credentialsEndpointSleeps() async throws {
        let transport = ScriptedTransport([
            .success(HTTPResponse(status: 500, body: [])),
            .failure(HTTPError(kind: .connect, curlCode: 7, message: "refused")),
            .success(HTTPResponse(status: 200, body: Self.credentialsDocument)),
        ])
        let sleeper = SleepRecorder()
        let provider = ContainerCredentialProvider(
            http: transport, environment: Environment(["AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:1/creds"]),
            retryPolicy: RetryPolicy(maxAttempts: 3, base: .seconds(1), cap: .seconds(60), jitter: .none), sleep: sleeper.sleep
        )
        let credentials = try #require(try await provider.credentials())
        #expect(credentials.accessKeyID == "ASIAC")
        #expect(transport.sent.count == 3)
        // Without the injected sleep, these six seconds would have been slept.
        #expect(sleeper.recorded == [.seconds(2), .seconds(4)])
    }

    @Test("a credentials endpoint that stays 5xx gives its last answer after the policy's attempts")
    func credentialsEndpointGivesUp() async throws {
        let transport = ScriptedTransport(Array(repeating: .success(HTTPResponse(status: 503, body: [])), count: 3))
        let sleeper = SleepRecorder()
        let provider = ContainerCredentialProvider(
            http: transport, environment: Environment(["AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:1/creds"]),
            retryPolicy: RetryPolicy(maxAttempts: 3, base: .seconds(1), cap: .seconds(60), jitter: .none), sleep: sleeper.sleep
        )
        let error = try await #require(throws: CredentialProviderError.self) { try await provider.credentials() }
        #expect(error.description.contains("HTTP 503"))
        #expect(transport.sent.count == 3)
        #expect(sleeper.recorded.count == 2)
    }

    @Test("the JSON client's transport failure reaches the caller wrapped, naming the operation")
    func transportFailureIsWrapped() async throws {
        let failure = HTTPError(kind: .timeout, curlCode: 28, message: "Operation timed out")
        let transport = ScriptedTransport(Array(repeating: .failure(failure), count: 3))
        let error = try await #require(throws: AWSTransportError.self) {
            _ = try await AWSClientTests.client(transport).call(.stepFunctions, "SendTaskSuccess", [:])
        }
        #expect(error.operation == "SendTaskSuccess")
        #expect(error.underlying.kind == .timeout)
        #expect(transport.sent.count == 3)
    }
}

extension CallFailure {
    /// A failure with these parts, to compare with.
    static func expected(code: String, message: String, failure: RetryableFailure, answered: Bool) -> CallFailure {
        var made = CallFailure(CancellationError())
        (made.code, made.message, made.failure, made.answered) = (code, message, failure, answered)
        return made
    }
}

@Suite("STS clock skew")
struct STSClockSkewTests {
    @Test("STS answering a skew refusal with its Date is signed again at the server's time, and keeps it")
    func adoptsServerClock() async throws {
        let server = Date().addingTimeInterval(3600)
        let transport = ScriptedTransport([
            AWSClientTests.error(
                403, "<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code><Message>Signature expired</Message></Error></ErrorResponse>",
                headers: [("Date", ClockSkewTests.imfDate(server))]),
            STSClientTests.credentialsResponse("AssumeRole"),
            STSClientTests.credentialsResponse("AssumeRole"),
        ])
        let sts = STSClientTests.client(transport)
        for _ in 0..<2 {
            let credentials = try await sts.assumeRole(
                roleArn: "arn:aws:iam::123456789012:role/r", sessionName: "s", credentials: STSClientTests.caller)
            #expect(credentials.accessKeyID == "ASIATEMP")
        }
        let dates = transport.sent.compactMap(ClockSkewTests.amzDate)
        #expect(dates.count == 3)
        let expected = String(ClockSkewTests.imfDate(server).split(separator: " ")[4].prefix(2))
        #expect(dates[1].dropFirst(9).prefix(2) == expected, "the retry is signed with the server's hour: \(dates)")
        #expect(dates[2].dropFirst(9).prefix(2) == expected, "later calls keep the offset")
    }
}
