import AWS
import Foundation
import HTTP
import Relay
import Synchronization
import Testing

/// How `serve` and `doctor` start: the options the binary declares, and the region lookup over
/// the one transport.
@Suite("Start-up: declarations and the region lookup", .timeLimit(.minutes(2)))
struct StartupTests {
    /// Answers the instance metadata service's two region requests, recording what was asked.
    final class MetadataStandIn: HTTPClient {
        private let asked = Mutex<[String]>([])
        var requests: [String] { asked.withLock { $0 } }

        func execute(_ request: HTTPRequest) async throws -> HTTPResponse {
            asked.withLock { $0.append("\(request.method) \(request.url)") }
            switch (request.method, request.url.hasSuffix("/latest/api/token"), request.url.hasSuffix("/latest/meta-data/placement/region")) {
            case ("PUT", true, _): return HTTPResponse(status: 200, body: Array("stand-in-token".utf8))
            case ("GET", _, true): return HTTPResponse(status: 200, body: Array("eu-north-1".utf8))
            default: return HTTPResponse(status: 404, body: [])
            }
        }
    }

    @Test("the region comes from the instance metadata service over the transport given, and only when nothing else names one")
    func regionOverTheTransport() async throws {
        var options = CommandLineOptions()
        options.eventsQueueURL = "http://127.0.0.1:1/123456789012/events"
        let metadata = ["AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:9"]

        let http = MetadataStandIn()
        let configuration = try await CallbackRelay.configuration(options, environment: Environment(metadata), http: http)
        #expect(configuration.aws.region == "eu-north-1")
        #expect(http.requests == ["PUT http://127.0.0.1:9/latest/api/token", "GET http://127.0.0.1:9/latest/meta-data/placement/region"])

        let named = MetadataStandIn()
        let given = try await CallbackRelay.configuration(
            options, environment: Environment(metadata.merging(["AWS_REGION": "eu-west-3"]) { $1 }), http: named
        )
        #expect(given.aws.region == "eu-west-3")
        #expect(named.requests.isEmpty, "a region named elsewhere asks nothing")
    }

    @Test("serve declares every option of the table, with the help the table gives it")
    func serveDeclaresEveryOption() async throws {
        let result = try await ServiceProcess.run(["serve", "--help"], environment: [:])
        #expect(result.status == 0, "\(result.err)")
        func collapsed(_ text: String) -> String { text.split(whereSeparator: \.isWhitespace).joined(separator: " ") }
        let help = collapsed(result.out)
        for option in OptionSpec.table.all {
            guard let flag = option.flag else { continue }
            #expect(
                help.contains("\(flag) <\(option.valueName)> \(collapsed(option.help))"), "\(flag) is not declared as the table says:\n\(result.out)")
        }
    }
}
