public import InMemoryLogging
public import Logging

/// A logger whose every line at `level` or above is kept in `handler` (swift-log's
/// `InMemoryLogHandler`), for tests that check what was logged, or that nothing secret was.
public func recordingLogger(level: Logger.Level = .trace) -> (logger: Logger, handler: InMemoryLogHandler) {
    var handler = InMemoryLogHandler()
    handler.logLevel = level
    return (Logger(label: "test") { _ in handler }, handler)
}

/// A logger that drops everything, for code that wants one and tests that do not read it.
public let silentLogger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
