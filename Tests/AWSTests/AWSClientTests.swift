@testable import AWS
import Foundation
import HTTP
import JSON
import Logging
import SigV4
import Synchronization
import Testing

/// A transport that answers from a script and records what was sent.
final class ScriptedTransport: HTTPClient {
    private let state: Mutex<(answers: [Result<HTTPResponse, HTTPError>], sent: [HTTPRequest])>

    init(_ answers: [Result<HTTPResponse, HTTPError>]) {
        state = Mutex((answers, []))
    }

    var sent: [HTTPRequest] { state.withLock { $0.sent } }

    func execute(_ request: HTTPRequest) async throws -> HTTPResponse {
        let answer = state.withLock { state -> Result<HTTPResponse, HTTPError> in
            state.sent.append(request)
            return state.answers.isEmpty ? .success(HTTPResponse(status: 200, body: Array("{}".utf8))) : state.answers.removeFirst()
        }
        return try answer.get()
    }
}

@Suite("AWS JSON protocol client")
struct AWSClientTests {
    static func client(
        _ transport: ScriptedTransport,
        credentials: @escaping AWSClient.CredentialSource = { Credentials(accessKeyID: "AKID", secretAccessKey: "secret") }
    ) -> AWSClient {
        AWSClient(
            http: transport, credentials: credentials, region: "eu-west-1",
            endpoints: [
                .stepFunctions: Endpoint(url: "https://states.eu-west-1.amazonaws.com", host: "states.eu-west-1.amazonaws.com", source: "default"),
                .sageMaker: Endpoint(url: "http://127.0.0.1:4566", host: "127.0.0.1:4566", source: "test"),
            ],
            retryPolicy: RetryPolicy(maxAttempts: 3, base: .milliseconds(1), cap: .milliseconds(5)),
            logger: Logger(label: "test")
        )
    }

    static func error(_ status: Int, _ body: String, headers: [(name: String, value: String)] = []) -> Result<HTTPResponse, HTTPError> {
        .success(HTTPResponse(status: status, headers: headers, body: Array(body.utf8)))
    }

    @Test("a request is a signed JSON POST with the service's target and content type")
    func requestShape() async throws {
        let transport = ScriptedTransport([.success(HTTPResponse(status: 200, body: Array(#"{"ok":true}"#.utf8)))])
        let response = try await Self.client(transport).call(.sageMaker, "DescribeProcessingJob", ["ProcessingJobName": "j"])
        #expect(response["ok"] == true)
        let request = try #require(transport.sent.first)
        #expect(request.method == "POST")
        #expect(request.url == "http://127.0.0.1:4566/")
        #expect(request.headers.first { $0.name == "x-amz-target" }?.value == "SageMaker.DescribeProcessingJob")
        #expect(request.headers.first { $0.name == "content-type" }?.value == "application/x-amz-json-1.1")
        let authorization = try #require(request.headers.first { $0.name.lowercased() == "authorization" }?.value)
        #expect(authorization.hasPrefix("AWS4-HMAC-SHA256 Credential=AKID/"))
        #expect(authorization.contains("/eu-west-1/sagemaker/aws4_request"))
        #expect(try JSONValue.parse(request.body) == ["ProcessingJobName": "j"])
    }

    @Test(
        "errors are typed from __type (with or without a namespace) and message or Message",
        arguments: [
            (#"{"__type":"com.amazonaws.swf.service.model#TaskTimedOut","message":"Task Timed Out"}"#, "TaskTimedOut", "Task Timed Out"),
            (#"{"__type":"InvalidToken","Message":"Invalid Token"}"#, "InvalidToken", "Invalid Token"),
            (#"{"__type":"ValidationException:http://internal.amazon.com/","message":"bad"}"#, "ValidationException", "bad"),
            ("<html>gateway</html>", "HTTP400", ""),
        ])
    func errorParsing(body: String, code: String, message: String) async throws {
        let transport = ScriptedTransport([Self.error(400, body, headers: [("x-amzn-RequestId", "req-123")])])
        do {
            _ = try await Self.client(transport).call(.stepFunctions, "SendTaskSuccess", ["taskToken": "t"])
            Issue.record("a 400 must throw")
        } catch let error as AWSError {
            #expect(error.code == code)
            #expect(error.message == message)
            #expect(error.httpStatus == 400)
            #expect(error.requestID == "req-123")
            #expect(error.operation == "SendTaskSuccess")
        }
        #expect(transport.sent.count == 1, "a permanent error is not retried")
    }

    @Test("throttling, 5xx and connection errors are retried, each attempt signed afresh")
    func retries() async throws {
        let calls = Mutex(0)
        let transport = ScriptedTransport([
            Self.error(400, #"{"__type":"ThrottlingException","message":"Rate exceeded"}"#),
            Self.error(503, #"{"__type":"ServiceUnavailable"}"#),
            .success(HTTPResponse(status: 200, body: Array("{}".utf8))),
        ])
        let client = Self.client(
            transport,
            credentials: {
                let n = calls.withLock {
                    $0 += 1; return $0
                }
                return Credentials(accessKeyID: "AKID\(n)", secretAccessKey: "secret-\(n)")
            })
        _ = try await client.call(.stepFunctions, "SendTaskHeartbeat", ["taskToken": "t"])
        #expect(transport.sent.count == 3)
        #expect(calls.withLock { $0 } == 3)
        let authorizations = transport.sent.compactMap { $0.headers.first { $0.name.lowercased() == "authorization" }?.value }
        #expect(Set(authorizations).count == 3)
    }

    @Test("connection errors are retried until the policy gives up, then surface")
    func connectionGivesUp() async throws {
        let failure = HTTPError(kind: .connect, curlCode: 7, message: "Failed to connect")
        let transport = ScriptedTransport([.failure(failure), .failure(failure), .failure(failure)])
        await #expect(throws: AWSTransportError.self) {
            _ = try await Self.client(transport).call(.stepFunctions, "SendTaskSuccess", [:])
        }
        #expect(transport.sent.count == 3)
    }

    @Test("a task token echoed in an error message is redacted")
    func redaction() async throws {
        let token = "AAAAKgAAAAIAAAAAAAAAAc9secret"
        let transport = ScriptedTransport([Self.error(400, #"{"__type":"ValidationException","message":"Value '\#(token)' at 'taskToken' failed"}"#)])
        do {
            try await StepFunctions(client: Self.client(transport)).sendTaskSuccess(taskToken: token, output: "{}")
            Issue.record("must throw")
        } catch let error as AWSError {
            #expect(!error.message.contains(token))
            #expect(!"\(error)".contains(token))
            #expect(error.message.contains("<redacted>"))
        }
    }

    @Test("an empty 200 body is an empty object; a non-JSON or cut-short 200 body is retried, then an error")
    func successBodies() async throws {
        let unusable = [Array("nope".utf8), Array(#"{"ok":tr"#.utf8), Array("nope".utf8)]
        let transport = ScriptedTransport(
            [.success(HTTPResponse(status: 200, body: []))] + unusable.map { .success(HTTPResponse(status: 200, body: $0)) })
        let client = Self.client(transport)
        #expect(try await client.call(.stepFunctions, "SendTaskHeartbeat", [:]).isEmpty)
        await #expect(throws: AWSResponseError.self) { _ = try await client.call(.stepFunctions, "SendTaskHeartbeat", [:]) }
        // Each unusable answer was sent again, up to the policy's three attempts.
        #expect(transport.sent.count == 4)
    }
}

@Suite("Clock skew")
struct ClockSkewTests {
    static func imfDate(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var buffer = [Int8](repeating: 0, count: 64)
        let count = strftime(&buffer, buffer.count, "%a, %d %b %Y %H:%M:%S GMT", &parts)
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func amzDate(_ request: HTTPRequest) -> String? {
        request.headers.first { $0.name.lowercased() == "x-amz-date" }?.value
    }

    @Test("a skew answer with the server's Date is adopted, and the request retried once")
    func adoptsServerClock() async throws {
        let server = Date().addingTimeInterval(3600)
        let transport = ScriptedTransport([
            AWSClientTests.error(
                400, #"{"__type":"InvalidSignatureException","message":"Signature expired"}"#, headers: [("Date", Self.imfDate(server))]),
            .success(HTTPResponse(status: 200, body: Array("{}".utf8))),
            .success(HTTPResponse(status: 200, body: Array("{}".utf8))),
        ])
        let client = AWSClientTests.client(transport)
        _ = try await client.call(.stepFunctions, "SendTaskHeartbeat", ["taskToken": "t"])
        _ = try await client.call(.stepFunctions, "SendTaskHeartbeat", ["taskToken": "t"])
        let dates = transport.sent.compactMap(Self.amzDate)
        #expect(dates.count == 3)
        let expected = String(Self.imfDate(server).split(separator: " ")[4].prefix(2))
        #expect(dates[1].dropFirst(9).prefix(2) == expected, "the retry is signed with the server's hour: \(dates)")
        #expect(dates[2].dropFirst(9).prefix(2) == expected, "later calls keep the offset")
    }

    @Test("a signature error without skew is not retried")
    func noSkewNoRetry() async throws {
        let transport = ScriptedTransport([
            AWSClientTests.error(403, #"{"__type":"SignatureDoesNotMatch","message":"bad secret"}"#, headers: [("Date", Self.imfDate(Date()))])
        ])
        await #expect(throws: AWSError.self) {
            _ = try await AWSClientTests.client(transport).call(.stepFunctions, "SendTaskHeartbeat", [:])
        }
        #expect(transport.sent.count == 1)
    }

    @Test(
        "HTTP dates",
        arguments: [
            ("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_777.0),
            ("Sat, 21 Nov 2026 07:42:44 GMT", 1_795_246_964.0),
            ("Tue, 29 Feb 2000 00:00:00 GMT", 951_782_400.0),
        ])
    func httpDates(text: String, epoch: Double) {
        #expect(SignedSender.httpDate(text)?.timeIntervalSince1970 == epoch)
    }
}
