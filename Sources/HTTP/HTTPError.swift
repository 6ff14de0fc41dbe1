import CCurl

/// A transport failure: no HTTP response was received.
///
/// `description` is safe to log: it holds curl's diagnosis (host, port, timings), never a body or a
/// header value.
public struct HTTPError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, coarse enough to decide whether to retry.
    public enum Kind: Sendable {
        /// The host could not be resolved or a connection could not be established.
        case connect
        /// The request's total time limit (or the connect timeout) ran out.
        case timeout
        /// The TLS handshake or certificate verification failed.
        case tls
        /// Sending the request failed.
        case send
        /// Receiving the response failed, or the server closed without a complete response.
        case receive
        /// The request was malformed (method, URL, headers) or used an unsupported scheme.
        case invalidRequest
        /// The client was shut down before the transfer finished.
        case shutdown
        /// Anything else curl reported.
        case other
    }

    /// What went wrong.
    public var kind: Kind
    /// The `CURLcode` behind the failure, or 0 when curl was not involved.
    public var curlCode: Int32
    /// A human-readable diagnosis, safe to log.
    public var message: String

    /// Creates an error; the client makes these, and so may test doubles.
    public init(kind: Kind, curlCode: Int32, message: String) {
        self.kind = kind
        self.curlCode = curlCode
        self.message = message
    }

    public var description: String {
        "HTTPError(\(kind), curl \(curlCode)): \(message)"
    }

    static let shutdown = HTTPError(kind: .shutdown, curlCode: 0, message: "the HTTP client was shut down")

    /// An error for a failed curl call; `detail` is the handle's error buffer, when it says more.
    init(code: CURLcode, detail: String = "") {
        let summary = String(cString: curl_easy_strerror(code))
        self.init(
            kind: Self.kind(of: code), curlCode: Int32(bitPattern: code.rawValue),
            message: detail.isEmpty ? summary : "\(summary): \(detail)")
    }

    static func kind(of code: CURLcode) -> Kind {
        switch code {
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            return .connect
        case CURLE_OPERATION_TIMEDOUT:
            return .timeout
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM,
            CURLE_SSL_CIPHER, CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ENGINE_SETFAILED,
            CURLE_SSL_ENGINE_INITFAILED, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_SHUTDOWN_FAILED,
            CURLE_SSL_CRL_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH,
            CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_CLIENTCERT, CURLE_USE_SSL_FAILED:
            return .tls
        case CURLE_SEND_ERROR, CURLE_SEND_FAIL_REWIND:
            return .send
        case CURLE_RECV_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE, CURLE_WEIRD_SERVER_REPLY,
            CURLE_HTTP2, CURLE_HTTP2_STREAM, CURLE_HTTP3:
            return .receive
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL, CURLE_BAD_FUNCTION_ARGUMENT:
            return .invalidRequest
        default:
            return .other
        }
    }
}
