import AWS
import CallbackStore
import Logging
import Relay
import Testing

@Suite("Configuration")
struct ConfigurationTests {
    static let queue = "https://sqs.eu-west-1.amazonaws.com/123456789012/events"

    @Test("the environment fills what the command line leaves out")
    func fromEnvironment() throws {
        let configuration = try CommandLineOptions().serve(
            Environment([
                "SAGEMAKER_CALLBACK_EVENTS_QUEUE_URL": Self.queue,
                "SAGEMAKER_CALLBACK_REQUESTS_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/requests",
                "SAGEMAKER_CALLBACK_DATABASE": "/tmp/x.sqlite",
                "LOG_LEVEL": "debug",
            ]))
        #expect(configuration.aws.region == "eu-west-1")
        #expect(configuration.database == .sqlite(path: "/tmp/x.sqlite"))
        #expect(configuration.logLevel == .debug)
        #expect(configuration.aws.endpoints[.stepFunctions]?.url == "https://states.eu-west-1.amazonaws.com")
    }

    @Test("heartbeat and sweep settings: defaults, the environment, and the command line over it")
    func timers() throws {
        let defaults = try CommandLineOptions().serve(Environment(["SAGEMAKER_CALLBACK_EVENTS_QUEUE_URL": Self.queue]))
        #expect(defaults.heartbeatInterval == .seconds(60))
        #expect(defaults.sweep == SafetySweep.Settings(after: .seconds(3_600), grace: .seconds(600), rate: 1))

        var options = CommandLineOptions()
        options.heartbeatInterval = "2.5"
        options.sweepRate = "0.5"
        let configured = try options.serve(
            Environment([
                "SAGEMAKER_CALLBACK_EVENTS_QUEUE_URL": Self.queue, "SAGEMAKER_CALLBACK_HEARTBEAT_INTERVAL": "30",
                "SAGEMAKER_CALLBACK_SWEEP_AFTER": "900", "SAGEMAKER_CALLBACK_SWEEP_GRACE": "0", "SAGEMAKER_CALLBACK_SWEEP_RATE": "3",
            ]))
        #expect(configured.heartbeatInterval == .milliseconds(2_500))
        #expect(configured.sweep == SafetySweep.Settings(after: .seconds(900), grace: .zero, rate: 0.5))

        options.sweepAfter = "0"
        #expect {
            _ = try options.serve(Environment(["SAGEMAKER_CALLBACK_EVENTS_QUEUE_URL": Self.queue]))
        } throws: { error in
            (error as? ConfigurationError)?.description == "--sweep-after: 0 is outside 1–2592000 seconds"
        }
    }

    @Test("--max-in-flight: 256 by default, the environment, the command line over it; whole numbers 1–4096")
    func maxInFlight() throws {
        let environment = ["SAGEMAKER_CALLBACK_EVENTS_QUEUE_URL": Self.queue]
        #expect(try CommandLineOptions().serve(Environment(environment)).maxInFlight == 256)
        var options = CommandLineOptions()
        #expect(try options.serve(Environment(environment.merging(["SAGEMAKER_CALLBACK_MAX_IN_FLIGHT": "1024"]) { $1 })).maxInFlight == 1_024)
        options.maxInFlight = "8"
        #expect(try options.serve(Environment(environment.merging(["SAGEMAKER_CALLBACK_MAX_IN_FLIGHT": "1024"]) { $1 })).maxInFlight == 8)
        for (bad, message) in [
            ("0", "--max-in-flight: 0 is outside 1–4096 calls"), ("5000", "--max-in-flight: 5000 is outside 1–4096 calls"),
            ("2.5", "--max-in-flight: '2.5' is not a whole number of calls"), ("many", "--max-in-flight: 'many' is not a number of calls"),
        ] {
            options.maxInFlight = bad
            #expect { _ = try options.serve(Environment(environment)) } throws: { error in
                (error as? ConfigurationError)?.description == message
            }
        }
    }

    @Test("the command line wins over the environment")
    func commandLineWins() throws {
        var options = CommandLineOptions()
        options.eventsQueueURL = Self.queue
        options.region = "us-west-2"
        options.endpointURL = "http://127.0.0.1:4566"
        options.database = "cli.sqlite"
        let configuration = try options.serve(Environment(["AWS_REGION": "eu-central-1", "SAGEMAKER_CALLBACK_DATABASE": "env.sqlite"]))
        #expect(configuration.aws.region == "us-west-2")
        #expect(configuration.database == .sqlite(path: "cli.sqlite"))
        #expect(configuration.aws.endpoints[.sqs]?.url == "http://127.0.0.1:4566")
    }

    /// Each bad configuration names the option to fix (the executable prints it and exits 64).
    @Test(
        "bad configuration names its option",
        arguments: [
            ([String: String](), "--events-queue-url"),
            (["SAGEMAKER_CALLBACK_EVENTS_QUEUE_URL": "ftp://x/y"], "SAGEMAKER_CALLBACK_EVENTS_QUEUE_URL"),
            (["SAGEMAKER_CALLBACK_EVENTS_QUEUE_URL": queue, "LOG_LEVEL": "loud"], "LOG_LEVEL"),
            (["SAGEMAKER_CALLBACK_EVENTS_QUEUE_URL": queue, "SAGEMAKER_CALLBACK_REQUESTS_QUEUE_URL": queue], "--requests-queue-url"),
            (["SAGEMAKER_CALLBACK_EVENTS_QUEUE_URL": "http://127.0.0.1:5000/123456789012/events"], "--region"),
            (["SAGEMAKER_CALLBACK_EVENTS_QUEUE_URL": queue, "AWS_ENDPOINT_URL_SFN": "not a url"], "AWS_ENDPOINT_URL_SFN"),
            (["SAGEMAKER_CALLBACK_EVENTS_QUEUE_URL": queue, "SAGEMAKER_CALLBACK_HEARTBEAT_INTERVAL": "0"], "SAGEMAKER_CALLBACK_HEARTBEAT_INTERVAL"),
            (
                ["SAGEMAKER_CALLBACK_EVENTS_QUEUE_URL": queue, "SAGEMAKER_CALLBACK_HEARTBEAT_INTERVAL": "soon"],
                "SAGEMAKER_CALLBACK_HEARTBEAT_INTERVAL"
            ),
            (["SAGEMAKER_CALLBACK_EVENTS_QUEUE_URL": queue, "SAGEMAKER_CALLBACK_SWEEP_AFTER": "-5"], "SAGEMAKER_CALLBACK_SWEEP_AFTER"),
            (["SAGEMAKER_CALLBACK_EVENTS_QUEUE_URL": queue, "SAGEMAKER_CALLBACK_SWEEP_GRACE": "nan"], "SAGEMAKER_CALLBACK_SWEEP_GRACE"),
            (["SAGEMAKER_CALLBACK_EVENTS_QUEUE_URL": queue, "SAGEMAKER_CALLBACK_SWEEP_RATE": "0"], "SAGEMAKER_CALLBACK_SWEEP_RATE"),
        ])
    func bad(environment: [String: String], option: String) {
        #expect {
            _ = try CommandLineOptions().serve(Environment(environment))
        } throws: { error in
            guard let error = error as? ConfigurationError else { return false }
            return error.option.hasPrefix(option) && !error.message.isEmpty && !"\(error)".contains("\n")
        }
    }

    @Test("--database names a SQLite path or a DynamoDB table; a bad value, and a table without a client, fail naming --database")
    func database() async throws {
        var options = CommandLineOptions()
        options.database = "dynamodb://callbacks"
        #expect(try options.storeLocation(Environment([:])) == .dynamoDB(table: "callbacks"))
        #expect(try CommandLineOptions().storeLocation(Environment(["SAGEMAKER_CALLBACK_DATABASE": "env.sqlite"])) == .sqlite(path: "env.sqlite"))
        for bad in ["", "dynamodb://x", "dynamodb://bad name"] {
            options.database = bad
            #expect(throws: ConfigurationError.self) { try options.storeLocation(Environment([:])) }
            #expect((try? options.storeLocation(Environment([:]))) == nil)
            do { _ = try options.storeLocation(Environment([:])) } catch { #expect(error.option == "--database") }
        }
        do {
            _ = try await CallbackRelay.openStore(.dynamoDB(table: "callbacks"), logger: Logger(label: "test"))
            Issue.record("a DynamoDB table needs a client")
        } catch let error as ConfigurationError {
            #expect(error.option == "--database" && error.message.contains("dynamodb://callbacks"))
        }
    }
}
