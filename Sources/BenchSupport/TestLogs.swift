public import Foundation

/// Where the logs of the processes a test run starts go: under `SAGEMAKER_CALLBACK_TEST_LOGS`
/// when it is set (make test sets it, and after its runs scans every line there for whole
/// tokens, credentials and bodies), so that they outlive the test's own directory; else where
/// the test asked. The integration harness and ``ServeProcess`` both place their logs here.
public enum TestLogs {
    /// `SAGEMAKER_CALLBACK_TEST_LOGS`, created, when set.
    public static var directory: URL? {
        guard let root = ProcessInfo.processInfo.environment["SAGEMAKER_CALLBACK_TEST_LOGS"], !root.isEmpty else { return nil }
        try? FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        return URL(fileURLWithPath: root)
    }

    /// `log`, or, under ``directory``, a file named after `log`'s directory and name.
    public static func placed(_ log: URL) -> URL {
        directory?.appendingPathComponent("\(log.deletingLastPathComponent().lastPathComponent)-\(log.lastPathComponent)") ?? log
    }
}
