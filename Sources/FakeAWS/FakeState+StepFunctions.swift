import JSON

/// The Step Functions callback operations: a token bucket in front, then the token's state.
extension FakeState {
    static let maxOutputBytes = 262_144

    mutating func stepFunctions(_ operation: String, _ request: JSONObject, now: UInt64) -> FakeReply {
        counters.requests[operation, default: 0] += 1
        let closing: Bool
        switch operation {
        case "SendTaskSuccess", "SendTaskFailure": closing = true
        case "SendTaskHeartbeat": closing = false
        default: return .error("UnknownOperationException", "The fake does not implement \(operation).")
        }
        guard let token = request["taskToken"]?.stringValue, (1...2048).contains(token.utf8.count) else {
            return .error("InvalidToken", "Invalid Token: the task token is missing or longer than 2048 characters.")
        }
        if operation == "SendTaskSuccess", (request["output"]?.stringValue?.utf8.count ?? 0) > Self.maxOutputBytes {
            return .error("InvalidOutput", "The output exceeds 262144 bytes.")
        }
        if bucket != nil, !bucket!.take(now: now) {
            counters.throttled += 1
            return .error("ThrottlingException", "Rate exceeded")
        }
        var record: TaskRecord
        if let known = tasks[token] {
            record = known
        } else if behavior.acceptsAnyToken {
            record = TaskRecord()
        } else {
            return .error("com.amazonaws.swf.service.model#TaskDoesNotExist", "Task Does Not Exist")
        }
        var said = Hasher()
        said.combine(operation)
        for field in ["output", "error", "cause"] { said.combine(request[field]?.stringValue) }
        let outcome = said.finalize()
        guard record.closedAt == 0 else {
            if closing {
                counters.duplicates += 1
                if outcome != record.outcome { counters.conflicting += 1 }
            }
            return .error("com.amazonaws.swf.service.model#TaskTimedOut", "Task Timed Out")
        }
        switch operation {
        case "SendTaskSuccess": counters.succeeded += 1
        case "SendTaskFailure": counters.failed += 1
        default: counters.heartbeats += 1
        }
        if closing { record.closedAt = now; record.outcome = outcome } else { record.heartbeats += 1 }
        tasks[token] = record
        return .ok()
    }
}
