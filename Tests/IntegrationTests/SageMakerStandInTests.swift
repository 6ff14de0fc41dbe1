import AWS
import Foundation
import HTTP
import JSON
import Logging
import Moto
import Relay
import SigV4
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The project's own AWS client pointed at a stand-in through `AWS_ENDPOINT_URL_SAGEMAKER`, as the
/// service finds it, making one attempt per call so that every answer reaches the test.
private struct StandInSession {
    let standIn: SageMakerStandIn
    let transport: CurlHTTPClient
    let client: AWSClient

    init(throttle: SageMakerStandIn.Throttle? = nil) throws {
        standIn = try SageMakerStandIn(throttle: throttle)
        transport = try CurlHTTPClient()
        let environment = Environment(["AWS_ENDPOINT_URL_SAGEMAKER": standIn.endpoint])
        let endpoint = try EndpointResolver.resolve(.sageMaker, region: MotoServer.region, explicit: nil, environment: environment)
        client = AWSClient(
            http: transport, credentials: { MotoServer.credentials }, region: MotoServer.region,
            endpoints: [.sageMaker: endpoint], retryPolicy: RetryPolicy(maxAttempts: 1), logger: Logger(label: "standin-test")
        )
    }

    @discardableResult
    func call(_ operation: String, _ body: JSONObject) async throws -> JSONObject {
        try await client.call(.sageMaker, operation, body)
    }

    /// The AWS error `operation` answers with; records an issue when it succeeds.
    func error(_ operation: String, _ body: JSONObject) async -> AWSError? {
        await #expect(throws: AWSError.self) { try await call(operation, body) }
    }

    func stop() {
        standIn.stop()
        transport.shutdown()
    }
}

/// A job kind with the names the stand-in must spell as SageMaker does.
struct StandInKind: Sendable, CustomTestStringConvertible {
    let kind: JobKind
    let arnResource: String
    let words: String
    let missingCode: String

    var testDescription: String { kind.name }
    var stopOperation: String { "Stop" + kind.name }
    func arn(_ name: String) -> String { "arn:aws:sagemaker:us-east-1:123456789012:\(arnResource)/\(name)" }

    static let all = [
        StandInKind(kind: .processing, arnResource: "processing-job", words: "processing", missingCode: "ValidationException"),
        StandInKind(kind: .training, arnResource: "training-job", words: "training", missingCode: "ValidationException"),
        StandInKind(kind: .transform, arnResource: "transform-job", words: "transform", missingCode: "ValidationException"),
        StandInKind(kind: .tuning, arnResource: "hyper-parameter-tuning-job", words: "hyper parameter tuning", missingCode: "ResourceNotFound"),
    ]
}

@Suite(.timeLimit(.minutes(1)))
struct SageMakerStandInTests {
    @Test(arguments: StandInKind.all)
    func createDescribeStopDescribeOverOneConnection(_ kind: StandInKind) async throws {
        let session = try StandInSession()
        defer { session.stop() }
        let name = "job-\(kind.kind.name.lowercased())"
        let request: JSONObject = [kind.kind.nameField: .string(name), "RoleArn": "arn:aws:iam::123456789012:role/sm"]

        let created = try await session.call(kind.kind.createOperation, request)
        #expect(created == [kind.kind.arnField: .string(kind.arn(name))])

        let running = try await session.call(kind.kind.describeOperation, [kind.kind.nameField: .string(name)])
        #expect(running[kind.kind.statusField] == "InProgress")
        #expect(running[kind.kind.nameField]?.stringValue == name)
        #expect(running[kind.kind.arnField]?.stringValue == kind.arn(name))
        #expect(running["RoleArn"] == request["RoleArn"])
        let creationTime = try #require(running["CreationTime"]?.doubleValue)
        #expect(abs(creationTime - Date().timeIntervalSince1970) < 60)
        #expect(running["LastModifiedTime"]?.doubleValue != nil)
        #expect(running["FailureReason"] == nil)

        #expect(try await session.call(kind.stopOperation, [kind.kind.nameField: .string(name)]).isEmpty)
        let stopped = try await session.call(kind.kind.describeOperation, [kind.kind.nameField: .string(name)])
        #expect(stopped[kind.kind.statusField] == "Stopped")
        #expect(session.standIn.job(nameField: kind.kind.nameField, name: name) == .stopped)
        // libcurl keeps the connection alive: four calls, one connection.
        #expect(session.standIn.acceptedConnections == 1)
    }

    static let terminalStates: [SageMakerStandIn.JobState] = [.completed, .failed(reason: "AlgorithmError: boom"), .stopped]

    @Test(arguments: StandInKind.all, terminalStates)
    func stopOfAFinishedJobIsRefused(_ kind: StandInKind, _ state: SageMakerStandIn.JobState) async throws {
        let session = try StandInSession()
        defer { session.stop() }
        session.standIn.setJob(nameField: kind.kind.nameField, name: "done", state)

        let error = try #require(await session.error(kind.stopOperation, [kind.kind.nameField: "done"]))
        #expect(error.code == "ValidationException")
        #expect(error.httpStatus == 400)
        #expect(error.message == "The request was rejected because the \(kind.words) job is in status \(state.status).")
        #expect(session.standIn.job(nameField: kind.kind.nameField, name: "done") == state)
    }

    @Test(arguments: StandInKind.all)
    func missingJobIsAnsweredAsSageMakerDoes(_ kind: StandInKind) async throws {
        let session = try StandInSession()
        defer { session.stop() }
        for operation in [kind.kind.describeOperation, kind.stopOperation] {
            let error = try #require(await session.error(operation, [kind.kind.nameField: "nowhere"]))
            #expect(error.code == kind.missingCode)
            #expect(error.httpStatus == 400)
            #expect(error.message == "Could not find \(kind.words) job '\(kind.arn("nowhere"))'.")
        }
    }

    @Test func failedJobDescribesItsReasonAndEnd() async throws {
        let session = try StandInSession()
        defer { session.stop() }
        session.standIn.setJob(nameField: "TrainingJobName", name: "t", .failed(reason: "ClientError: no data"))
        let description = try await session.call("DescribeTrainingJob", ["TrainingJobName": "t"])
        #expect(description["TrainingJobStatus"] == "Failed")
        #expect(description["FailureReason"] == "ClientError: no data")
        #expect(description["TrainingEndTime"]?.doubleValue != nil)
    }

    @Test func stopOfAStoppingJobIsAcceptedAndLeavesItStopping() async throws {
        let session = try StandInSession()
        defer { session.stop() }
        session.standIn.setJob(nameField: "TransformJobName", name: "s", .stopping)
        #expect(try await session.call("StopTransformJob", ["TransformJobName": "s"]).isEmpty)
        let description = try await session.call("DescribeTransformJob", ["TransformJobName": "s"])
        #expect(description["TransformJobStatus"] == "Stopping")
        #expect(description["TransformEndTime"] == nil)
    }

    @Test func createOfAnExistingJobIsResourceInUse() async throws {
        let session = try StandInSession()
        defer { session.stop() }
        try await session.call("CreateProcessingJob", ["ProcessingJobName": "twice"])
        let error = try #require(await session.error("CreateProcessingJob", ["ProcessingJobName": "twice"]))
        #expect(error.code == "ResourceInUse")
        #expect(session.standIn.job(nameField: "ProcessingJobName", name: "twice") == .running)
    }

    @Test(arguments: ["ListProcessingJobs", "CreateEndpoint", "StopPipelineExecution"])
    func otherOperationsAreUnknown(_ operation: String) async throws {
        let session = try StandInSession()
        defer { session.stop() }
        let error = try #require(await session.error(operation, ["ProcessingJobName": "x"]))
        #expect(error.code == "UnknownOperationException")
        #expect(session.standIn.calls(operation).map(\.answeredStatus) == [400])
    }

    @Test func callsAreRecordedWithOperationBodyAndAnswer() async throws {
        let session = try StandInSession()
        defer { session.stop() }
        let request: JSONObject = ["ProcessingJobName": "rec", "Environment": ["K": "V"]]
        try await session.call("CreateProcessingJob", request)
        _ = await session.error("DescribeProcessingJob", ["ProcessingJobName": "other"])
        try await session.call("StopProcessingJob", ["ProcessingJobName": "rec"])

        let calls = session.standIn.calls
        #expect(calls.map(\.operation) == ["CreateProcessingJob", "DescribeProcessingJob", "StopProcessingJob"])
        #expect(calls.map(\.answeredStatus) == [200, 400, 200])
        #expect(calls.first?.body == request)
        #expect(zip(calls, calls.dropFirst()).allSatisfy { $0.at <= $1.at })
        #expect(session.standIn.calls("StopProcessingJob").map(\.body) == [["ProcessingJobName": "rec"]])
    }

    @Test func throttlesWithATokenBucket() async throws {
        let session = try StandInSession(throttle: .init(ratePerSecond: 2, burst: 1))
        defer { session.stop() }
        session.standIn.setJob(nameField: "ProcessingJobName", name: "busy", .running)
        let started = ContinuousClock.now
        var throttled: [AWSError] = []
        for _ in 0..<6 {
            do {
                try await session.call("DescribeProcessingJob", ["ProcessingJobName": "busy"])
            } catch let error as AWSError {
                throttled.append(error)
            }
        }
        let elapsed = Double((ContinuousClock.now - started).components.seconds) + 1
        let calls = session.standIn.calls
        #expect(calls.count == 6, "every call is recorded, throttled ones too")
        #expect(calls.filter { $0.answeredStatus == 400 }.count == throttled.count)
        #expect(calls.first?.answeredStatus == 200, "the bucket starts full")
        #expect(!throttled.isEmpty)
        // One token at the start, then at most two a second.
        #expect(Double(6 - throttled.count) <= 1 + 2 * elapsed)
        #expect(throttled.allSatisfy { $0.code == "ThrottlingException" && $0.message == "Rate exceeded" && $0.httpStatus == 400 })
        #expect(RetryableFailure.classify(code: throttled.first?.code, httpStatus: 400) == .throttling)

        // The bucket refills: a call gets through again within the deadline.
        let deadline = ContinuousClock.now + .seconds(10)
        var refilled = false
        while !refilled, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            refilled = (try? await session.call("CreateProcessingJob", ["ProcessingJobName": "later"])) != nil
        }
        #expect(refilled)
    }
}

/// The generic server under the stand-in: concurrency, `Expect: 100-continue`, closing, stopping.
@Suite(.timeLimit(.minutes(1)))
struct LoopbackHTTPServerTests {
    @Test func servesSeveralConnectionsAtOnce() async throws {
        let inside = Mutex(0)
        let wanted = 4
        // Each request waits until all are inside the handler together: a server that served one
        // connection at a time would answer 503 after the deadline.
        let server = try LoopbackHTTPServer { _ in
            inside.withLock { $0 += 1 }
            let deadline = ContinuousClock.now + .seconds(10)
            while inside.withLock({ $0 }) < wanted, ContinuousClock.now < deadline { usleep(1_000) }
            return .init(status: inside.withLock { $0 } >= wanted ? 200 : 503)
        }
        defer { server.stop() }
        let transport = try CurlHTTPClient()
        defer { transport.shutdown() }
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<wanted {
                group.addTask { try await transport.execute(HTTPRequest(method: "POST", url: server.endpoint + "/", body: [1])).status }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(statuses == Array(repeating: 200, count: wanted))
        #expect(server.acceptedConnections == wanted)
    }

    @Test func answersExpectContinueThenKeepsAliveUntilAskedToClose() throws {
        let server = try LoopbackHTTPServer { request in
            .init(status: 200, headers: [("X-Method", request.method)], body: request.body)
        }
        defer { server.stop() }
        let connection = try RawConnection(port: server.port)
        defer { connection.close() }

        try connection.send("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
        #expect(try connection.readHead().hasPrefix("HTTP/1.1 100 "))
        try connection.send("hello")
        let first = try connection.readHead()
        #expect(first.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(first.contains("Content-Length: 5\r\n"))
        #expect(try connection.read(count: 5) == "hello")

        try connection.send("PUT /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi")
        let second = try connection.readHead()
        #expect(second.contains("X-Method: PUT\r\n"))
        #expect(second.contains("Connection: close\r\n"))
        #expect(try connection.read(count: 2) == "hi")
        #expect(try connection.readToEnd().isEmpty, "the server closes after a Connection: close request")
        #expect(server.acceptedConnections == 1)
    }

    @Test func refusesWhatIsNotHTTP() throws {
        let server = try LoopbackHTTPServer { _ in .init(status: 200) }
        defer { server.stop() }
        let connection = try RawConnection(port: server.port)
        defer { connection.close() }
        try connection.send("HELLO\r\n\r\n")
        #expect(try connection.readHead().hasPrefix("HTTP/1.1 400 "))
        #expect(try connection.readToEnd().isEmpty)
    }

    @Test func stopCutsOpenConnectionsAndIsIdempotent() throws {
        let server = try LoopbackHTTPServer { _ in .init(status: 204) }
        let connection = try RawConnection(port: server.port)
        defer { connection.close() }
        try connection.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try connection.readHead().hasPrefix("HTTP/1.1 204 "))

        server.stop()
        server.stop()
        #expect(try connection.readToEnd().isEmpty, "an idle keep-alive connection is cut")
        #expect(throws: POSIXError.self) { try RawConnection(port: server.port).close() }
    }
}

/// A blocking client socket for speaking HTTP by hand, with a receive timeout so a test cannot hang.
final class RawConnection {
    let fd: Int32
    private var buffer: [UInt8] = []

    init(port: UInt16) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            let error = POSIXError(.init(rawValue: errno) ?? .EIO)
            Glibc.close(fd)
            throw error
        }
    }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        guard Glibc.send(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count else { throw POSIXError(.EPIPE) }
    }

    /// Up to and including the blank line that ends a response head.
    func readHead() throws -> String {
        while buffer.firstRange(of: [13, 10, 13, 10]) == nil {
            guard try receive() else { throw POSIXError(.ECONNRESET) }
        }
        let end = buffer.firstRange(of: [13, 10, 13, 10])!.upperBound
        defer { buffer.removeFirst(end) }
        return String(decoding: buffer[..<end], as: UTF8.self)
    }

    func read(count: Int) throws -> String {
        while buffer.count < count {
            guard try receive() else { throw POSIXError(.ECONNRESET) }
        }
        defer { buffer.removeFirst(count) }
        return String(decoding: buffer[..<count], as: UTF8.self)
    }

    /// Whatever arrives until the server closes.
    func readToEnd() throws -> String {
        while try receive() {}
        defer { buffer.removeAll() }
        return String(decoding: buffer, as: UTF8.self)
    }

    /// False at the end of the stream; throws on a timeout.
    private func receive() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 4096)
        let n = recv(fd, &chunk, chunk.count, 0)
        if n < 0 {
            if errno == ECONNRESET { return false }
            throw POSIXError(.init(rawValue: errno) ?? .EIO)
        }
        buffer.append(contentsOf: chunk[..<n])
        return n > 0
    }

    func close() { Glibc.close(fd) }
}
