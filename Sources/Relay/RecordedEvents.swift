import Foundation
import JSON

/// Recorded events as `replay` reads them: one JSON event, a JSON array of events, or JSON lines
/// (one event per line). An SNS-wrapped event is one event like any other.
public enum RecordedEvents {
    /// Splits a file's text into message bodies. Text that is JSON lines (its first line is a
    /// JSON document) gives one body per line, so a bad line is rejected on its own; any other
    /// text is one body, rejected with its reason.
    public static func split(_ text: String) -> [String] {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { return [] }
        if let value = try? JSONValue.parse(trimmed) {
            if let array = value.arrayValue { return array.map { $0.serialized() } }
            return [trimmed]
        }
        let lines = trimmed.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        guard lines.count > 1, let first = lines.first, (try? JSONValue.parse(first)) != nil else { return [trimmed] }
        return lines
    }

    /// Reads `path` (`-` for standard input) and splits it.
    public static func load(_ path: String) throws -> [String] {
        let data: Data
        if path == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard let contents = FileManager.default.contents(atPath: path) else {
                throw ConfigurationError(option: "FILE", message: "cannot read '\(path)'")
            }
            data = contents
        }
        return split(String(decoding: data, as: UTF8.self))
    }
}
