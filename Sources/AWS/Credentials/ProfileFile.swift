#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The profiles of one shared AWS file (`~/.aws/credentials` or `~/.aws/config`), read the way the
/// AWS SDKs read them.
///
/// The format is INI: `#` and `;` start a comment (at the start of a line, or after whitespace),
/// whitespace around `=` is ignored, section names are case-sensitive, keys are not (they are
/// stored lowercased), and there is no interpolation. Indented lines under a key with an empty
/// value (`s3 =` followed by `  max_concurrent_requests = 20`) are sub-settings and are skipped.
/// Lines that fit none of this are ignored, as the SDKs do.
package struct ProfileFile: Sendable, Equatable {
    /// Which file: the credentials file names profiles `[name]`; the config file names them
    /// `[profile name]`, except `[default]`, and holds other sections that are not profiles.
    package enum Kind: Sendable {
        case credentials, config
    }

    /// Settings by profile name, then by lowercased key.
    package var profiles: [String: [String: String]]

    /// Reads the file at `path`: nil when there is no file there (nothing configured), an error
    /// naming the path when it exists but cannot be read.
    static func load(path: String, kind: Kind) throws(CredentialProviderError) -> ProfileFile? {
        var isDirectory = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            return nil
        }
        guard !isDirectory, let data = FileManager.default.contents(atPath: path) else {
            throw CredentialProviderError(code: .unreadableFile, message: "cannot read \(path)")
        }
        guard let text = String(validating: data, as: UTF8.self) else {
            throw CredentialProviderError(code: .unreadableFile, message: "\(path) is not UTF-8 text")
        }
        return parse(text, kind: kind)
    }

    /// Parses the text of a shared file.
    package static func parse(_ text: String, kind: Kind) -> ProfileFile {
        var profiles: [String: [String: String]] = [:]
        var current: String?
        var inSubSettings = false
        for rawLine in text.split(omittingEmptySubsequences: true, whereSeparator: \.isNewline) {
            let line = withoutComment(rawLine).trimmingWhitespace()
            if line.isEmpty { continue }
            if line.hasPrefix("[") {
                inSubSettings = false
                current = line.hasSuffix("]") ? profileName(section: line.dropFirst().dropLast(), kind: kind) : nil
                if let current, profiles[current] == nil { profiles[current] = [:] }
                continue
            }
            guard let current else { continue }
            if inSubSettings, rawLine.first?.isWhitespace == true { continue }
            guard let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingWhitespace().lowercased()
            let value = line[line.index(after: equals)...].trimmingWhitespace()
            // An empty value opens a block of indented sub-settings; as a setting it is unset.
            inSubSettings = value.isEmpty
            if key.isEmpty || value.isEmpty { continue }
            profiles[current, default: [:]][key] = value
        }
        return ProfileFile(profiles: profiles)
    }

    /// The profile a section header names, or nil when the section is not a profile.
    private static func profileName(section: Substring, kind: Kind) -> String? {
        let name = section.trimmingWhitespace()
        switch kind {
        case .credentials:
            return name.isEmpty ? nil : name
        case .config:
            if name == "default" { return name }
            let words = name.split(maxSplits: 1, whereSeparator: \.isWhitespace)
            guard words.count == 2, words[0] == "profile" else { return nil }
            return words[1].trimmingWhitespace()
        }
    }

    /// The line up to a comment: `#` or `;` at its start or after whitespace. A `#` inside a
    /// value is kept, because keys and tokens never contain whitespace before one.
    private static func withoutComment(_ line: Substring) -> Substring {
        var previous: Character = " "
        for index in line.indices {
            let character = line[index]
            if (character == "#" || character == ";") && previous.isWhitespace {
                return line[..<index]
            }
            previous = character
        }
        return line
    }
}
