public import JSON
import SigV4

/// A workflow's request to be called back when a job ends: the body a Step Functions
/// `sqs:sendMessage.waitForTaskToken` task sends to the requests queue.
public struct RegistrationMessage: Sendable, Equatable {
    public var taskToken: String
    /// Hex SHA-256 of the token: the token's identity in the store and in logs.
    public var tokenHash: String
    public var kind: JobKind
    public var jobName: String
    /// The Create request when the service must create the job first.
    public var createRequest: JSONObject?
    public var executionArn: String?
    public var heartbeat: Bool
    /// `"StopJobOnAbort"` as given; nil when absent.
    public var stopJobOnAbortField: Bool?

    /// Whether the job is stopped when the execution ends aborted, timed out or failed: as the
    /// registration says, else yes exactly when the service creates the job.
    public var stopJobOnAbort: Bool { stopJobOnAbortField ?? (createRequest != nil) }
}

/// What a requests-queue message turned out to be.
public enum RegistrationParse: Sendable, Equatable {
    case valid(RegistrationMessage)
    /// Unusable. When a task token could be read, the workflow is told at once (`SendTaskFailure`)
    /// instead of waiting for its timeout.
    case invalid(taskToken: String?, reason: String)
}

extension RegistrationMessage {
    /// Step Functions task tokens are at most this long.
    public static let maxTokenLength = 2048

    /// Parses a registration body.
    public static func parse(_ body: [UInt8]) -> RegistrationParse {
        guard let value = try? JSONValue.parse(body) else { return .invalid(taskToken: nil, reason: "not JSON") }
        return parse(value)
    }

    /// Parses a registration body given as text.
    public static func parse(_ body: String) -> RegistrationParse { parse(Array(body.utf8)) }

    /// Reads an already-parsed registration.
    public static func parse(_ value: JSONValue) -> RegistrationParse {
        guard let object = value.objectValue else { return .invalid(taskToken: nil, reason: "not a JSON object") }
        guard let token = object["TaskToken"]?.stringValue, !token.isEmpty else {
            return .invalid(taskToken: nil, reason: "no TaskToken string")
        }
        guard token.utf8.count <= maxTokenLength else {
            return .invalid(taskToken: nil, reason: "TaskToken longer than \(maxTokenLength) characters")
        }
        func invalid(_ reason: String) -> RegistrationParse { .invalid(taskToken: token, reason: reason) }

        // Every field that names a job, whether or not this build handles its kind.
        let jobFields = object.keys.filter { key in
            (key.hasSuffix("JobName") && key != "JobName") || (key.hasPrefix("Create") && key.hasSuffix("Job"))
        }
        guard !jobFields.isEmpty else {
            let expected = JobKind.all.flatMap { [$0.nameField, $0.createOperation] }.joined(separator: " or ")
            return invalid("no job: expected \(expected)")
        }
        guard jobFields.count == 1, let field = jobFields.first else {
            return invalid("more than one job field: \(jobFields.sorted().joined(separator: ", "))")
        }
        guard let kind = JobKind.all.first(where: { $0.nameField == field || $0.createOperation == field }) else {
            return invalid("\(field) names a job kind this service does not handle")
        }

        let jobName: String
        var createRequest: JSONObject?
        if field == kind.nameField {
            guard let name = object[field]?.stringValue else { return invalid("\(field) is not a string") }
            jobName = name
        } else {
            guard let request = object[field]?.objectValue else { return invalid("\(field) is not an object") }
            guard let name = request[kind.nameField]?.stringValue else {
                return invalid("\(field) has no \(kind.nameField) string")
            }
            jobName = name
            createRequest = request
        }
        guard isValidJobName(jobName) else {
            return invalid("\(kind.nameField) is not a valid SageMaker job name (1-63 letters, digits and hyphens)")
        }

        var executionArn: String?
        if let arn = object["ExecutionArn"] {
            guard let text = arn.stringValue, text.utf8.count <= 2048 else {
                return invalid("ExecutionArn is not a string of at most 2,048 characters")
            }
            executionArn = text
        }
        var heartbeat = false
        if let flag = object["Heartbeat"] {
            guard let value = flag.boolValue else { return invalid("Heartbeat is not true or false") }
            heartbeat = value
        }
        var stopJobOnAbort: Bool?
        if let flag = object["StopJobOnAbort"] {
            guard let value = flag.boolValue else { return invalid("StopJobOnAbort is not true or false") }
            // Without the execution, its end can never be matched: a silent no-op is worse than an error.
            guard !value || executionArn != nil else {
                return invalid("StopJobOnAbort needs ExecutionArn (pass \"ExecutionArn.$\": \"$$.Execution.Id\")")
            }
            stopJobOnAbort = value
        }
        return .valid(
            RegistrationMessage(
                taskToken: token,
                tokenHash: TaskTokens.hash(token),
                kind: kind,
                jobName: jobName,
                createRequest: createRequest,
                executionArn: executionArn,
                heartbeat: heartbeat,
                stopJobOnAbortField: stopJobOnAbort
            ))
    }

    /// SageMaker job names: `^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`.
    package static func isValidJobName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...63).contains(bytes.count) else { return false }
        func isAlphanumeric(_ byte: UInt8) -> Bool {
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
        }
        guard isAlphanumeric(bytes[0]), isAlphanumeric(bytes[bytes.count - 1]) else { return false }
        return bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "-") }
    }
}

/// How task tokens are identified without being shown.
public enum TaskTokens {
    /// Hex SHA-256 of a token: its key in the store.
    public static func hash(_ token: String) -> String { Digest.sha256Hex(token) }

    /// The first 12 hex digits of a token's hash: enough to tell tokens apart in logs and `list`.
    public static func short(_ tokenHash: String) -> String { String(tokenHash.prefix(12)) }

    /// What a token is replaced with in a recorded body: `<token SHORT-HASH>`.
    static func placeholder(_ token: String) -> String { "<token \(short(hash(token)))>" }

    /// Runs of base64 characters at least this long, with upper case, lower case and digits in
    /// them, are masked even where no `TaskToken` field names them (a body that is not JSON, a
    /// token under another key). Step Functions tokens are base64 hundreds of characters long;
    /// what else an event carries (names, ARNs, S3 paths) is broken up by `-`, `_`, `.` or `:`.
    static let unnamedTokenLength = 100

    /// `body` with every task token in it replaced by ``placeholder(_:)``, for a body kept as a
    /// rejected message (which `list --json` prints): `known`; every string under a `TaskToken`
    /// key (any case, at any depth, also inside a JSON string such as an SNS envelope's
    /// `Message`), in the body's raw text and with `/` escaped as `\/`; and any run of base64
    /// that looks like one (``unnamedTokenLength``). Masking a masked body changes nothing.
    public static func masked(_ body: String, known: String? = nil) -> String {
        var tokens = Set<String>()
        var signatures = Set<String>()
        if let known, !known.isEmpty { tokens.insert(known) }
        let parsed = try? JSONValue.parse(body)
        if let parsed { collectTokens(in: parsed, into: &tokens, signatures: &signatures, depth: 0) }
        var masked = body
        // Longest first: a token that contains another is replaced whole.
        for token in tokens.sorted(by: { $0.count > $1.count }) {
            let placeholder = placeholder(token)
            masked = masked.replacing(token, with: placeholder)
            let escaped = token.replacing("/", with: "\\/")
            if escaped != token { masked = masked.replacing(escaped, with: placeholder) }
        }
        // A body that does not parse (too deep, a raw control character) may still hold a
        // `"TaskToken": "…"` whole in its text, however short.
        if parsed == nil { masked = redactedUnparsed(masked) }
        return maskingLongRuns(masked, except: signatures)
    }

    /// Strings under `TaskToken` keys; strings that are JSON themselves are searched too (an SNS
    /// envelope nests its message as a string), a few levels deep. An SNS envelope's `Signature`
    /// is base64 too, and no secret: it is kept.
    private static func collectTokens(in value: JSONValue, into tokens: inout Set<String>, signatures: inout Set<String>, depth: Int) {
        guard depth < 4 else { return }
        switch value {
        case .object(let object):
            for (key, member) in object {
                if key.lowercased() == "tasktoken", let token = member.stringValue, !token.isEmpty, !isPlaceholder(token) {
                    tokens.insert(token)
                }
                if key == "Signature", let signature = member.stringValue { signatures.insert(signature) }
                collectTokens(in: member, into: &tokens, signatures: &signatures, depth: depth)
            }
        case .array(let elements):
            for element in elements { collectTokens(in: element, into: &tokens, signatures: &signatures, depth: depth) }
        case .string(let text):
            if let first = text.utf8.first(where: { $0 > 0x20 }), first == UInt8(ascii: "{") || first == UInt8(ascii: "["),
                let nested = try? JSONValue.parse(text)
            {
                collectTokens(in: nested, into: &tokens, signatures: &signatures, depth: depth + 1)
            }
        default:
            break
        }
    }

    private static func isPlaceholder(_ text: String) -> Bool { text.hasPrefix("<token ") && text.hasSuffix(">") }

    /// Replaces each run of at least ``unnamedTokenLength`` base64 characters (`A–Z a–z 0–9 + /`,
    /// then any `=` padding) that has upper case, lower case and digits in it, but those in `kept`.
    private static func maskingLongRuns(_ text: String, except kept: Set<String>) -> String {
        let bytes = Array(text.utf8)
        var output: [UInt8] = []
        var copied = 0
        var index = 0
        while index < bytes.count {
            var end = index
            var classes: (upper: Bool, lower: Bool, digit: Bool) = (false, false, false)
            scan: while end < bytes.count {
                switch bytes[end] {
                case UInt8(ascii: "A")...UInt8(ascii: "Z"): classes.upper = true
                case UInt8(ascii: "a")...UInt8(ascii: "z"): classes.lower = true
                case UInt8(ascii: "0")...UInt8(ascii: "9"): classes.digit = true
                case UInt8(ascii: "+"), UInt8(ascii: "/"): break
                default: break scan
                }
                end += 1
            }
            while end < bytes.count, end - index >= unnamedTokenLength, bytes[end] == UInt8(ascii: "=") { end += 1 }
            if end - index >= unnamedTokenLength, classes.upper, classes.lower, classes.digit {
                let run = String(decoding: bytes[index..<end], as: UTF8.self)
                if !kept.contains(run) {
                    output.append(contentsOf: bytes[copied..<index])
                    output.append(contentsOf: placeholder(run).utf8)
                    copied = end
                }
            }
            index = max(end, index + 1)
        }
        guard copied > 0 else { return text }
        output.append(contentsOf: bytes[copied...])
        return String(decoding: output, as: UTF8.self)
    }

    /// `body` with the value of every `"TaskToken": "…"` replaced by `<token>`, read as text: for
    /// a body that does not parse (too deep, a raw control character), whose token could not be
    /// read and so cannot be replaced by its hash, but may still be whole in the text. A value cut
    /// off by the end of the body is replaced up to the end.
    private static func redactedUnparsed(_ body: String) -> String {
        let bytes = Array(body.utf8)
        let key = Array(#""TaskToken""#.utf8)
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var index = 0
        func skipWhitespace() {
            while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
        }
        while index < bytes.count {
            guard bytes[index...].starts(with: key) else {
                output.append(bytes[index])
                index += 1
                continue
            }
            index += key.count
            output.append(contentsOf: key)
            let afterKey = index
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { index = afterKey; continue }
            index += 1
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { index = afterKey; continue }
            index += 1
            while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
                index += bytes[index] == UInt8(ascii: "\\") ? 2 : 1
            }
            index = min(index + 1, bytes.count)
            output.append(contentsOf: Array(#":"<token>""#.utf8))
        }
        return String(decoding: output, as: UTF8.self)
    }
}
