import CCurl
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// An ``HTTPClient`` on libcurl's multi interface.
///
/// One dedicated thread owns the multi handle and drives every transfer, so blocking never touches
/// Swift's cooperative thread pool; callers wait on continuations. Connections are kept alive and
/// reused across requests when the server allows; TLS is always verified; redirects are never
/// followed; only `http` and `https` URLs are accepted. Proxies come from the usual environment
/// variables (`https_proxy`, `no_proxy`, …), as curl reads them.
public final class CurlHTTPClient: HTTPClient {
    /// Limits and identity for a client; the defaults suit one service talking to a few AWS endpoints.
    public struct Configuration: Sendable {
        /// The time allowed to establish a connection, TLS included.
        public var connectTimeout: Duration = .seconds(5)
        /// Transfers running at once; beyond that, requests wait their turn, and their timeout
        /// starts when their transfer does.
        public var maxConcurrentTransfers: Int = 64
        /// Open connections to one host at most; transfers beyond wait inside curl (their timeout running).
        public var maxConnectionsPerHost: Int = 32
        /// The `User-Agent` header sent with every request.
        public var userAgent: String = "sagemaker-callback"

        /// Creates a configuration; every parameter has the documented default.
        public init(
            connectTimeout: Duration = .seconds(5),
            maxConcurrentTransfers: Int = 64,
            maxConnectionsPerHost: Int = 32,
            userAgent: String = "sagemaker-callback"
        ) {
            self.connectTimeout = connectTimeout
            self.maxConcurrentTransfers = maxConcurrentTransfers
            self.maxConnectionsPerHost = maxConnectionsPerHost
            self.userAgent = userAgent
        }
    }

    private let queue: SubmissionQueue
    /// The transfer thread until someone joins it.
    private let thread: Mutex<pthread_t?>

    /// Initialises libcurl and starts the transfer thread.
    ///
    /// Throws ``HTTPError`` if the configuration is unusable (a limit below 1, control characters in
    /// the user agent) or curl cannot start.
    public init(configuration: Configuration = .init()) throws {
        guard configuration.maxConcurrentTransfers >= 1, configuration.maxConnectionsPerHost >= 1 else {
            throw HTTPError(kind: .invalidRequest, curlCode: 0, message: "connection and transfer limits must be at least 1")
        }
        guard configuration.userAgent.utf8.allSatisfy(HTTPSyntax.isFieldValueByte) else {
            throw HTTPError(kind: .invalidRequest, curlCode: 0, message: "user agent contains control characters")
        }
        let global = CurlGlobal.initialization
        guard global == CURLE_OK else { throw HTTPError(code: global) }
        let multi = try MultiHandle(
            maxTotalConnections: configuration.maxConcurrentTransfers,
            maxConnectionsPerHost: configuration.maxConnectionsPerHost)
        queue = SubmissionQueue(multi: multi)
        thread = Mutex(try TransferThread.start(queue: queue, configuration: configuration))
    }

    deinit {
        shutdown()
    }

    /// Performs one request on the transfer thread; see ``HTTPClient/execute(_:)``.
    public func execute(_ request: HTTPRequest) async throws -> HTTPResponse {
        try request.validate()
        let id = queue.makeID()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                queue.submit(Submission(id: id, request: request, continuation: continuation))
            }
        } onCancel: {
            queue.cancel(id)
        }
    }

    /// Stops the transfer thread and waits for it (it stops at once): in-flight and later requests
    /// fail with ``HTTPError/Kind/shutdown`` and every connection is closed. Idempotent; also done
    /// when the client is released.
    public func shutdown() {
        _ = queue.shutdown()
        let joinable = thread.withLock { thread -> pthread_t? in
            defer { thread = nil }
            return thread
        }
        guard let joinable else { return }
        if pthread_equal(joinable, pthread_self()) != 0 {
            pthread_detach(joinable)
        } else {
            pthread_join(joinable, nil)
        }
    }
}

/// `curl_global_init` must run once per process before any other curl call and is not itself
/// thread-safe; a static let runs it exactly once, under Swift's lazy-global lock.
private enum CurlGlobal {
    static let initialization: CURLcode = curl_global_init(ccurl_global_default)
}
