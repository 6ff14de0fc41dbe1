public import CallbackStore
import CoreMetrics
import JSON
public import Logging
public import Prometheus
public import ServiceLifecycle
public import StatusServer
#if canImport(Glibc)
import Glibc
#endif

/// What an operator sees of `serve`: the Prometheus registry and the metrics recorded into it,
/// and the answers of the HTTP listener's routes.
public final class Operations: Sendable {
    public let registry: PrometheusCollectorRegistry
    public let metrics: RelayMetrics

    /// Buckets of the latency histograms, in seconds: AWS calls and commits are milliseconds to
    /// seconds; an event's way to its callback is seconds to minutes.
    static let callBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5), .seconds(10), .seconds(30),
    ]
    static let eventBuckets: [Duration] = [
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
        .seconds(300), .seconds(900),
    ]

    /// A fresh registry and its metrics; `startedAt` is the process's start, epoch seconds.
    public init(startedAt: Double = Double(WallClock.millisecondsNow()) / 1000) {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = Self.callBuckets
        factory.durationHistogramBuckets = [RelayMetrics.Name.eventToCallback: Self.eventBuckets]
        metrics = RelayMetrics(factory: factory, startedAt: startedAt)
    }

    /// The listener's routes: `/metrics`, `/health/live`, `/health/ready`; anything else 404.
    public func route(_ health: HealthChecks) -> @Sendable (StatusServer.Request) -> StatusResponse {
        { [registry] request in
            switch request.path {
            case "/metrics":
                return StatusResponse(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: registry.emitToBuffer())
            case "/health/live":
                return Self.answer(health.live())
            case "/health/ready":
                return Self.answer(health.ready())
            default:
                return .notFound
            }
        }
    }

    private static func answer(_ report: HealthChecks.Report) -> StatusResponse {
        StatusResponse(status: report.healthy ? 200 : 503, contentType: "application/json", body: report.body())
    }
}

/// Every few seconds: probes the store with a write (a fleet-wide lease of one millisecond, so
/// any replica may take it) for readiness, and reads the gauges (``CallbackStore/gauges()``).
/// Once a minute, when asked, writes a CloudWatch embedded-metric-format line to standard output:
/// callbacks delivered in that minute, pending callbacks, outbox entries.
public final class OperationsRefresher: Service, Sendable {
    private let store: any CallbackStore
    private let metrics: RelayMetrics
    private let health: HealthChecks
    private let interval: Duration
    private let embeddedMetrics: Bool
    private let logger: Logger

    /// The EMF namespace the dashboard reads.
    public static let namespace = "SageMakerCallback"

    public init(
        store: any CallbackStore, metrics: RelayMetrics, health: HealthChecks, interval: Duration = .seconds(10), embeddedMetrics: Bool,
        logger: Logger
    ) {
        self.store = store
        self.metrics = metrics
        self.health = health
        self.interval = interval
        self.embeddedMetrics = embeddedMetrics
        self.logger = logger
    }

    public func run() async throws {
        var lastEMF = WallClock.millisecondsNow()
        var deliveredAtLastEMF = metrics.callbacksDelivered
        var gauges: StoreGauges?
        var failing = false
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            let now = WallClock.millisecondsNow()
            do {
                _ = try await store.holdLease("readiness-probe", now: now, duration: 1)
                let read = try await store.gauges()
                metrics.gauges(read, now: now)
                gauges = read
                health.storeProbed(error: nil)
                if failing { logger.notice("store.probe_recovered") }
                failing = false
            } catch is CancellationError {
                break
            } catch {
                health.storeProbed(error: "\(error)")
                if !failing { logger.warning("store.probe_failed", metadata: ["error": "\(error)"]) }
                failing = true
            }
            if embeddedMetrics, now - lastEMF >= 60_000 {
                let delivered = metrics.callbacksDelivered
                JSONLogHandler.writeLine(
                    Self.embeddedMetricLine(at: now, delivered: delivered - deliveredAtLastEMF, gauges: gauges), to: STDOUT_FILENO)
                (lastEMF, deliveredAtLastEMF) = (now, delivered)
            }
            do {
                try await cancelWhenGracefulShutdown { [interval] in try await Task.sleep(for: interval) }
            } catch {
                break
            }
        }
        health.stopping()
    }

    /// One EMF line: `_aws` names the metrics; their values are top-level members.
    static func embeddedMetricLine(at now: Int64, delivered: Int, gauges: StoreGauges?) -> [UInt8] {
        var names: [JSONValue] = [["Name": "CallbacksDelivered", "Unit": "Count"]]
        var object: JSONObject = ["CallbacksDelivered": JSONValue(delivered)]
        if let gauges {
            names += [["Name": "PendingCallbacks", "Unit": "Count"], ["Name": "OutboxEntries", "Unit": "Count"]]
            _ = object.updateValue(JSONValue(gauges.pending), forKey: "PendingCallbacks")
            _ = object.updateValue(JSONValue(gauges.outbox), forKey: "OutboxEntries")
        }
        let directive: JSONValue = [
            "Timestamp": JSONValue(now),
            "CloudWatchMetrics": [["Namespace": .string(namespace), "Dimensions": [[]], "Metrics": .array(names)]],
        ]
        var line = JSONObject([("_aws", directive)])
        for (key, value) in object { _ = line.updateValue(value, forKey: key) }
        var bytes = JSONValue.object(line).serializedBytes()
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }
}
