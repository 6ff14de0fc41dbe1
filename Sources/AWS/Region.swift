#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Finds the AWS region the way the SDKs do, with the service's own fallback last.
public enum RegionResolver {
    /// The region from, in order: `explicit` (`--region`), `AWS_REGION`, `AWS_DEFAULT_REGION`,
    /// the profile's `region` in the shared files (profile: `profile`, else `AWS_PROFILE`, else
    /// `default`), and the region in `queueURL` (an SQS queue URL).
    ///
    /// A value that is not a region name (letters, digits and hyphens) is an error naming where it
    /// came from, since it becomes part of endpoint host names. Throws ``RegionError`` listing
    /// every place looked at when none gives a region.
    public static func resolve(explicit: String?, environment: Environment, profile: String?, queueURL: String?) throws -> String {
        var tried: [String] = []
        func accept(_ value: String?, from source: String) throws(RegionError) -> String? {
            guard let value else {
                tried.append(source)
                return nil
            }
            guard isRegionName(value) else {
                throw RegionError(code: .invalid, message: "\(source) is '\(value)', which is not a region name")
            }
            return value
        }
        if let region = try accept(explicit.flatMap { $0.isEmpty ? nil : $0 }, from: "--region") { return region }
        if let region = try accept(environment["AWS_REGION"], from: "AWS_REGION") { return region }
        if let region = try accept(environment["AWS_DEFAULT_REGION"], from: "AWS_DEFAULT_REGION") { return region }

        let files = SharedFilesCredentialProvider(environment: environment, profile: profile)
        let source = "region of profile '\(files.profile)' in \(files.configPath ?? "the config file (HOME unset)")"
        do {
            if let region = try accept(try files.region(), from: source) { return region }
        } catch let error as RegionError {
            throw error
        } catch {
            // A broken config file is reported by the credential chain too; here it only means
            // this source gave nothing, and the queue URL may still tell.
            tried.append("\(source) (\(error))")
        }

        if let queueURL, let region = region(fromQueueURL: queueURL) { return region }
        tried.append(queueURL == nil ? "queue URL (none given)" : "queue URL (no region in its host)")
        throw RegionError(code: .notFound, message: "no AWS region found; tried \(tried.joined(separator: ", "))")
    }

    /// The region in an SQS queue URL's host: `sqs.{region}.amazonaws.com` (also `.com.cn`,
    /// `sqs-fips.` and other hosts of that shape, such as an emulator's), the legacy
    /// `{region}.queue.amazonaws.com`, and `queue.amazonaws.com` for us-east-1. Nil otherwise.
    public static func region(fromQueueURL queueURL: String) -> String? {
        guard let host = URLComponents(string: queueURL)?.host?.lowercased() else { return nil }
        if host == "queue.amazonaws.com" { return "us-east-1" }
        let labels = host.split(separator: ".")
        for index in labels.indices.dropLast() {
            let label = labels[index], next = labels[index + 1]
            if label == "sqs" || label == "sqs-fips", looksLikeRegion(next) { return String(next) }
            if next == "queue", looksLikeRegion(label) { return String(label) }
        }
        return nil
    }

    /// Whether `value` can be a region name: ASCII lowercase letters, digits and hyphens, not
    /// starting or ending with a hyphen. Deliberately loose, so new partitions work.
    static func isRegionName(_ value: String) -> Bool {
        !value.isEmpty && value.first != "-" && value.last != "-"
            && value.utf8.allSatisfy {
                ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9"))
                    || $0 == UInt8(ascii: "-")
            }
    }

    /// Whether a host label has a region's shape (`us-east-1`, `us-gov-west-1`, `cn-north-1`):
    /// strict, because it is guessed from a URL rather than given.
    private static func looksLikeRegion(_ label: Substring) -> Bool {
        let parts = label.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 3, let number = parts.last, number.allSatisfy(\.isASCII), Int(number) != nil else { return false }
        return parts.dropLast().allSatisfy { !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isLowercase } }
    }
}

/// The region could not be determined, or a given one is not a region name.
public struct RegionError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public enum Code: String, Sendable {
        /// No source gave a region.
        case notFound = "RegionNotFound"
        /// A source gave something that is not a region name.
        case invalid = "InvalidRegion"
    }

    /// What went wrong.
    public var code: Code
    /// Which sources were tried, or which one was invalid; safe to log.
    public var message: String

    public var description: String { message }
}
