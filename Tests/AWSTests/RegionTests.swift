import Foundation
import Testing
@testable import AWS

@Suite struct RegionTests {
    /// Every source set, each to a different region; the case drops the sources above the one
    /// expected to win.
    @Test(arguments: [
        ("--region", "eu-north-1"),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_DEFAULT_REGION", "eu-west-2"),
        ("profile", "eu-west-3"),
        ("queue URL", "ap-south-1"),
    ])
    func precedence(winner: String, expected: String) throws {
        let files = try SharedFilesFixture()
        try files.writeConfig("[profile p]\nregion = eu-west-3\n")
        let order = ["--region", "AWS_REGION", "AWS_DEFAULT_REGION", "profile", "queue URL"]
        let present = Set(order.drop { $0 != winner })
        var values: [String: String] = [:]
        if present.contains("AWS_REGION") { values["AWS_REGION"] = "eu-west-1" }
        if present.contains("AWS_DEFAULT_REGION") { values["AWS_DEFAULT_REGION"] = "eu-west-2" }
        let region = try RegionResolver.resolve(
            explicit: present.contains("--region") ? "eu-north-1" : nil,
            environment: files.environment(values),
            profile: present.contains("profile") ? "p" : "absent",
            queueURL: "https://sqs.ap-south-1.amazonaws.com/123456789012/events"
        )
        #expect(region == expected)
    }

    @Test func profileFromAWSProfile() throws {
        let files = try SharedFilesFixture()
        try files.writeConfig("[default]\nregion = us-east-1\n[profile ci]\nregion = us-west-2\n")
        #expect(
            try RegionResolver.resolve(explicit: nil, environment: files.environment(["AWS_PROFILE": "ci"]), profile: nil, queueURL: nil)
                == "us-west-2")
        #expect(try RegionResolver.resolve(explicit: nil, environment: files.environment(), profile: nil, queueURL: nil) == "us-east-1")
    }

    @Test(arguments: [
        ("https://sqs.us-east-1.amazonaws.com/123456789012/q", "us-east-1"),
        ("https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q", "cn-north-1"),
        ("https://sqs-fips.us-gov-west-1.amazonaws.com/123456789012/q", "us-gov-west-1"),
        ("https://eu-west-1.queue.amazonaws.com/123456789012/q", "eu-west-1"),
        ("https://queue.amazonaws.com/123456789012/q", "us-east-1"),
        ("http://sqs.us-east-1.localhost.localstack.cloud:4566/000000000000/q", "us-east-1"),
    ])
    func regionFromQueueURL(url: String, expected: String) {
        #expect(RegionResolver.region(fromQueueURL: url) == expected)
    }

    @Test(arguments: [
        "http://127.0.0.1:5000/123456789012/q",
        "https://sqs.amazonaws.com/123456789012/q",
        "https://sqs.notaregion.amazonaws.com/q",
        "not a url",
        "",
    ])
    func noRegionInQueueURL(url: String) {
        #expect(RegionResolver.region(fromQueueURL: url) == nil)
    }

    @Test func missingRegionSaysWhatWasTried() throws {
        let files = try SharedFilesFixture()
        let error = try #require(throws: RegionError.self) {
            try RegionResolver.resolve(explicit: nil, environment: files.environment(), profile: nil, queueURL: "http://127.0.0.1:5000/1/q")
        }
        #expect(error.code == .notFound)
        for source in ["--region", "AWS_REGION", "AWS_DEFAULT_REGION", "profile 'default'", files.configPath, "queue URL"] {
            #expect(error.message.contains(source), "missing \(source)")
        }
    }

    @Test(
        arguments: [
            ("us-east-1.evil.com/", nil, "--region"),
            (nil, "US_EAST_1", "AWS_REGION"),
        ] as [(String?, String?, String)])
    func invalidRegionNamesItsSource(explicit: String?, environmentRegion: String?, source: String) throws {
        let environment = Environment(environmentRegion.map { ["AWS_REGION": $0] } ?? [:])
        let error = try #require(throws: RegionError.self) {
            try RegionResolver.resolve(explicit: explicit, environment: environment, profile: nil, queueURL: nil)
        }
        #expect(error.code == .invalid)
        #expect(error.message.hasPrefix(source))
    }

    @Test func unreadableConfigFallsBackToTheQueueURLAndIsReported() throws {
        let files = try SharedFilesFixture()
        try FileManager.default.createDirectory(atPath: files.configPath, withIntermediateDirectories: false)
        let environment = files.environment()
        #expect(
            try RegionResolver.resolve(explicit: nil, environment: environment, profile: nil, queueURL: "https://sqs.us-east-2.amazonaws.com/1/q")
                == "us-east-2")
        let error = try #require(throws: RegionError.self) {
            try RegionResolver.resolve(explicit: nil, environment: environment, profile: nil, queueURL: nil)
        }
        #expect(error.message.contains("cannot read \(files.configPath)"))
    }
}
