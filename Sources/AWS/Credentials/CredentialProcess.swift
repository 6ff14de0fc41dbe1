#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import JSON
package import SigV4
import Subprocess
import Synchronization
#if canImport(System)
import System
#else
import SystemPackage
#endif

/// Runs a `credential_process` command and reads the credentials it prints, as the SDKs do.
///
/// The command runs through `/bin/sh -c` with this process's environment; its stderr passes
/// through (that is where such tools explain themselves), its stdout must be the JSON document
/// `{"Version": 1, "AccessKeyId", "SecretAccessKey", "SessionToken"?, "Expiration"?}`. Errors name
/// the profile and what was wrong, never the output (it holds secrets) nor the command (its
/// arguments may).
package struct CredentialProcess: Sendable {
    /// The shell command line.
    var command: String
    /// The profile it comes from, for messages.
    var profile: String
    /// How long the command may run before it is killed.
    var timeout: Duration

    package init(command: String, profile: String, timeout: Duration) {
        self.command = command
        self.profile = profile
        self.timeout = timeout
    }

    /// Runs the command and parses its output.
    func credentials() async throws(CredentialProviderError) -> Credentials {
        let (status, output) = try await run()
        guard status == 0 else {
            throw failure("exited with status \(status)")
        }
        return try parse(output)
    }

    /// The credentials in the command's stdout.
    package func parse(_ output: [UInt8]) throws(CredentialProviderError) -> Credentials {
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

    /// The most the command may print: a credentials document is a few kilobytes.
    static let outputLimit = 64 * 1024

    /// Runs the command to its end (or kills it at the timeout): its exit status and stdout.
    ///
    /// The shell starts in a process group of its own, so the timeout (or output past
    /// ``outputLimit``) kills the whole group: the command it runs (a script, a pipeline) is a
    /// child that holds the pipe. SIGKILL because a Swift process's children inherit a mask
    /// blocking SIGTERM. Subprocess reaps the shell only after the body below returns, so while it
    /// runs the shell's pid, which is the group id, cannot have been reused.
    private func run() async throws(CredentialProviderError) -> (Int32, [UInt8]) {
        var options = PlatformOptions()
        options.processGroupID = 0
        let timeout = timeout
        let result: ExecutionResult<Result<[UInt8], CredentialProviderError>, SequenceOutput, FileDescriptorOutput>
        do {
            result = try await Subprocess.run(
                .path("/bin/sh"), arguments: ["-c", command], platformOptions: options,
                input: .none, output: .sequence, error: .currentStandardError
            ) { execution in
                let group = execution.processIdentifier.value
                let deadline = Deadline()
                return await withTaskGroup(of: Result<[UInt8], CredentialProviderError>?.self) { tasks in
                    tasks.addTask {
                        guard (try? await Task.sleep(for: timeout)) != nil else { return nil }
                        deadline.passed.store(true, ordering: .sequentiallyConsistent)
                        kill(-group, SIGKILL)
                        return .failure(failure("did not finish within \(timeout)"))
                    }
                    tasks.addTask {
                        var output: [UInt8] = []
                        do {
                            for try await buffer in execution.standardOutput {
                                guard output.count + buffer.count <= Self.outputLimit else {
                                    kill(-group, SIGKILL)
                                    return .failure(failure("printed more than \(Self.outputLimit) bytes"))
                                }
                                buffer.withUnsafeBytes { output.append(contentsOf: $0) }
                            }
                        } catch {
                            kill(-group, SIGKILL)
                            return .failure(failure("could not be read from"))
                        }
                        // The output can end before the shell does (it closed stdout): the timer
                        // still covers the rest, and Subprocess must not be left waiting on it.
                        while !Self.hasExited(group) {
                            guard (try? await Task.sleep(for: .milliseconds(5))) != nil else { return nil }
                        }
                        return .success(output)
                    }
                    // The first answer wins, unless the timer fired: killed, the reader ends too.
                    var answer: Result<[UInt8], CredentialProviderError>?
                    while answer == nil, let next = await tasks.next() {
                        answer = next
                    }
                    tasks.cancelAll()
                    if deadline.passed.load(ordering: .sequentiallyConsistent) {
                        return .failure(failure("did not finish within \(timeout)"))
                    }
                    return answer!
                }
            }
        } catch {
            throw failure("could not be started: /bin/sh is not runnable")
        }
        let output = try result.closureResult.get()
        switch result.terminationStatus {
        case .exited(let code):
            return (code, output)
        case .signaled(let signal):
            return (128 + signal, output)
        }
    }

    /// Whether the child `pid` has exited, without reaping it (Subprocess does that).
    private static func hasExited(_ pid: pid_t) -> Bool {
        var info = siginfo_t()
        guard waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 else { return true }
        return info._sifields._kill.si_pid != 0
    }
}

/// Whether the timeout fired and killed the command.
private final class Deadline: Sendable {
    let passed = Atomic(false)
}

extension CredentialProviderError.Code {
    /// A `credential_process` command failed, timed out or printed an unusable document.
    public static let credentialProcessFailed = Self(rawValue: "CredentialProcessFailed")
    /// A shared-file setting is missing, malformed or names something that does not exist.
    public static let invalidProfile = Self(rawValue: "InvalidProfile")
}
