import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import JSON
import Relay

/// `register`: register a task token by hand, as if its message came from the requests queue.
struct Register: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Register a task token by hand: wait for (or create, then wait for) a processing job.",
        discussion: "Exit 0 when registered, 65 when the registration is invalid."
    )

    @Option(name: .long, help: ArgumentHelp("The Step Functions task token.", valueName: "token"))
    var taskToken: String?

    @Option(name: .long, help: ArgumentHelp("Wait for this processing job, created elsewhere.", valueName: "name"))
    var processingJobName: String?

    @Option(
        name: .long,
        help: ArgumentHelp("Create this processing job (a CreateProcessingJob request as JSON, or @file), then wait for it.", valueName: "json"))
    var createProcessingJob: String?

    @Option(name: .long, help: ArgumentHelp("The execution that owns the token.", valueName: "arn"))
    var executionArn: String?

    @Flag(name: .long, help: "Send heartbeats while the job runs.")
    var heartbeat = false

    @Flag(
        name: .long, inversion: .prefixedNo,
        help: "Stop the job if the execution is aborted, times out or fails (needs --execution-arn; default: only for --create-processing-job).")
    var stopJobOnAbort: Bool?

    @Option(name: .long, help: ArgumentHelp("A whole registration message as JSON (- for stdin), instead of the options above.", valueName: "json"))
    var message: String?

    @OptionGroup var store: StoreOption
    @OptionGroup var aws: AWSOptions

    func validate() throws {
        if message != nil {
            guard taskToken == nil, processingJobName == nil, createProcessingJob == nil else {
                throw ValidationError("--message replaces --task-token, --processing-job-name and --create-processing-job")
            }
            return
        }
        guard taskToken != nil else { throw ValidationError("--task-token is required (or --message)") }
        guard (processingJobName != nil) != (createProcessingJob != nil) else {
            throw ValidationError("give exactly one of --processing-job-name and --create-processing-job")
        }
    }

    func body() throws -> String {
        if let message {
            return message == "-" ? String(decoding: StandardInput.readToEnd(), as: UTF8.self) : message
        }
        var object: JSONObject = ["TaskToken": .string(taskToken ?? "")]
        if let processingJobName { object["ProcessingJobName"] = .string(processingJobName) }
        if let createProcessingJob {
            var text = createProcessingJob
            if text.hasPrefix("@") {
                guard let data = FileManager.default.contents(atPath: String(text.dropFirst())) else {
                    throw ConfigurationError(option: "--create-processing-job", message: "cannot read '\(text.dropFirst())'")
                }
                text = String(decoding: data, as: UTF8.self)
            }
            guard let request = try? JSONValue.parse(text), request.objectValue != nil else {
                throw ConfigurationError(option: "--create-processing-job", message: "is not a JSON object")
            }
            object["CreateProcessingJob"] = request
        }
        if let executionArn { object["ExecutionArn"] = .string(executionArn) }
        if heartbeat { object["Heartbeat"] = true }
        if let stopJobOnAbort { object["StopJobOnAbort"] = .bool(stopJobOnAbort) }
        return JSONValue.object(object).serialized()
    }

    func run() async throws {
        let session = try await CommandSession(store: store, aws: aws)
        defer { session.close() }
        let decisions = try await MessageIntake(store: session.database).process(
            [IncomingMessage(messageID: nil, body: try body())], role: .requests, source: "register"
        )
        guard let decision = decisions.first else { return }
        var line = decision.verdict.description
        if let hash = decision.tokenHash { line += " (token \(TaskTokens.short(hash)))" }
        print(line)
        if decision.queuesWork {
            let pass = try await session.deliver()
            print("delivered: \(pass.delivered), task already closed: \(pass.closed), to retry under serve: \(pass.rescheduled)")
        }
        if decision.verdict.isRejection { throw ExitCode(65) }
    }
}
