#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import JSON

/// Recorded events as `replay` reads them: one JSON event, a JSON array of events, or JSON lines
/// (one event per line). An SNS-wrapped event is one event like any other.
public enum RecordedEvents {
    /// Splits a file's text into message bodies. Text that is JSON lines (its first line is a
    /// JSON document) gives one body per line, so a bad line is rejected on its own; any other
    /// text is one body, rejected with its reason.
    public static func split(_ text: String) -> [String] { split(Array(text.utf8)) }

    /// The same over bytes: files of many megabytes are cut on bytes, never walked as Characters.
    public static func split(_ bytes: [UInt8]) -> [String] {
        let whole = trimmed(bytes[...])
        guard !whole.isEmpty else { return [] }
        if let value = try? JSONValue.parse(whole) {
            if let array = value.arrayValue { return array.map { $0.serialized() } }
            return [String(decoding: whole, as: UTF8.self)]
        }
        let lines = whole.split(separator: UInt8(ascii: "\n")).map(trimmed).filter { !$0.isEmpty }
        guard lines.count > 1, let first = lines.first, (try? JSONValue.parse(first)) != nil else {
            return [String(decoding: whole, as: UTF8.self)]
        }
        return lines.map { String(decoding: $0, as: UTF8.self) }
    }

    private static func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }
        guard let first = bytes.firstIndex(where: { !isSpace($0) }), let last = bytes.lastIndex(where: { !isSpace($0) }) else {
            return bytes[bytes.startIndex..<bytes.startIndex]
        }
        return bytes[first...last]
    }

    /// A file of recorded events that cannot be read.
    public struct UnreadableFile: Error, Sendable, CustomStringConvertible {
        public var path: String
        public var description: String { "cannot read '\(path)'" }
    }

    /// Reads `path` (`-` for standard input) and splits it.
    public static func load(_ path: String) throws(UnreadableFile) -> [String] {
        if path == "-" {
            return split(StandardInput.readToEnd())
        }
        guard let contents = FileManager.default.contents(atPath: path) else {
            throw UnreadableFile(path: path)
        }
        return split(Array(contents))
    }
}
