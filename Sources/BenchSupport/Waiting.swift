import Foundation

/// Writes a line to standard output at once (print's buffer would hold a file's or a pipe's
/// lines until the end), so each workload's line shows as it finishes.
public func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Waits until `condition` holds, checking every 5 ms; throws after `seconds` or if serve exits.
public func until(_ what: String, serve: ServeProcess, seconds: Double, _ condition: () -> Bool) async throws {
    try await waitUntil(what, seconds: seconds) {
        guard serve.isRunning else { throw BenchError("serve exited while waiting for \(what)") }
        return condition()
    }
}

/// Waits until `condition` holds (or throws), checking every 5 ms; throws after `seconds`.
public func waitUntil(_ what: String, seconds: Double, _ condition: () throws -> Bool) async throws {
    let deadline = Date().addingTimeInterval(seconds)
    while try !condition() {
        guard Date() < deadline else { throw BenchError("timed out after \(Int(seconds)) s waiting for \(what)") }
        try await Task.sleep(for: .milliseconds(5))
    }
}
