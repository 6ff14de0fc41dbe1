import AWS
import Foundation
import Relay
import Testing

/// Each option is declared once, in ``OptionTable``: these hold the README and the resolution to it.
@Suite("Options: one declaration each")
struct OptionSpecTests {
    static let queue = "https://sqs.eu-west-1.amazonaws.com/123456789012/events"

    /// The README's configuration section.
    static func readmeSection() throws -> String {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("README.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        return try #require(text.components(separatedBy: "\n## Configuration\n").dropFirst().first?.components(separatedBy: "\n## ").first)
    }

    /// The rows of the README's configuration table, by their first cell.
    static func readmeRows() throws -> [[String]] {
        try readmeSection().split(separator: "\n")
            .filter { $0.hasPrefix("| `--") || $0.hasPrefix("| — |") }
            .map { line in
                line.split(separator: "|", omittingEmptySubsequences: false).dropFirst().dropLast().map { $0.trimmingCharacters(in: .whitespaces) }
            }
    }

    /// `86400` as the README writes it: `86,400`.
    static func grouped(_ value: Double) -> String {
        guard value == value.rounded() else { return String(value) }
        var digits = String(Int64(value))
        var out = ""
        while digits.count > 3 {
            out = "," + digits.suffix(3) + out
            digits.removeLast(3)
        }
        return digits + out
    }

    @Test("the README's configuration table has one row per option, with its flag, variable, default and range")
    func readmeTable() throws {
        let rows = try Self.readmeRows()
        #expect(rows.count == OptionSpec.table.all.count, "\(rows.map { $0.first ?? "" })")
        for option in OptionSpec.table.all {
            let row = try #require(
                rows.first { row in
                    option.flag.map { row[0] == "`\($0)`" } ?? (row[0] == "—" && row[1] == "`\(option.variable ?? "")`")
                }, "no README row for \(option)")
            try #require(row.count == 4, "\(row)")
            if let variable = option.variable { #expect(row[1] == "`\(variable)`", "\(option): \(row[1])") }
            if option.isRequired {
                #expect(row[2] == "required for `serve`", "\(option): \(row[2])")
            } else if let fallback = option.defaultText {
                #expect(row[2] == "`\(fallback)`" || row[2] == fallback, "\(option): default \(row[2]), declared \(fallback)")
            }
            if let number = option.number {
                let range = "(\(Self.grouped(number.range.lowerBound))–\(Self.grouped(number.range.upperBound))"
                #expect(row[3].contains(range), "\(option): the README does not give its range \(range)): \(row[3])")
            }
        }
    }

    @Test("the README's serve synopsis names every flag")
    func readmeSynopsis() throws {
        let lines = try Self.readmeSection().split(separator: "\n")
        let start = try #require(lines.firstIndex { $0.hasPrefix("sagemaker-callback serve ") })
        let synopsis = lines[start...].prefix { $0 == lines[start] || $0.hasPrefix(" ") }.joined(separator: " ")
        for flag in OptionSpec.table.all.compactMap(\.flag) {
            #expect(synopsis.contains("\(flag) "), "\(flag) is missing from: \(synopsis)")
        }
    }

    @Test("an option is named by its flag, its variable, or both, after where its value came from")
    func naming() {
        #expect(OptionSpec.table.sweepAfter.named(.commandLine) == "--sweep-after")
        #expect(OptionSpec.table.sweepAfter.named(.environment) == "SAGEMAKER_CALLBACK_SWEEP_AFTER")
        #expect(OptionSpec.table.eventsQueueURL.named(nil) == "--events-queue-url (or SAGEMAKER_CALLBACK_EVENTS_QUEUE_URL)")
        #expect(OptionSpec.table.receiveWait.named(.commandLine) == "SAGEMAKER_CALLBACK_RECEIVE_WAIT")
        #expect(OptionSpec.table.region.named(.environment) == "--region")
        let error = ConfigurationError(.table.database, message: "is empty")
        #expect(error.spec == OptionSpec.table.database && "\(error)" == "--database: is empty")
    }

    @Test("the help names the variable and the default the option declares")
    func help() {
        #expect(
            OptionSpec.table.maxInFlight.help
                == "Most Step Functions and SageMaker calls in flight at once (env SAGEMAKER_CALLBACK_MAX_IN_FLIGHT; default 256).")
        #expect(
            OptionSpec.table.eventsQueueURL.help
                == "SQS queue of SageMaker job state change events (required; env SAGEMAKER_CALLBACK_EVENTS_QUEUE_URL).")
        #expect(OptionSpec.table.region.help == "AWS region (else AWS_REGION, AWS_DEFAULT_REGION, the profile's region).")
    }

    @Test("the instance metadata service is the region chain's last step: needed only when nothing else names one, and never over a bad region")
    func instanceRegion() throws {
        let regionless = "http://127.0.0.1:1/123456789012/events"
        var options = CommandLineOptions()
        options.eventsQueueURL = regionless
        #expect(options.needsInstanceRegion(Environment([:])))
        #expect(!options.needsInstanceRegion(Environment(["AWS_REGION": "eu-west-2"])))
        #expect(!options.needsInstanceRegion(Environment(["AWS_REGION": "BAD!"])), "a bad region is an error, not a gap")
        #expect(!CommandLineOptions().needsInstanceRegion(Environment(["SAGEMAKER_CALLBACK_EVENTS_QUEUE_URL": Self.queue])))

        #expect(try options.serve(Environment([:]), instanceRegion: "eu-north-1").aws.region == "eu-north-1")
        #expect(try options.serve(Environment(["AWS_REGION": "eu-west-2"]), instanceRegion: "eu-north-1").aws.region == "eu-west-2")
        #expect { _ = try options.serve(Environment(["AWS_REGION": "BAD!"]), instanceRegion: "eu-north-1") } throws: { error in
            (error as? ConfigurationError)?.description == "--region: AWS_REGION is 'BAD!', which is not a region name"
        }
        #expect { _ = try options.serve(Environment([:])) } throws: { error in
            (error as? ConfigurationError)?.option == "--region"
        }
    }
}
