public import Testing

/// Thrown by ``eventually(_:timeout:every:sourceLocation:_:)`` when its deadline passes: the
/// test has already recorded an issue saying what it waited for.
public struct TimedOut: Error, CustomStringConvertible {
    public let what: String
    public var description: String { "timed out waiting: \(what)" }
}

/// Waits until `condition` holds, checking every `every`; at `timeout` records an issue naming
/// `what` and throws ``TimedOut``. A condition that throws counts as not holding yet (a store or
/// an emulator that is not ready). The one deadline wait of the suite: tests assert on what
/// happened and keep the deadline only as a backstop against hangs.
public func eventually(
    _ what: String, timeout: Duration = .seconds(20), every interval: Duration = .milliseconds(5),
    sourceLocation: SourceLocation = #_sourceLocation, _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while (try? await condition()) != true {
        guard ContinuousClock.now < deadline else {
            Issue.record("timed out after \(timeout) waiting: \(what)", sourceLocation: sourceLocation)
            throw TimedOut(what: what)
        }
        try await Task.sleep(for: interval)
    }
}
