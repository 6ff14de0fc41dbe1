import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Relay

/// The `sagemaker-callback` command: parses arguments and runs the chosen subcommand. Every
/// configuration or usage error ends as one line on standard error and exit code 64; a store out
/// of reach, as one line and exit code 69 (EX_UNAVAILABLE).
@main
struct Entry {
    static func main() async {
        // A parent may hand down a blocked signal mask; SIGTERM and SIGINT must reach us.
        var empty = sigset_t()
        sigemptyset(&empty)
        pthread_sigmask(SIG_SETMASK, &empty, nil)
        do {
            var command = try SageMakerCallback.parseAsRoot()
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch let error as ConfigurationError {
            fail("\(error)", code: ExitCode.validationFailure.rawValue)
        } catch let error as UnavailableError {
            fail("\(error)", code: 69)
        } catch let error as ExitCode {
            exit(error.rawValue)
        } catch {
            let code = SageMakerCallback.exitCode(for: error)
            if code == .success {
                SageMakerCallback.exit(withError: error)
            }
            let message = SageMakerCallback.message(for: error)
            let line = message.split(whereSeparator: \.isNewline).first.map(String.init) ?? "\(error)"
            fail(line, code: code == .validationFailure ? ExitCode.validationFailure.rawValue : code.rawValue)
        }
    }

    static func fail(_ line: String, code: Int32) -> Never {
        var text = line.hasPrefix("Error: ") ? String(line.dropFirst(7)) : line
        text = "sagemaker-callback: \(text)\n"
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
            if written < 0, errno == EINTR { continue }
            guard written > 0 else { break }
            bytes = bytes.dropFirst(written)
        }
        exit(code)
    }
}

/// The root command.
struct SageMakerCallback: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sagemaker-callback",
        abstract: "Resume Step Functions workflows when SageMaker jobs end, without polling.",
        discussion: """
            Consumes SageMaker job state change events (EventBridge → SQS), correlates them with the \
            task tokens workflows registered, and calls SendTaskSuccess or SendTaskFailure.
            """,
        subcommands: [Serve.self, Replay.self, Register.self, List.self, Doctor.self, Health.self]
    )
}
