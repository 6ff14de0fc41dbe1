import CallbackStore
import JSON
import Prometheus
@testable import Relay
import Testing

@Suite("Health checks")
struct HealthChecksTests {
    static let t0: Int64 = 1_000_000

    static func checks(receiveWindow: Duration = .seconds(10)) -> HealthChecks {
        HealthChecks(liveness: Liveness(), limits: .init(stuckAfter: .seconds(180), receiveWindow: receiveWindow, storeWindow: .seconds(35)))
    }

    @Test("ready once the store answered and every queue was received from within the window; not after")
    func readiness() throws {
        let health = Self.checks()
        health.expectQueue("events")
        health.expectQueue("requests")
        #expect(!health.ready(at: Self.t0).healthy)
        #expect(health.ready(at: Self.t0).checks.map(\.detail) == ["not probed yet", "not received from yet", "not received from yet"])
        health.storeProbed(error: nil, at: Self.t0)
        health.received(from: "events", at: Self.t0)
        #expect(!health.ready(at: Self.t0).healthy, "one queue is still silent")
        health.received(from: "requests", at: Self.t0)
        #expect(health.ready(at: Self.t0 + 10_000).healthy)
        let stale = health.ready(at: Self.t0 + 10_001)
        #expect(!stale.healthy)
        #expect(stale.checks.filter { !$0.ok }.map(\.name) == ["events queue", "requests queue"])
        health.received(from: "events", at: Self.t0 + 30_000)
        health.received(from: "requests", at: Self.t0 + 30_000)
        #expect(!health.ready(at: Self.t0 + 36_000).healthy, "the store's answer is older than its window")
        health.storeProbed(error: nil, at: Self.t0 + 36_000)
        #expect(health.ready(at: Self.t0 + 36_000).healthy)
        health.storeProbed(error: "database is locked", at: Self.t0 + 37_000)
        let failed = health.ready(at: Self.t0 + 37_000)
        #expect(failed.checks.first { $0.name == "store" } == .init(name: "store", ok: false, detail: "database is locked"))
        health.storeProbed(error: nil, at: Self.t0 + 38_000)
        health.stopping()
        #expect(health.ready(at: Self.t0 + 38_000).checks.first == .init(name: "process", ok: false, detail: "shutting down"))
    }

    @Test("the body names each check and the status")
    func body() throws {
        let health = Self.checks()
        health.expectQueue("events")
        health.storeProbed(error: nil, at: Self.t0)
        let body = try JSONValue.parse(health.ready(at: Self.t0).body())
        #expect(body["status"]?.stringValue == "failing")
        #expect(body["checks"]?["store"]?["ok"]?.boolValue == true)
        #expect(body["checks"]?["events queue"]?["ok"]?.boolValue == false)
    }

    @Test("live while every loop cycles; a stopped, stuck or silent loop is not")
    func liveness() {
        let health = Self.checks()
        let consumer = health.liveness.loop("events consumer", silentAfter: .seconds(60), at: Self.t0)
        let dispatcher = health.liveness.loop("outbox dispatcher", at: Self.t0)
        #expect(health.live(at: Self.t0 + 59_000).healthy)
        #expect(health.live(at: Self.t0 + 61_000).checks.map(\.detail) == ["silent for 61 s", "waiting"])
        consumer.end(at: Self.t0 + 61_000)
        dispatcher.begin(at: Self.t0 + 61_000)
        #expect(health.live(at: Self.t0 + 100_000).healthy)
        #expect(health.live(at: Self.t0 + 242_000).checks.map(\.detail) == ["silent for 181 s", "busy for 181 s"])
        dispatcher.stop()
        consumer.end(at: Self.t0 + 242_000)
        #expect(health.live(at: Self.t0 + 242_000).checks.map(\.ok) == [true, false])
    }

    @Test("the receive window: twice the wait, at least 10 s")
    func window() {
        #expect(HealthChecks.Limits.receiveWindow(waitSeconds: 20) == .seconds(40))
        #expect(HealthChecks.Limits.receiveWindow(waitSeconds: 1) == .seconds(10))
    }
}

@Suite("Relay metrics")
struct RelayMetricsTests {
    @Test("counters by queue and decision, deliveries by action and result, event-to-callback latency; exposition text")
    func exposition() throws {
        let operations = Operations(startedAt: 1_700_000_000)
        let metrics = operations.metrics
        let entry = NewOutboxEntry(
            tokenHash: "h1", taskToken: "secret-token", jobKind: "TrainingJob", jobName: "job-1", action: .success, payload: "{}", notBefore: 5_000)
        metrics.received(3, from: .events)
        metrics.committed(
            [Decision(.completed(.completed, callbacks: 1), effects: [.enqueue(entry)]), Decision(.rejected("bad")), Decision(.registered)],
            role: .events, sentAt: [1_000, nil, nil], elapsed: .milliseconds(3)
        )
        let stored = OutboxEntry(
            id: 1, tokenHash: "h1", taskToken: "secret-token", jobKind: "TrainingJob", jobName: "job-1", action: .success, payload: "{}",
            errorName: nil, attempts: 0, nextAttemptAt: 5_000, createdAt: 5_000, lastError: nil)
        metrics.delivery(stored, verdict: .delivered(.success), permanent: false, now: 4_000)
        metrics.delivery(stored, verdict: .retryLater(.heartbeat, "X"), permanent: true, now: 3_500)
        metrics.gauges(StoreGauges(pending: 4, earlyEvents: 2, outbox: 1, oldestOutboxCreatedAt: 1_000), now: 11_000)
        let text = String(decoding: operations.registry.emitToBuffer(), as: UTF8.self)
        func has(_ line: String) { #expect(text.contains(line + "\n"), "\(line) in\n\(text)") }
        has(#"sagemaker_callback_messages_received_total{queue="events"} 3"#)
        has(#"sagemaker_callback_messages_decided_total{queue="events",decision="completed"} 1"#)
        has(#"sagemaker_callback_messages_decided_total{queue="events",decision="rejected"} 1"#)
        has("sagemaker_callback_registrations_total 1")
        has(#"sagemaker_callback_callbacks_total{action="success",result="delivered"} 1"#)
        has(#"sagemaker_callback_callbacks_total{action="success",result="refused"} 1"#)
        has("sagemaker_callback_event_to_callback_seconds_count 1")
        has(#"sagemaker_callback_event_to_callback_seconds_bucket{le="2.0"} 0"#)
        has(#"sagemaker_callback_event_to_callback_seconds_bucket{le="5.0"} 1"#)
        has("sagemaker_callback_store_commit_duration_seconds_count 1")
        has("sagemaker_callback_pending_callbacks 4.0")
        has("sagemaker_callback_outbox_oldest_age_seconds 10.0")
        has("process_start_time_seconds 1700000000.0")
        has(#"sagemaker_callback_build_info{version="\#(RelayMetrics.version)"} 1.0"#)
        #expect(!text.contains("secret-token") && !text.contains("job-1"), "no token or job name as a label")
    }
}

@Suite("Embedded metric format")
struct EmbeddedMetricTests {
    @Test("one line: the _aws directive names the metrics its top-level members carry")
    func line() throws {
        let bytes = OperationsRefresher.embeddedMetricLine(
            at: 1_700_000_000_000, delivered: 42, gauges: StoreGauges(pending: 7, earlyEvents: 0, outbox: 3, oldestOutboxCreatedAt: nil)
        )
        #expect(bytes.last == UInt8(ascii: "\n") && bytes.filter { $0 == UInt8(ascii: "\n") }.count == 1)
        let line = try JSONValue.parse(Array(bytes.dropLast()))
        #expect(line["_aws"]?["Timestamp"]?.int64Value == 1_700_000_000_000)
        let directive = try #require(line["_aws"]?["CloudWatchMetrics"]?[0])
        #expect(directive["Namespace"]?.stringValue == "SageMakerCallback")
        let names = directive["Metrics"]?.arrayValue?.compactMap { $0["Name"]?.stringValue } ?? []
        #expect(names == ["CallbacksDelivered", "PendingCallbacks", "OutboxEntries"])
        #expect(line["CallbacksDelivered"]?.intValue == 42)
        #expect(line["PendingCallbacks"]?.intValue == 7)
        #expect(line["OutboxEntries"]?.intValue == 3)
    }
}
