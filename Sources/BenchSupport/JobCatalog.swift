import Foundation
import JSON

/// The bench's jobs: a ~1 KB task token each, a registration message (DESIGN.md's wait form) and
/// a terminal job state change event built from the recorded events in `events/`, mixing the
/// four job kinds and the three outcomes (Completed, Failed, Stopped).
public struct JobCatalog: Sendable {
    /// A recorded event per job kind, and the prefix of its detail's fields.
    public static let kinds: [(file: String, prefix: String, arnKind: String)] = [
        ("processing-completed-epoch-millis.json", "ProcessingJob", "processing-job"),
        ("training-failed.json", "TrainingJob", "training-job"),
        ("transform-stopped.json", "TransformJob", "transform-job"),
        ("tuning-completed.json", "HyperParameterTuningJob", "hyper-parameter-tuning-job"),
    ]
    public static let outcomes = ["Completed", "Failed", "Stopped"]

    public let run: String
    private let templates: [JSONObject]
    private let tokenFiller: String

    public init(eventsDirectory: String, run: String) throws {
        self.run = run
        templates = try Self.kinds.map { kind in
            let data = try Data(contentsOf: URL(fileURLWithPath: eventsDirectory).appendingPathComponent(kind.file))
            guard let object = try JSONValue.parse(Array(data)).objectValue else { throw BenchError("\(kind.file) is not a JSON object") }
            return object
        }
        // Real task tokens are opaque base64-looking strings of hundreds to ~2,000 characters.
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        var random = SystemRandomNumberGenerator()
        tokenFiller = String((0..<1000).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] })
    }

    public func jobName(_ i: Int) -> String { "bench-\(run)-\(i)" }

    /// The token of job `i`: unique by its index, 1,024 characters.
    public func token(_ i: Int) -> String {
        let index = String(i, radix: 16)
        return "AQCEAAAAKgAAAAMAAAAAAAAAAf" + String(repeating: "0", count: 8 - min(8, index.count)) + index + tokenFiller.prefix(990)
    }

    public func registration(_ i: Int) -> String {
        let kind = Self.kinds[i % Self.kinds.count]
        return JSONValue.object(
            JSONObject([
                ("TaskToken", .string(token(i))),
                ("\(kind.prefix)Name", .string(jobName(i))),
                ("ExecutionArn", .string("arn:aws:states:us-east-1:123456789012:execution:bench-\(run):job-\(i)")),
            ])
        ).serialized()
    }

    /// Job `i`'s terminal event: its kind by `i % 4`, its outcome by `i % 3`.
    public func event(_ i: Int) -> String {
        let k = i % Self.kinds.count
        let kind = Self.kinds[k]
        let name = jobName(i)
        let arn = "arn:aws:sagemaker:us-east-1:123456789012:\(kind.arnKind)/\(name)"
        let status = Self.outcomes[i % Self.outcomes.count]
        var event = templates[k]
        var detail = event["detail"]?.objectValue ?? [:]
        detail["\(kind.prefix)Name"] = .string(name)
        detail["\(kind.prefix)Arn"] = .string(arn)
        detail["\(kind.prefix)Status"] = .string(status)
        if status == "Failed", detail["FailureReason"] == nil {
            detail["FailureReason"] = "AlgorithmError: ClientError: exit code 1"
        }
        event["id"] = .string("00000000-0000-4000-8000-\(String(i, radix: 16))")
        event["resources"] = [.string(arn)]
        event["detail"] = .object(detail)
        return JSONValue.object(event).serialized()
    }
}

/// The bench's one error: a sentence.
public struct BenchError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
