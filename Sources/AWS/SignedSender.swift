#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import HTTP
import Logging
import SigV4
import Synchronization

/// Server time minus local time, learned from a clock-skew answer: what a client adds to its own
/// clock when it signs, from then on.
final class ServerClock: Sendable {
    private let offset = Mutex(0.0)

    /// The time to sign with.
    var now: Date { Date().addingTimeInterval(offset.withLock { $0 }) }

    /// Adopts the server's clock: it is `seconds` ahead of ours (behind when negative).
    func adopt(offset seconds: Double) { offset.withLock { $0 = seconds } }
}

/// One AWS request, as each attempt sends it: a `POST` of `body` to `endpoint`.
struct SignedRequest: Sendable {
    var service: AWSService
    var operation: String
    var endpoint: Endpoint
    /// The headers besides `host` and the signature's.
    var headers: [(name: String, value: String)]
    var body: [UInt8]
    /// The total time one attempt may take.
    var timeout: Duration
    /// Values (a task token, a web identity token, a secret key) that must never appear in an
    /// error: replaced with `<redacted>` should the service echo them.
    var secrets: [String]
}

/// What every AWS request does on each attempt, whatever its protocol: signs it afresh at the
/// server's time, sends it, and on an error answer decodes it, corrects a skewed clock (adopting
/// the server's and signing again at once, once per call, as the SDKs do) and reads the server's
/// `Retry-After`; all under a retry policy. The JSON client and STS both send through it.
struct SignedSender: Sendable {
    let http: any HTTPClient
    let clock: ServerClock
    let logger: Logger?
    let metrics: AWSCallMetrics?

    /// Codes with which services refuse a request signed at the wrong time.
    static let clockSkewCodes: Set<String> = [
        "RequestTimeTooSkewed", "RequestExpired", "RequestInTheFuture", "InvalidSignatureException",
        "SignatureDoesNotMatch", "AuthFailure",
    ]
    /// A `Date` header further than this from the local clock means the clock is skewed.
    static let clockSkewThreshold = 60.0

    /// Sends `request` until it succeeds or `policy` gives up. Each attempt is signed by `signer`
    /// with what `credentials` gives at that moment; a nil `credentials` sends it unsigned (STS's
    /// web identity exchange). `decodeError` reads an error answer; `decodeSuccess` a 2xx one.
    ///
    /// - Throws: ``AWSError`` for a service error, ``AWSTransportError`` for a transport failure,
    ///   ``AWSResponseError`` for an unusable answer, once retries are exhausted; whatever
    ///   `credentials` throws; `CancellationError`.
    func send<Value: Sendable>(
        _ request: SignedRequest,
        policy: RetryPolicy,
        signer: SigV4Signer,
        credentials: (() async throws -> Credentials)?,
        decodeError: (HTTPResponse, _ operation: String, _ secrets: [String]) -> AWSError,
        decodeSuccess: (HTTPResponse) throws -> Value
    ) async throws -> Value {
        let path = Self.path(of: request.endpoint.url)
        let url = request.endpoint.url.hasSuffix(path) ? request.endpoint.url : request.endpoint.url + path
        let headers = [("host", request.endpoint.host)] + request.headers
        var correctedSkew = false
        return try await policy.run(service: request.service.rawValue, operation: request.operation, logger: logger, metrics: metrics) {
            while true {
                var sent = headers
                if let credentials {
                    // Credentials and the signature are fetched and computed afresh for every attempt:
                    // a retry after a refresh, or after minutes of backoff, must carry a valid signature.
                    sent +=
                        signer.sign(
                            SignableRequest(method: "POST", path: path, headers: headers, body: request.body),
                            credentials: try await credentials(),
                            date: clock.now
                        ).headers
                }
                let response: HTTPResponse
                do {
                    response = try await http.execute(
                        HTTPRequest(method: "POST", url: url, headers: sent, body: request.body, timeout: request.timeout))
                } catch let error as HTTPError {
                    throw AWSTransportError(operation: request.operation, underlying: error)
                }
                if (200..<300).contains(response.status) {
                    return .success(try decodeSuccess(response))
                }
                let error = decodeError(response, request.operation, request.secrets)
                if credentials != nil, !correctedSkew, let skew = Self.clockSkew(error, response) {
                    correctedSkew = true
                    clock.adopt(offset: skew)
                    logger?.warning("aws.clock_skew", metadata: ["aws.operation": "\(request.operation)", "aws.skew_seconds": "\(Int(skew))"])
                    continue
                }
                return .failure(error, RetryableFailure.classify(error), retryAfter: Self.retryAfter(response))
            }
        }
    }

    /// Server time minus local time, when `error` refuses a request for its time and the
    /// response's `Date` is further off than the threshold.
    static func clockSkew(_ error: AWSError, _ response: HTTPResponse) -> Double? {
        guard clockSkewCodes.contains(error.code), let serverTime = response.header("date").flatMap(httpDate) else { return nil }
        let skew = serverTime.timeIntervalSinceNow
        return abs(skew) > clockSkewThreshold ? skew : nil
    }

    /// The path part of an endpoint URL, `/` when it has none.
    static func path(of url: String) -> String {
        guard let schemeEnd = url.firstRange(of: "://") else { return "/" }
        let rest = url[schemeEnd.upperBound...]
        guard let slash = rest.firstIndex(of: "/") else { return "/" }
        return String(rest[slash...])
    }

    /// An HTTP `Date` header (RFC 7231 IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`).
    static func httpDate(_ text: String) -> Date? {
        let parts = text.split(separator: " ")
        guard parts.count == 6, parts[5] == "GMT", let day = Int(parts[1]), let year = Int(parts[3]) else { return nil }
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard let monthIndex = months.firstIndex(of: String(parts[2])) else { return nil }
        let time = parts[4].split(separator: ":").compactMap { Int($0) }
        guard time.count == 3 else { return nil }
        let days = ISO8601Timestamp.daysSince1970(year: year, month: monthIndex + 1, day: day)
        return Date(timeIntervalSince1970: TimeInterval(days * 86_400 + time[0] * 3600 + time[1] * 60 + time[2]))
    }

    /// The server's hint of when to try again: `x-amz-retry-after` (ms) or `Retry-After` (s).
    static func retryAfter(_ response: HTTPResponse) -> Duration? {
        if let millis = response.header("x-amz-retry-after").flatMap(Int.init), millis >= 0 {
            return .milliseconds(millis)
        }
        if let seconds = response.header("retry-after").flatMap(Int.init), seconds >= 0 {
            return .seconds(seconds)
        }
        return nil
    }
}
