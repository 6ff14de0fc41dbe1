import ArgumentParser
import Relay

/// `replay`: recorded events through the same engine and store.
struct Replay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Feed recorded events (a JSON event, a JSON array, or JSON lines; - for stdin) through the engine.",
        discussion: "Exit 0 when every event was valid (even if it needed no action), 65 when some were malformed."
    )

    @Argument(help: ArgumentHelp("Files of recorded events; - reads standard input.", valueName: "file"))
    var files: [String]

    @Flag(name: .long, help: "Print the decisions; change nothing and call nothing.")
    var dryRun = false

    @Flag(name: .long, help: "Print every event's decision, not only the rejected ones.")
    var verbose = false

    @OptionGroup var store: StoreOption
    @OptionGroup var aws: AWSOptions

    func validate() throws {
        guard !files.isEmpty else { throw ValidationError("give at least one file of recorded events, or - for standard input") }
    }

    func run() async throws {
        let session = try await CommandSession(store: store, aws: aws)
        defer { session.close() }
        var sources: [(origin: String, bodies: [String])] = []
        for file in files {
            do {
                sources.append((file == "-" ? "stdin" : file, try RecordedEvents.load(file)))
            } catch {
                throw ConfigurationError(option: "FILE", message: error.description)
            }
        }
        let report = try await EventReplay(store: session.database).run(sources, dryRun: dryRun)
        for line in report.lines where dryRun || verbose || line.verdict.isRejection {
            print("\(line.origin): \(line.verdict)")
        }
        print(
            "\(report.lines.count) event\(report.lines.count == 1 ? "" : "s"), \(report.rejected) rejected\(dryRun ? " (dry run: nothing changed)" : "")"
        )

        if !dryRun, report.queuedWork {
            let pass = try await session.deliver()
            print("outcomes delivered: \(pass.delivered), task already closed: \(pass.closed), to retry under serve: \(pass.rescheduled)")
        }
        if report.rejected > 0 { throw ExitCode(65) }
    }
}
