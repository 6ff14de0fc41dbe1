import Foundation
import Testing

/// `sagemaker-callback health` against the real `serve`, as the ECS container health check runs it.
@Suite("The health command", .timeLimit(.minutes(5)))
struct HealthProcessTests {
    /// Runs `health` against `file`; returns its exit status and its one line.
    static func health(_ file: String, environment: [String: String] = [:]) async throws -> (status: Int32, line: String) {
        let result = try await ServiceProcess.run(["health", "--health-file", file], environment: environment)
        #expect(result.err.isEmpty, "stderr: \(result.err)")
        let lines = result.out.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 2 && lines[1].isEmpty, "exactly one line: \(result.out)")
        return (result.status, String(lines.first ?? ""))
    }

    /// Runs `health` until it answers `status`, or fails after `timeout`; returns its last line.
    static func waitFor(_ status: Int32, _ file: String, timeout: Duration = .seconds(90)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        var last = try await health(file)
        while last.status != status, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(200))
            last = try await health(file)
        }
        #expect(last.status == status, "health never exited \(status); last: \(last.line)")
        return last.line
    }

    @Test("no serve: unhealthy; serve running: healthy; after kill -9 and after SIGTERM: unhealthy")
    func lifecycle() async throws {
        let emulator = try await Emulator.start("health")
        defer { emulator.stop() }
        let file = emulator.directory.appendingPathComponent("serve.health").path
        let log = emulator.directory.appendingPathComponent("service.log")

        let none = try await Self.health(file)
        #expect(none.status == 1)
        #expect(none.line == "unhealthy: no health report at \(file): serve is not running here")

        let first = try ServiceProcess(["serve", "--health-file", file], environment: emulator.serviceEnvironment, log: log)
        let healthy = try await Self.waitFor(0, file)
        #expect(healthy.hasPrefix("healthy: serve (pid \(first.process.processIdentifier))"), "\(healthy)\n\(first.output.suffix(2000))")
        let attributes = try FileManager.default.attributesOfItem(atPath: file)
        #expect((attributes[.posixPermissions] as? Int) == 0o644)
        let start = ContinuousClock.now
        _ = try await Self.health(file)
        #expect(ContinuousClock.now - start < .seconds(5), "the check is quick")

        first.crash()
        let dead = try await Self.health(file)
        #expect(dead.status == 1)
        #expect(dead.line.hasPrefix("unhealthy: serve (pid \(first.process.processIdentifier)) is not running"), "\(dead.line)")

        // The environment names the file too (the emulator's sets it); a new serve overwrites the stale report.
        #expect(emulator.serviceEnvironment["SAGEMAKER_CALLBACK_HEALTH_FILE"] == file)
        let second = try ServiceProcess(["serve"], environment: emulator.serviceEnvironment, log: log)
        let again = try await Self.waitFor(0, file)
        #expect(again.hasPrefix("healthy: serve (pid \(second.process.processIdentifier))"), "\(again)")

        let (status, _) = try await second.terminate()
        #expect(status == 0, "exit status \(status): \(second.output.suffix(2000))")
        let stopped = try await Self.health(file)
        #expect(stopped.status == 1)
        #expect(stopped.line == "unhealthy: no health report at \(file): serve is not running here", "the file is removed on shutdown")
    }

    @Test("a missing file: exit 1 with one line, whatever the directory")
    func missing() async throws {
        let file = "/nonexistent-\(UUID().uuidString.prefix(8))/serve.health"
        let result = try await Self.health(file)
        #expect(result.status == 1)
        #expect(result.line == "unhealthy: no health report at \(file): serve is not running here")
    }
}
