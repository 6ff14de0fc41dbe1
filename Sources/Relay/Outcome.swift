public import JSON

/// How a task ends: what the workflow receives.
public enum Outcome: Sendable, Equatable {
    /// `SendTaskSuccess` with this output (valid JSON, at most 262,144 UTF-8 bytes).
    case success(output: String)
    /// `SendTaskFailure` with this error (≤ 256 characters) and cause (≤ 32,768).
    case failure(error: String, cause: String)
}

extension Outcome {
    /// The largest task output Step Functions accepts, in UTF-8 bytes.
    public static let outputLimit = 262_144
    /// The longest error name.
    public static let errorLimit = 256
    /// The longest cause. Kept as a UTF-8 byte bound, which is never more characters than that.
    public static let causeLimit = 32_768

    /// The outcome a terminal state change gives its workflows; nil while the job runs.
    ///
    /// Completed → success with the event's `detail`; Failed and Stopped → failure with
    /// `SageMaker.<Kind>Failed` / `Stopped` and a JSON cause naming the job and why it ended.
    public static func forChange(_ change: JobStateChange) -> Outcome? {
        switch change.status {
        case .completed:
            return .success(output: boundedOutput(change.detail))
        case .failed:
            return .failure(error: change.kind.failedError, cause: cause(for: change))
        case .stopped:
            return .failure(error: change.kind.stoppedError, cause: cause(for: change))
        case .inProgress, .stopping:
            return nil
        }
    }

    /// A failure that did not come from the job itself (an invalid registration, a Create call
    /// SageMaker refused), with bounded error and cause.
    public static func failure(error: String, fields: JSONObject) -> Outcome {
        .failure(error: String(error.prefix(errorLimit)), cause: boundedCause(fields))
    }

    /// A failure SageMaker reported about a job rather than the job's own end (a refused Create,
    /// a job that does not exist): error `SageMaker.<code>`, cause naming the job, the operation
    /// when there is one, the code and the message.
    static func sageMakerFailure(code: String, kind: String, jobName: String, operation: String?, message: String) -> Outcome {
        var fields: JSONObject = [:]
        if let kind = JobKind.named(kind) { fields[kind.nameField] = .string(jobName) }
        if let operation { fields["Operation"] = .string(operation) }
        fields["Error"] = .string(code)
        fields["Message"] = .string(message)
        return failure(error: "SageMaker.\(code)", fields: fields)
    }

    /// Serializes `detail`; when that exceeds `limit` bytes, drops the largest fields (never the
    /// job's name, ARN or status) until it fits and adds `"Truncated": true`. Never fails.
    public static func boundedOutput(_ detail: JSONObject, limit: Int = outputLimit) -> String {
        let whole = JSONValue.object(detail)
        if whole.serializedByteCount <= limit { return whole.serialized() }

        var kept = detail
        kept["Truncated"] = true
        let protected: Set<String> = Set(JobKind.all.flatMap { [$0.nameField, $0.arnField, $0.statusField] })
            .union(["Truncated"])
        // Each member costs its serialized key and value plus a colon and a comma.
        let costs = detail.compactMap { member -> (key: String, cost: Int)? in
            protected.contains(member.key)
                ? nil
                : (member.key, JSONValue.string(member.key).serializedByteCount + member.value.serializedByteCount + 2)
        }.sorted { $0.cost > $1.cost }
        var size = JSONValue.object(kept).serializedByteCount
        for member in costs where size > limit {
            _ = kept.removeValue(forKey: member.key)
            size -= member.cost
        }
        // Guard against an estimate that was off by the last comma.
        size = JSONValue.object(kept).serializedByteCount
        if size > limit {
            kept = JSONObject(kept.filter { protected.contains($0.key) }.map { ($0.key, $0.value) })
        }
        return JSONValue.object(kept).serialized()
    }

    /// The cause of a failed or stopped job: name, ARN, status, FailureReason and ExitMessage.
    static func cause(for change: JobStateChange) -> String {
        var fields: JSONObject = [change.kind.nameField: .string(change.jobName)]
        if let arn = change.jobArn { fields[change.kind.arnField] = .string(arn) }
        fields[change.kind.statusField] = .string(change.status.rawValue)
        for key in ["FailureReason", "ExitMessage"] {
            if let value = change.detail[key], !value.isNull { fields[key] = value }
        }
        return boundedCause(fields)
    }

    /// Serializes `fields`; when that exceeds `limit` bytes, shortens the longest string fields
    /// (marking each cut with `…`) until it fits.
    public static func boundedCause(_ fields: JSONObject, limit: Int = causeLimit) -> String {
        var fields = fields
        var size = JSONValue.object(fields).serializedByteCount
        while size > limit {
            guard
                let longest =
                    fields
                    .compactMap({ member -> (key: String, text: String)? in member.value.stringValue.map { (member.key, $0) } })
                    .max(by: { $0.text.utf8.count < $1.text.utf8.count }),
                longest.text.utf8.count > 1
            else {
                // Nothing left to shorten: keep only the first field, which names the job.
                return JSONValue.object(JSONObject(fields.prefix(1).map { ($0.key, $0.value) })).serialized()
            }
            let excess = size - limit
            let targetBytes = max(0, longest.text.utf8.count - excess - 3)
            fields[longest.key] = .string(prefix(longest.text, utf8Bytes: targetBytes) + "…")
            size = JSONValue.object(fields).serializedByteCount
        }
        return JSONValue.object(fields).serialized()
    }

    /// The longest prefix of `text` that fits in `bytes` UTF-8 bytes, cut on a character boundary.
    static func prefix(_ text: String, utf8Bytes bytes: Int) -> String {
        var used = 0
        var end = text.startIndex
        for character in text {
            let width = character.utf8.count
            if used + width > bytes { break }
            used += width
            end = text.index(after: end)
        }
        return String(text[..<end])
    }
}
