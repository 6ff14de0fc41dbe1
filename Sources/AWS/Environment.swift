#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The process environment as a value, so code that reads it can be tested with a dictionary.
///
/// Empty strings count as unset, as the AWS SDKs treat them: `AWS_REGION=` is no region.
public struct Environment: Sendable {
    private let values: [String: String]

    /// An environment holding `values`; entries whose value is empty are dropped.
    public init(_ values: [String: String]) {
        self.values = values.filter { !$0.value.isEmpty }
    }

    /// The environment of this process, read once when called.
    public static var process: Environment {
        Environment(ProcessInfo.processInfo.environment)
    }

    /// The value of the variable `name`, or nil when it is unset or empty.
    public subscript(name: String) -> String? {
        values[name]
    }
}
