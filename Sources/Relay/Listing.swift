#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import JSON
public import CallbackStore

/// What `list` shows: pending callbacks, early events, undelivered outcomes and rejected messages.
/// Tokens appear only as a short hash.
public struct Listing: Sendable {
    public var counts: StoreCounts
    public var pending: [PendingCallback]
    public var earlyEvents: [EarlyEvent]
    public var outbox: [OutboxEntry]
    public var rejected: [RejectedMessage]

    /// Reads at most `limit` rows of each kind. Each kind is read on its own, so under a running
    /// service the counts and rows may differ by what changed in between.
    public static func read(_ store: any CallbackStore, limit: Int) async throws -> Listing {
        Listing(
            counts: try await store.counts(),
            pending: try await store.listPending(limit: limit),
            earlyEvents: try await store.listEarlyEvents(limit: limit),
            outbox: try await store.listOutbox(limit: limit),
            rejected: try await store.listRejected(limit: limit)
        )
    }

    /// For machines: one JSON object.
    public func json(now: Int64) -> String {
        func time(_ millis: Int64?) -> JSONValue { millis.map { .string(Self.iso8601($0)) } ?? .null }
        func text(_ value: String?) -> JSONValue { value.map { .string($0) } ?? .null }
        let object: JSONObject = [
            "counts": .object([
                "pending": JSONValue(counts.pending), "earlyEvents": JSONValue(counts.earlyEvents),
                "outbox": JSONValue(counts.outbox), "rejected": JSONValue(counts.rejected), "closed": JSONValue(counts.closed),
            ]),
            "pending": .array(
                pending.map { callback in
                    .object([
                        "token": .string(TaskTokens.short(callback.tokenHash)), "kind": .string(callback.jobKind),
                        "job": .string(callback.jobName), "registeredAt": time(callback.registeredAt),
                        "ageSeconds": JSONValue((now - callback.registeredAt) / 1000),
                        "executionArn": text(callback.executionArn), "heartbeat": .bool(callback.heartbeat),
                        "createdByService": .bool(callback.createdByService), "stopJobOnAbort": .bool(callback.stopJobOnAbort),
                        "lastStatus": text(callback.lastStatus), "lastEventAt": time(callback.lastEventAt),
                        "lastHeartbeatAt": time(callback.lastHeartbeatAt),
                        "sweep": .object([
                            "checks": JSONValue(callback.sweep.checks), "lastFound": text(callback.sweep.status),
                            "nextCheckAt": time(callback.sweep.nextCheckAt), "missingSince": time(callback.sweep.missingSince),
                        ]),
                    ])
                }),
            "earlyEvents": .array(
                earlyEvents.map { event in
                    .object([
                        "kind": .string(event.jobKind), "job": .string(event.jobName), "status": .string(event.status),
                        "receivedAt": time(event.receivedAt),
                    ])
                }),
            "outbox": .array(
                outbox.map { entry in
                    .object([
                        "id": JSONValue(entry.id), "action": .string(entry.action.rawValue), "token": .string(TaskTokens.short(entry.tokenHash)),
                        "kind": .string(entry.jobKind), "job": .string(entry.jobName), "error": text(entry.errorName),
                        "attempts": JSONValue(entry.attempts), "nextAttemptAt": time(entry.nextAttemptAt),
                        "createdAt": time(entry.createdAt), "lastError": text(entry.lastError),
                    ])
                }),
            "rejected": .array(
                rejected.map { message in
                    .object([
                        "receivedAt": time(message.receivedAt), "source": .string(message.source),
                        "messageId": text(message.messageID), "reason": .string(message.reason), "body": .string(message.body),
                    ])
                }),
        ]
        return JSONValue.object(object).serialized()
    }

    /// For people: a section per kind, one row per item.
    public func text(now: Int64) -> String {
        var lines: [String] = []
        func age(_ since: Int64) -> String { Self.age(now - since) }
        lines.append("Pending callbacks: \(counts.pending)")
        for callback in pending {
            var row = "  \(TaskTokens.short(callback.tokenHash))  \(callback.jobKind)  \(callback.jobName)  age \(age(callback.registeredAt))"
            row += "  status \(callback.lastStatus ?? "-")"
            if let seen = callback.lastEventAt { row += " (\(age(seen)) ago)" }
            if callback.heartbeat {
                row += callback.lastHeartbeatAt.map { "  heartbeat \(age($0)) ago" } ?? "  heartbeat none yet"
            }
            row += "  sweep " + Self.sweep(callback.sweep, now: now)
            if callback.createdByService { row += "  created-by-service" }
            if callback.stopJobOnAbort { row += "  stop-on-abort" }
            if let arn = callback.executionArn { row += "  \(arn)" }
            lines.append(row)
        }
        lines.append("Early events (terminal events kept for registrations that come later): \(counts.earlyEvents)")
        for event in earlyEvents {
            lines.append("  \(event.jobKind)  \(event.jobName)  \(event.status)  received \(age(event.receivedAt)) ago")
        }
        lines.append("Undelivered outcomes (outbox): \(counts.outbox)")
        for entry in outbox {
            var row = "  #\(entry.id)  \(entry.action.rawValue)"
            if let error = entry.errorName { row += " \(error)" }
            row += "  \(TaskTokens.short(entry.tokenHash))  \(entry.jobName.isEmpty ? "-" : entry.jobName)  attempts \(entry.attempts)"
            row += entry.nextAttemptAt > now ? "  next in \(Self.age(entry.nextAttemptAt - now))" : "  due now"
            if let error = entry.lastError { row += "  last error: \(error)" }
            lines.append(row)
        }
        lines.append("Rejected messages: \(counts.rejected)")
        for message in rejected {
            lines.append("  \(Self.iso8601(message.receivedAt))  \(message.source)  \(message.reason)")
        }
        return lines.joined(separator: "\n")
    }

    /// The sweep state in a few words: `not checked`, `2 checks, InProgress, next in 58m`,
    /// `1 check, missing for 3m, next in 7m`.
    static func sweep(_ state: SweepState, now: Int64) -> String {
        guard state.checks > 0 || state.status != nil else { return "not checked" }
        var words = ["\(state.checks) check\(state.checks == 1 ? "" : "s")"]
        if let since = state.missingSince {
            words.append("missing for \(age(now - since))")
        } else if let status = state.status {
            words.append(status)
        }
        if let next = state.nextCheckAt { words.append(next > now ? "next in \(age(next - now))" : "due now") }
        return words.joined(separator: ", ")
    }

    static func age(_ millis: Int64) -> String {
        let seconds = max(0, millis / 1000)
        if seconds < 120 { return "\(seconds)s" }
        if seconds < 7200 { return "\(seconds / 60)m" }
        if seconds < 172_800 { return "\(seconds / 3600)h" }
        return "\(seconds / 86_400)d"
    }

    static func iso8601(_ millis: Int64) -> String {
        var seconds = time_t(millis / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let date = "\(digits(Int(parts.tm_year) + 1900, 4))-\(digits(Int(parts.tm_mon) + 1, 2))-\(digits(Int(parts.tm_mday), 2))"
        let time = "\(digits(Int(parts.tm_hour), 2)):\(digits(Int(parts.tm_min), 2)):\(digits(Int(parts.tm_sec), 2))"
        return "\(date)T\(time).\(digits(Int(millis % 1000), 3))Z"
    }

    /// `value` in decimal, zero-padded to `width` (`String(format:)` is not in FoundationEssentials).
    private static func digits(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }
}
