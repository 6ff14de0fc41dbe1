import ArgumentParser
import Relay

/// The health report file, shared by `serve` (which writes it) and `health` (which reads it).
struct HealthFileOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Health report file serve writes and health reads (env SAGEMAKER_CALLBACK_HEALTH_FILE; default \(HealthFile.defaultPath)).", valueName: "path"))
    var healthFile: String?
}

/// `health`: the container health check. Reads the report `serve` writes every few seconds;
/// opens no database and calls no AWS, so it is quick and says nothing about AWS being reachable.
struct Health: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check that serve, in this container, is alive and every loop of it still cycles.",
        discussion: "Prints one line, healthy: … or unhealthy: …; exit 0 when healthy, 1 when not."
    )

    @OptionGroup var health: HealthFileOption

    func run() throws {
        var options = CommandLineOptions()
        options.healthFile = health.healthFile
        let verdict = HealthVerdict.check(path: try options.healthFilePath(.process))
        print(verdict)
        if !verdict.healthy { throw ExitCode.failure }
    }
}
