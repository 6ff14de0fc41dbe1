import Testing
import AWS

@Suite struct EndpointTests {
    @Test(arguments: [
        (AWSService.sqs, "sqs", "AWS_ENDPOINT_URL_SQS", "https://sqs.us-east-1.amazonaws.com"),
        (.stepFunctions, "states", "AWS_ENDPOINT_URL_SFN", "https://states.us-east-1.amazonaws.com"),
        (.sageMaker, "sagemaker", "AWS_ENDPOINT_URL_SAGEMAKER", "https://api.sagemaker.us-east-1.amazonaws.com"),
        (.eventBridge, "events", "AWS_ENDPOINT_URL_EVENTBRIDGE", "https://events.us-east-1.amazonaws.com"),
        (.dynamoDB, "dynamodb", "AWS_ENDPOINT_URL_DYNAMODB", "https://dynamodb.us-east-1.amazonaws.com"),
        (.sts, "sts", "AWS_ENDPOINT_URL_STS", "https://sts.us-east-1.amazonaws.com"),
    ])
    func serviceNamesAndDefaults(service: AWSService, signingName: String, key: String, url: String) throws {
        #expect(service.signingName == signingName)
        #expect(service.endpointEnvironmentKey == key)
        let endpoint = try EndpointResolver.resolve(service, region: "us-east-1", explicit: nil, environment: Environment([:]))
        #expect(endpoint == Endpoint(url: url, host: String(url.dropFirst("https://".count)), source: "default"))
    }

    @Test func chinaRegionsUseTheChinaDomain() throws {
        let endpoint = try EndpointResolver.resolve(.sqs, region: "cn-northwest-1", explicit: nil, environment: Environment([:]))
        #expect(endpoint.url == "https://sqs.cn-northwest-1.amazonaws.com.cn")
        #expect(endpoint.host == "sqs.cn-northwest-1.amazonaws.com.cn")
    }

    /// Every source set, each to a different port; the case drops the sources above the one
    /// expected to win.
    @Test(arguments: [
        ("--endpoint-url", "http://127.0.0.1:1001"),
        ("AWS_ENDPOINT_URL_SQS", "http://127.0.0.1:1002"),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:1003"),
        ("default", "https://sqs.eu-west-1.amazonaws.com"),
    ])
    func precedence(winner: String, url: String) throws {
        let order = ["--endpoint-url", "AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL", "default"]
        let present = Set(order.drop { $0 != winner })
        var values = ["AWS_ENDPOINT_URL_SFN": "http://127.0.0.1:9999"]
        if present.contains("AWS_ENDPOINT_URL_SQS") { values["AWS_ENDPOINT_URL_SQS"] = "http://127.0.0.1:1002" }
        if present.contains("AWS_ENDPOINT_URL") { values["AWS_ENDPOINT_URL"] = "http://127.0.0.1:1003" }
        let endpoint = try EndpointResolver.resolve(
            .sqs, region: "eu-west-1",
            explicit: present.contains("--endpoint-url") ? "http://127.0.0.1:1001" : nil,
            environment: Environment(values)
        )
        #expect(endpoint.url == url)
        #expect(endpoint.source == winner)
    }

    @Test func ignoreConfiguredEndpointURLsSkipsTheVariablesOnly() throws {
        let environment = Environment([
            "AWS_ENDPOINT_URL": "http://127.0.0.1:1003", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true",
        ])
        #expect(try EndpointResolver.resolve(.sqs, region: "us-east-1", explicit: nil, environment: environment).source == "default")
        #expect(
            try EndpointResolver.resolve(.sqs, region: "us-east-1", explicit: "http://localhost:1", environment: environment).source
                == "--endpoint-url")
    }

    @Test(arguments: [
        ("http://127.0.0.1:5000/", "http://127.0.0.1:5000", "127.0.0.1:5000"),
        ("HTTP://LocalHost:4566", "http://localhost:4566", "localhost:4566"),
        ("https://vpce.example.com:443/", "https://vpce.example.com:443", "vpce.example.com"),
        ("http://example.com:80", "http://example.com:80", "example.com"),
        ("https://example.com:80", "https://example.com:80", "example.com:80"),
        ("http://[::1]:5000", "http://[::1]:5000", "[::1]:5000"),
        ("https://proxy.example.com/aws//", "https://proxy.example.com/aws", "proxy.example.com"),
    ])
    func normalisesConfiguredURLs(value: String, url: String, host: String) throws {
        let endpoint = try EndpointResolver.resolve(.sqs, region: "us-east-1", explicit: value, environment: Environment([:]))
        #expect(endpoint == Endpoint(url: url, host: host, source: "--endpoint-url"))
    }

    @Test(arguments: [
        ("localhost:4566", "must start with http:// or https://"),
        ("ftp://example.com", "must start with http:// or https://"),
        ("http://", "has no host"),
        ("http://example.com?a=b", "must not have a query"),
        ("not a url", "must start with http:// or https://"),
        ("http://exa mple.com", "is not a URL"),
        ("https://example.com:99999", "outside 1-65535"),
        ("http://example.com#top", "must not have a query or fragment"),
    ])
    func invalidURLsNameTheirSource(value: String, reason: String) throws {
        let error = try #require(throws: EndpointError.self) {
            try EndpointResolver.resolve(
                .stepFunctions, region: "us-east-1", explicit: nil, environment: Environment(["AWS_ENDPOINT_URL_SFN": value]))
        }
        #expect(error.source == "AWS_ENDPOINT_URL_SFN")
        #expect(error.description.hasPrefix("AWS_ENDPOINT_URL_SFN: "))
        #expect(error.message.contains(reason))
    }

    @Test func aPasswordInTheURLIsNotEchoed() throws {
        let error = try #require(throws: EndpointError.self) {
            try EndpointResolver.resolve(.sqs, region: "us-east-1", explicit: "http://user:hunter2@localhost:1", environment: Environment([:]))
        }
        #expect(error.source == "--endpoint-url")
        #expect(!error.description.contains("hunter2"))
    }

    @Test func anInvalidRegionIsNotPutInAHostName() throws {
        let error = try #require(throws: EndpointError.self) {
            try EndpointResolver.resolve(.sqs, region: "evil.com/x", explicit: nil, environment: Environment([:]))
        }
        #expect(error.source == "region")
    }
}
