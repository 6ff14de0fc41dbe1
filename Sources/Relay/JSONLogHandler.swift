import JSON
public import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Writes each log event as one JSON object on one line (`--log-format json`), for CloudWatch
/// Logs Insights: `timestamp` (RFC 3339, milliseconds, UTC), `level`, `message`, `logger`, then
/// the metadata as flat fields under their dotted keys (the handler's, the provider's, then the
/// event's, later ones winning). Values are strings, as swift-log gives them, but for nested
/// lists and dictionaries, which become JSON arrays and objects. Escaping is the `JSON` module's.
public struct JSONLogHandler: LogHandler {
    public let label: String
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let output: @Sendable ([UInt8]) -> Void

    /// A handler writing to standard error, or to `output` (tests).
    public init(label: String, metadataProvider: Logger.MetadataProvider? = nil, output: (@Sendable ([UInt8]) -> Void)? = nil) {
        self.label = label
        self.metadataProvider = metadataProvider
        self.output = output ?? Self.standardError
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        output(Self.line(event, label: label, handlerMetadata: metadata, provided: metadataProvider?.get(), now: Self.now()))
    }

    /// The bytes of one line, newline included.
    static func line(_ event: LogEvent, label: String, handlerMetadata: Logger.Metadata, provided: Logger.Metadata?, now: timespec) -> [UInt8] {
        var members: [(String, JSONValue)] = [
            ("timestamp", .string(timestamp(now))), ("level", .string(event.level.rawValue)),
            ("message", .string(event.message.description)), ("logger", .string(label)),
        ]
        var fields = handlerMetadata
        if let provided { fields.merge(provided) { _, new in new } }
        if let metadata = event.metadata { fields.merge(metadata) { _, new in new } }
        if let error = event.error, fields["error"] == nil { fields["error"] = "\(error)" }
        for key in fields.keys.sorted() {
            guard let value = fields[key] else { continue }
            // A field named like a fixed one keeps its value under a prefixed key.
            members.append((reserved.contains(key) ? "metadata.\(key)" : key, json(value)))
        }
        var bytes = JSONValue.object(JSONObject(members)).serializedBytes()
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }

    /// The fixed fields every line starts with.
    private static let reserved: Set<String> = ["timestamp", "level", "message", "logger"]

    private static func json(_ value: Logger.MetadataValue) -> JSONValue {
        switch value {
        case .string(let text): .string(text)
        case .stringConvertible(let convertible): .string(convertible.description)
        case .array(let values): .array(values.map(json))
        case .dictionary(let dictionary): .object(JSONObject(dictionary.keys.sorted().map { ($0, json(dictionary[$0]!)) }))
        }
    }

    static func now() -> timespec {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return time
    }

    /// `2026-12-03T17:14:26.123Z`.
    static func timestamp(_ time: timespec) -> String {
        var seconds = time_t(time.tv_sec)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(time.tv_nsec / 1_000_000), 3))Z"
    }

    @Sendable static func standardError(_ bytes: [UInt8]) { writeLine(bytes, to: STDERR_FILENO) }

    /// One `write(2)` per line (more only when the kernel takes less), so lines from several
    /// threads never interleave.
    static func writeLine(_ bytes: [UInt8], to fd: Int32) {
        var rest = bytes[...]
        while !rest.isEmpty {
            let written = rest.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written < 0, errno == EINTR { continue }
            guard written > 0 else { return }
            rest = rest.dropFirst(written)
        }
    }
}
