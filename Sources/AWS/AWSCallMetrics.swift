public import CoreMetrics
import Synchronization

/// What the AWS client counts: each attempt by service, operation and outcome, its latency, and
/// the throttled answers and retries. Labels come from the code (service and operation names) and
/// a fixed set of outcomes, never from a request. Metric objects are made once per label set and
/// kept, so an attempt costs a dictionary lookup and an atomic add.
public final class AWSCallMetrics: Sendable {
    /// How one attempt ended.
    public enum Outcome: String, Sendable, CaseIterable {
        case success, throttled, clientError = "client_error", serverError = "server_error", connectionError = "connection_error"
    }

    private struct Key: Hashable {
        var service: String
        var operation: String
    }

    private struct Series: Sendable {
        var outcomes: [Outcome: CoreMetrics.Counter]
        var latency: CoreMetrics.Timer
    }

    /// The metric names, for the exporter's bucket configuration and the README.
    public static let callsName = "sagemaker_callback_aws_calls_total"
    public static let latencyName = "sagemaker_callback_aws_call_duration_seconds"
    public static let throttlesName = "sagemaker_callback_aws_throttles_total"
    public static let retriesName = "sagemaker_callback_aws_retries_total"

    private let factory: any MetricsFactory
    private let series = Mutex<[Key: Series]>([:])
    private let perService = Mutex<[String: (throttles: CoreMetrics.Counter, retries: CoreMetrics.Counter)]>([:])

    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
    }

    /// One attempt of `operation` on `service` ended as `outcome` after `elapsed`.
    public func attempt(service: String, operation: String, outcome: Outcome, elapsed: Duration) {
        let key = Key(service: service, operation: operation)
        let found = series.withLock { series in
            if let found = series[key] { return found }
            let labels = [("service", service), ("operation", operation)]
            var outcomes: [Outcome: CoreMetrics.Counter] = [:]
            for outcome in Outcome.allCases {
                outcomes[outcome] = CoreMetrics.Counter(label: Self.callsName, dimensions: labels + [("outcome", outcome.rawValue)], factory: factory)
            }
            let made = Series(outcomes: outcomes, latency: CoreMetrics.Timer(label: Self.latencyName, dimensions: labels, factory: factory))
            series[key] = made
            return made
        }
        found.outcomes[outcome]?.increment()
        found.latency.record(elapsed)
        if outcome == .throttled { counters(service).throttles.increment() }
    }

    /// An attempt of a call to `service` is followed by another.
    public func retry(service: String) {
        counters(service).retries.increment()
    }

    private func counters(_ service: String) -> (throttles: CoreMetrics.Counter, retries: CoreMetrics.Counter) {
        perService.withLock { perService in
            if let found = perService[service] { return found }
            let made = (
                throttles: CoreMetrics.Counter(label: Self.throttlesName, dimensions: [("service", service)], factory: factory),
                retries: CoreMetrics.Counter(label: Self.retriesName, dimensions: [("service", service)], factory: factory)
            )
            perService[service] = made
            return made
        }
    }
}

extension AWSCallMetrics.Outcome {
    /// The outcome of an attempt that failed as `failure`.
    init(_ failure: RetryableFailure, httpStatus: Int?) {
        switch failure {
        case .throttling: self = .throttled
        case .serverError: self = .serverError
        case .connection: self = .connectionError
        case .transient, .permanent: self = (httpStatus ?? 400) >= 500 ? .serverError : .clientError
        }
    }
}

extension CoreMetrics.Timer {
    /// Records `duration` (CoreMetrics takes nanoseconds).
    public func record(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        recordNanoseconds(seconds.multipliedReportingOverflow(by: 1_000_000_000).partialValue + attoseconds / 1_000_000_000)
    }
}
