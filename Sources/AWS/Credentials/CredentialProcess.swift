import Foundation
import JSON
import SigV4
import Synchronization

/// Runs a `credential_process` command and reads the credentials it prints, as the SDKs do.
///
/// The command runs through `/bin/sh -c` with this process's environment; its stderr passes
/// through (that is where such tools explain themselves), its stdout must be the JSON document
/// `{"Version": 1, "AccessKeyId", "SecretAccessKey", "SessionToken"?, "Expiration"?}`. Errors name
/// the profile and what was wrong, never the output (it holds secrets) nor the command (its
/// arguments may).
struct CredentialProcess: Sendable {
    /// The shell command line.
    var command: String
    /// The profile it comes from, for messages.
    var profile: String
    /// How long the command may run before it is killed.
    var timeout: Duration

    /// Runs the command and parses its output.
    func credentials() async throws(CredentialProviderError) -> Credentials {
        let (status, output) = try await run()
        guard status == 0 else {
            throw failure("exited with status \(status)")
        }
        return try parse(output)
    }

    /// The credentials in the command's stdout.
    func parse(_ output: [UInt8]) throws(CredentialProviderError) -> Credentials {
        guard let object = (try? JSONValue.parse(output))?.objectValue else {
            throw failure("printed something that is not a JSON object")
        }
        guard object["Version"]?.int64Value == 1 else {
            throw failure("printed a document without \"Version\": 1")
        }
        guard let accessKeyID = object["AccessKeyId"]?.stringValue, !accessKeyID.isEmpty,
              let secretAccessKey = object["SecretAccessKey"]?.stringValue, !secretAccessKey.isEmpty
        else {
            throw failure("printed a document without AccessKeyId and SecretAccessKey strings")
        }
        var expiration: Date?
        if let value = object["Expiration"], value != .null {
            guard let text = value.stringValue, let seconds = ISO8601Timestamp.secondsSince1970(text) else {
                throw failure("printed an Expiration that is not an ISO-8601 timestamp")
            }
            expiration = Date(timeIntervalSince1970: seconds)
        }
        let token = object["SessionToken"]?.stringValue
        return Credentials(
            accessKeyID: accessKeyID,
            secretAccessKey: secretAccessKey,
            sessionToken: token?.isEmpty == true ? nil : token,
            expiration: expiration
        )
    }

    private func failure(_ what: String) -> CredentialProviderError {
        CredentialProviderError(code: .credentialProcessFailed, message: "credential_process of profile '\(profile)' \(what)")
    }

    /// Runs the command to its end (or kills it at the timeout): its exit status and stdout.
    ///
    /// Reading the pipe blocks, so it happens on a thread of its own, off the cooperative pool.
    private func run() async throws(CredentialProviderError) -> (Int32, [UInt8]) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardInput = FileHandle.nullDevice
        let profile = profile
        let timeout = timeout
        let result: Result<(Int32, [UInt8]), CredentialProviderError> = await withCheckedContinuation { continuation in
            let once = ResumeOnce(continuation)
            do {
                try process.run()
            } catch {
                once.resume(.failure(failure("could not be started: /bin/sh is not runnable")))
                return
            }
            let pid = process.processIdentifier
            let reader = Thread {
                let output = stdout.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                once.resume(.success((process.terminationStatus, Array(output))))
            }
            reader.start()
            let (seconds, attoseconds) = timeout.components
            let delay = Double(seconds) + Double(attoseconds) / 1e18
            DispatchQueue.global().asyncAfter(deadline: .now() + delay) {
                guard once.resume(.failure(CredentialProviderError(
                    code: .credentialProcessFailed,
                    message: "credential_process of profile '\(profile)' did not finish within \(timeout)"
                ))) else { return }
                // The whole process group: Foundation starts the shell in a group of its own, and
                // the command it runs (a script, a pipeline) is a child that holds the pipe.
                // SIGKILL because a Swift process's children inherit a mask blocking SIGTERM.
                // The reader has not finished, so some member of the group still holds the pipe
                // and the group id cannot have been reused.
                kill(-pid, SIGKILL)
            }
        }
        return try result.get()
    }
}

/// Resumes a continuation the first time only, so the reader thread and the timer can race.
private final class ResumeOnce: Sendable {
    private let continuation: Mutex<CheckedContinuation<Result<(Int32, [UInt8]), CredentialProviderError>, Never>?>

    init(_ continuation: CheckedContinuation<Result<(Int32, [UInt8]), CredentialProviderError>, Never>) {
        self.continuation = Mutex(continuation)
    }

    /// Resumes with `result` and returns true, unless another caller already did.
    @discardableResult
    func resume(_ result: Result<(Int32, [UInt8]), CredentialProviderError>) -> Bool {
        guard let continuation = self.continuation.withLock({ $0.take() }) else { return false }
        continuation.resume(returning: result)
        return true
    }
}

extension CredentialProviderError.Code {
    /// A `credential_process` command failed, timed out or printed an unusable document.
    public static let credentialProcessFailed = Self(rawValue: "CredentialProcessFailed")
    /// A shared-file setting is missing, malformed or names something that does not exist.
    public static let invalidProfile = Self(rawValue: "InvalidProfile")
}
