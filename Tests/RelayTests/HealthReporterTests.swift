import AWS
import Foundation
import Logging
@testable import Relay
import Testing

@Suite("Health reporter", .timeLimit(.minutes(1)))
struct HealthReporterTests {
    static func directory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("health-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    @Test("it writes the report at once, mode 0644, and removes it when it stops")
    func writesAndRemoves() async throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("serve.health").path
        let liveness = Liveness()
        liveness.loop("events consumer", silentAfter: .seconds(95)).end()
        let reporter = HealthReporter(path: path, liveness: liveness, interval: .milliseconds(100), logger: Logger(label: "test"))
        let task = Task { try await reporter.run() }

        let deadline = ContinuousClock.now + .seconds(20)
        var read = HealthFile.read(path)
        while read == .missing, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
            read = HealthFile.read(path)
        }
        guard case .bytes(let bytes) = read else {
            Issue.record("no report: \(read)")
            return
        }
        let report = try HealthReport(parsing: bytes)
        #expect(report.pid == getpid())
        #expect(report.state == .running)
        #expect(report.loops.map(\.name) == ["events consumer"])
        // Judged as of its own writing: on a loaded machine the next write may come late, and
        // staleness has tests of its own.
        #expect(HealthVerdict.judge(.bytes(bytes), path: path, now: report.writtenAt).healthy)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o644)

        task.cancel()
        try await task.value
        #expect(HealthFile.read(path) == .missing)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty, "no temporary file left behind")
    }

    @Test("its last report says stopping, which the judge calls unhealthy")
    func stopping() throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("serve.health").path
        let reporter = HealthReporter(path: path, liveness: Liveness(), logger: Logger(label: "test"))
        try reporter.write(.running)
        try reporter.write(.stopping)
        #expect(HealthVerdict.check(path: path).description == "unhealthy: serve (pid \(getpid())) is stopping")
    }

    @Test("a directory that does not exist: the write fails with the reason, and nothing is left")
    func unwritable() throws {
        let path = "/nonexistent-\(UUID().uuidString)/serve.health"
        #expect(throws: HealthFile.WriteError.self) { try HealthFile.write([1], to: path) }
        #expect(HealthFile.read(path) == .missing)
    }

    @Test("the path: default, environment, option over it; a bad one names its option")
    func configuration() throws {
        #expect(try CommandLineOptions().healthFilePath(Environment([:])) == "/tmp/sagemaker-callback.health")
        let environment = Environment(["SAGEMAKER_CALLBACK_HEALTH_FILE": "/run/h"])
        #expect(try CommandLineOptions().healthFilePath(environment) == "/run/h")
        var options = CommandLineOptions()
        options.healthFile = "/var/h"
        #expect(try options.healthFilePath(environment) == "/var/h")
        let serve = try options.serve(Environment(["SAGEMAKER_CALLBACK_EVENTS_QUEUE_URL": ConfigurationTests.queue]))
        #expect(serve.healthFilePath == "/var/h")

        // An empty variable counts as unset, as every variable here does.
        #expect(try CommandLineOptions().healthFilePath(Environment(["SAGEMAKER_CALLBACK_HEALTH_FILE": ""])) == HealthFile.defaultPath)
        options.healthFile = ""
        #expect(throws: ConfigurationError(option: "--health-file", message: "is empty")) {
            try options.healthFilePath(environment)
        }
        #expect(throws: ConfigurationError(option: "SAGEMAKER_CALLBACK_HEALTH_FILE", message: "'/run/' names a directory, not a file")) {
            try CommandLineOptions().healthFilePath(Environment(["SAGEMAKER_CALLBACK_HEALTH_FILE": "/run/"]))
        }
        options.healthFile = "/tmp/"
        #expect(throws: ConfigurationError(option: "--health-file", message: "'/tmp/' names a directory, not a file")) {
            try options.healthFilePath(Environment([:]))
        }
    }
}
