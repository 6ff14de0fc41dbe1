import AWS
import Relay
import Testing

@Suite("Configuration: the listener, the log format, the receive wait")
struct OperationsConfigurationTests {
    static let environment = ["SAGEMAKER_CALLBACK_EVENTS_QUEUE_URL": ConfigurationTests.queue]

    /// The error `serve` configuration stops with, given `options` and `variables` beside the queue.
    static func refusal(_ options: CommandLineOptions = CommandLineOptions(), variables: [String: String] = [:]) -> String? {
        do {
            _ = try options.serve(Environment(environment.merging(variables) { $1 }))
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test("--http-address: off by default, the environment, the command line over it")
    func httpAddress() throws {
        #expect(try CommandLineOptions().serve(Environment(Self.environment)).httpAddress == nil)
        #expect(
            try CommandLineOptions().serve(Environment(Self.environment.merging(["SAGEMAKER_CALLBACK_HTTP_ADDRESS": ""]) { $1 })).httpAddress == nil)
        let fromEnvironment = Environment(Self.environment.merging(["SAGEMAKER_CALLBACK_HTTP_ADDRESS": "0.0.0.0:9090"]) { $1 })
        #expect(try CommandLineOptions().serve(fromEnvironment).httpAddress == HTTPAddress(host: "0.0.0.0", port: 9090))
        var options = CommandLineOptions()
        options.httpAddress = "[::1]:0"
        #expect(try options.serve(fromEnvironment).httpAddress == HTTPAddress(host: "::1", port: 0))
        #expect(HTTPAddress(host: "::1", port: 0).description == "[::1]:0")
    }

    @Test(
        "a bad --http-address names its option and what is wrong",
        arguments: [
            ("9090", "--http-address: '9090' is not HOST:PORT"),
            (":9090", "--http-address: ':9090' has no host"),
            ("localhost:http", "--http-address: 'localhost:http' has no port 0–65535"),
            ("localhost:70000", "--http-address: 'localhost:70000' has no port 0–65535"),
            ("::1:80", "--http-address: '::1:80' is not HOST:PORT"),
            ("[::1]80", "--http-address: '[::1]80' is not [IPV6]:PORT"),
        ])
    func badAddress(text: String, message: String) {
        var options = CommandLineOptions()
        options.httpAddress = text
        #expect(Self.refusal(options) == message)
    }

    @Test("a bad SAGEMAKER_CALLBACK_HTTP_ADDRESS names the variable")
    func badAddressVariable() {
        #expect(
            Self.refusal(variables: ["SAGEMAKER_CALLBACK_HTTP_ADDRESS": "nowhere"]) == "SAGEMAKER_CALLBACK_HTTP_ADDRESS: 'nowhere' is not HOST:PORT")
    }

    @Test("--log-format: text by default, LOG_FORMAT, the command line over it; nothing else")
    func logFormat() throws {
        #expect(try CommandLineOptions().serve(Environment(Self.environment)).logFormat == .text)
        let json = Environment(Self.environment.merging(["LOG_FORMAT": "JSON"]) { $1 })
        #expect(try CommandLineOptions().serve(json).logFormat == .json)
        var options = CommandLineOptions()
        options.logFormat = "text"
        #expect(try options.serve(json).logFormat == .text)
        options.logFormat = "yaml"
        #expect(Self.refusal(options, variables: ["LOG_FORMAT": "json"]) == "--log-format: 'yaml' is not text or json")
        #expect(Self.refusal(variables: ["LOG_FORMAT": "xml"]) == "LOG_FORMAT: 'xml' is not text or json")
    }

    @Test("SAGEMAKER_CALLBACK_RECEIVE_WAIT: 20 s by default, whole seconds 1–20")
    func receiveWait() throws {
        #expect(try CommandLineOptions().serve(Environment(Self.environment)).receiveWaitSeconds == 20)
        #expect(
            try CommandLineOptions().serve(Environment(Self.environment.merging(["SAGEMAKER_CALLBACK_RECEIVE_WAIT": "2"]) { $1 })).receiveWaitSeconds
                == 2)
        #expect(Self.refusal(variables: ["SAGEMAKER_CALLBACK_RECEIVE_WAIT": "30"]) == "SAGEMAKER_CALLBACK_RECEIVE_WAIT: 30 is outside 1–20 seconds")
    }
}
