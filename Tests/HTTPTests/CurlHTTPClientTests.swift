import HTTP
import Moto
import TestSupport
import Testing

@Suite(.timeLimit(.minutes(1)))
struct CurlHTTPClientTests {
    @Test func getRoundTripSendsHeadersAndReturnsThem() async throws {
        try await withClientAndServer { client, server in
            let response = try await client.execute(
                HTTPRequest(
                    method: "GET", url: server.url("/echo"), headers: [("X-Custom", "hello"), ("X-Empty", "")]))
            #expect(response.status == 200)
            #expect(response.header("x-echo-method") == "GET")
            #expect(response.header("X-ECHO-PATH") == "/echo")
            #expect(response.header("X-Echo-X-Custom") == "hello")
            #expect(response.header("X-Echo-X-Empty") == "")
            #expect(response.header("X-Echo-User-Agent") == "sagemaker-callback")
            #expect(response.header("X-Echo-Content-Type") == nil)
            #expect(response.header("Content-Length") == "0")
            #expect(response.body.isEmpty)
        }
    }

    @Test(arguments: ["POST", "PUT"])
    func bodyRoundTrip(method: String) async throws {
        try await withClientAndServer { client, server in
            let body = Array(#"{"TaskToken":"t"}"#.utf8)
            let response = try await client.execute(
                HTTPRequest(
                    method: method, url: server.url("/echo"),
                    headers: [("Content-Type", "application/x-amz-json-1.0"), ("X-Amz-Target", "AWSStepFunctions.SendTaskSuccess")],
                    body: body))
            #expect(response.status == 200)
            #expect(response.body == body)
            #expect(response.header("X-Echo-Method") == method)
            #expect(response.header("X-Echo-Content-Type") == "application/x-amz-json-1.0")
            #expect(response.header("X-Echo-X-Amz-Target") == "AWSStepFunctions.SendTaskSuccess")
            #expect(response.header("X-Echo-Content-Length") == String(body.count))
            #expect(response.header("X-Echo-Expect") == nil)
        }
    }

    @Test func postWithoutContentTypeSendsNone() async throws {
        try await withClientAndServer { client, server in
            let response = try await client.execute(HTTPRequest(method: "POST", url: server.url("/echo")))
            #expect(response.status == 200)
            #expect(response.header("X-Echo-Content-Length") == "0")
            #expect(response.header("X-Echo-Content-Type") == nil)
        }
    }

    @Test func errorStatusIsAResponseNotAnError() async throws {
        try await withClientAndServer { client, server in
            let response = try await client.execute(HTTPRequest(method: "GET", url: server.url("/status/503")))
            #expect(response.status == 503)
        }
    }

    @Test func headRequestNeedsNoBody() async throws {
        try await withClientAndServer { client, server in
            let response = try await client.execute(HTTPRequest(method: "HEAD", url: server.url("/echo")))
            #expect(response.status == 200)
            #expect(response.header("X-Echo-Method") == "HEAD")
            #expect(response.body.isEmpty)
        }
    }

    @Test func onlyTheFinalResponseHeadersAreKept() async throws {
        try await withClientAndServer { client, server in
            let response = try await client.execute(HTTPRequest(method: "GET", url: server.url("/interim")))
            #expect(response.status == 200)
            #expect(response.header("X-Final") == "yes")
            #expect(response.header("X-Interim") == nil)
        }
    }

    @Test func keepAliveConnectionIsReused() async throws {
        try await withClientAndServer { client, server in
            for index in 0..<10 {
                let body = Array("request \(index)".utf8)
                let response = try await client.execute(HTTPRequest(method: "POST", url: server.url("/echo"), body: body))
                #expect(response.body == body)
            }
            #expect(server.acceptedConnections == 1)
        }
    }

    @Test func serverThatClosesEveryConnectionStillWorks() async throws {
        try await withClientAndServer(policy: .closeAfterEachResponse) { client, server in
            for index in 0..<10 {
                let body = Array("request \(index)".utf8)
                let response = try await client.execute(HTTPRequest(method: "POST", url: server.url("/echo"), body: body))
                #expect(response.status == 200)
                #expect(response.body == body)
            }
            #expect(server.acceptedConnections == 10)
        }
    }

    @Test func twoHundredConcurrentRequestsAllComplete() async throws {
        try await withClientAndServer { client, server in
            let bodies = try await withThrowingTaskGroup(of: (Int, [UInt8]).self) { group in
                for index in 0..<200 {
                    group.addTask {
                        let response = try await client.execute(
                            HTTPRequest(
                                method: "POST", url: server.url("/echo"), body: Array("body \(index)".utf8)))
                        return (index, response.body)
                    }
                }
                return try await group.reduce(into: [Int: [UInt8]]()) { $0[$1.0] = $1.1 }
            }
            #expect(bodies.count == 200)
            for (index, body) in bodies {
                #expect(body == Array("body \(index)".utf8))
            }
            #expect(server.acceptedConnections <= 32)
        }
    }

    @Test func requestsBeyondTheTransferLimitWaitTheirTurn() async throws {
        let configuration = CurlHTTPClient.Configuration(maxConcurrentTransfers: 2)
        try await withClientAndServer(configuration: configuration) { client, server in
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<10 {
                    group.addTask { try await client.execute(HTTPRequest(method: "GET", url: server.url("/delay/20"))).status }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses == Array(repeating: 200, count: 10))
            #expect(server.acceptedConnections <= 2)
        }
    }

    @Test func oneMebibyteResponseArrivesIntact() async throws {
        try await withClientAndServer { client, server in
            let response = try await client.execute(HTTPRequest(method: "GET", url: server.url("/bytes/1048576")))
            #expect(response.status == 200)
            #expect(response.body == LoopbackHTTPServer.pattern(count: 1 << 20))
        }
    }

    @Test func oneMebibyteRequestBodyArrivesIntact() async throws {
        try await withClientAndServer { client, server in
            var generator = SystemRandomNumberGenerator()
            let body = (0..<(1 << 20)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let response = try await client.execute(HTTPRequest(method: "POST", url: server.url("/echo"), body: body))
            #expect(response.status == 200)
            #expect(response.body == body)
        }
    }

    @Test func headerLookupIsCaseInsensitiveAndTakesTheFirstMatch() {
        let response = HTTPResponse(status: 200, headers: [("X-Amzn-RequestId", "a"), ("x-amzn-requestid", "b")])
        #expect(response.header("x-AMZN-requestid") == "a")
        #expect(response.header("X-Amzn-Request") == nil)
    }
}
