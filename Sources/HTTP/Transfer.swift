import CCurl

/// One request in flight on the transfer thread: its easy handle, the response being received,
/// and the continuation to resume when it ends. Touched only by the transfer thread.
final class Transfer {
    let id: UInt64
    let easy: EasyHandle
    let continuation: CheckedContinuation<HTTPResponse, any Error>
    private var requestHeaders: UnsafeMutablePointer<curl_slist>?
    private var responseHeaders: [(name: String, value: String)] = []
    private var body: [UInt8] = []

    /// Responses announcing a larger body grow their buffer as bytes arrive instead of trusting the header.
    private static let maxReservedBodyBytes = 16 << 20

    init(id: UInt64, easy: EasyHandle, continuation: CheckedContinuation<HTTPResponse, any Error>) {
        self.id = id
        self.easy = easy
        self.continuation = continuation
    }

    deinit {
        curl_slist_free_all(requestHeaders)
    }

    /// Sets every option this request needs on the (freshly reset) easy handle.
    func configure(for request: HTTPRequest, connectTimeout: Duration, userAgent: String) throws(HTTPError) {
        let context = Unmanaged.passUnretained(self).toOpaque()
        try easy.set(CURLOPT_NOSIGNAL, 1)
        try easy.set(CURLOPT_PROTOCOLS_STR, "http,https")
        try easy.set(CURLOPT_SSL_VERIFYPEER, 1)
        try easy.set(CURLOPT_SSL_VERIFYHOST, 2)
        try easy.set(CURLOPT_FOLLOWLOCATION, 0)
        try easy.set(CURLOPT_TCP_KEEPALIVE, 1)
        try easy.set(CURLOPT_CONNECTTIMEOUT_MS, connectTimeout.curlMilliseconds)
        try easy.set(CURLOPT_TIMEOUT_MS, request.timeout.curlMilliseconds)
        try easy.set(CURLOPT_USERAGENT, userAgent)
        try easy.set(CURLOPT_ERRORBUFFER, pointer: UnsafeMutableRawPointer(easy.errorBuffer))
        // The id, not the object: a finished message must never lead to a freed transfer.
        try easy.set(CURLOPT_PRIVATE, pointer: UnsafeMutableRawPointer(bitPattern: UInt(id)))
        try easy.set(CURLOPT_WRITEDATA, pointer: context)
        try easy.set(
            CURLOPT_WRITEFUNCTION,
            function: { data, size, count, context in
                let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
                transfer.body.append(contentsOf: UnsafeRawBufferPointer(start: data, count: size * count))
                return size * count
            })
        try easy.set(CURLOPT_HEADERDATA, pointer: context)
        try easy.set(
            CURLOPT_HEADERFUNCTION,
            function: { data, size, count, context in
                let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
                transfer.receiveHeaderLine(UnsafeRawBufferPointer(start: data, count: size * count))
                return size * count
            })
        try easy.set(CURLOPT_URL, request.url)
        if request.bypassesProxy { try easy.set(CURLOPT_NOPROXY, "*") }
        try configureMethodAndBody(for: request)
        try configureHeaders(for: request)
    }

    private func configureMethodAndBody(for request: HTTPRequest) throws(HTTPError) {
        switch request.method {
        case "GET" where request.body.isEmpty:
            try easy.set(CURLOPT_HTTPGET, 1)
        case "HEAD":
            try easy.set(CURLOPT_NOBODY, 1)
        default:
            try easy.set(CURLOPT_POST, 1)
            try easy.set(CURLOPT_POSTFIELDSIZE_LARGE, offset: Int64(request.body.count))
            // curl keeps its own copy, so the body needs no pinning for the life of the transfer,
            // and a retry on a stale keep-alive connection can resend it without a rewind callback.
            // An empty body still needs a non-null pointer, or curl would read the body from stdin.
            if request.body.isEmpty {
                try easy.set(CURLOPT_COPYPOSTFIELDS, "")
            } else {
                try easy.set(CURLOPT_COPYPOSTFIELDS, copying: request.body)
            }
            if request.method != "POST" {
                try easy.set(CURLOPT_CUSTOMREQUEST, request.method)
            }
        }
    }

    private func configureHeaders(for request: HTTPRequest) throws(HTTPError) {
        // An empty `Expect:` stops curl waiting for 100-continue before sending larger bodies.
        try appendHeaderLine("Expect:")
        if request.method != "GET" && request.method != "HEAD"
            && !request.headers.contains(where: { HTTPSyntax.namesEqual($0.name, "Content-Type") })
        {
            // Otherwise curl labels every POST application/x-www-form-urlencoded.
            try appendHeaderLine("Content-Type:")
        }
        for header in request.headers {
            // curl reads "Name:" as "remove this header"; "Name;" sends it with an empty value.
            try appendHeaderLine(header.value.isEmpty ? "\(header.name);" : "\(header.name): \(header.value)")
        }
        try easy.set(CURLOPT_HTTPHEADER, list: requestHeaders)
    }

    private func appendHeaderLine(_ line: String) throws(HTTPError) {
        guard let list = curl_slist_append(requestHeaders, line) else {
            throw HTTPError(code: CURLE_OUT_OF_MEMORY)
        }
        requestHeaders = list
    }

    /// Called by curl once per header line, of every response including interim 1xx ones.
    private func receiveHeaderLine(_ line: UnsafeRawBufferPointer) {
        if line.starts(with: "HTTP/".utf8) {
            // A new status line: only the final response's headers are kept.
            responseHeaders.removeAll(keepingCapacity: true)
            return
        }
        var end = line.count
        while end > 0, line[end - 1] == UInt8(ascii: "\r") || line[end - 1] == UInt8(ascii: "\n") { end -= 1 }
        guard end > 0, let colon = line[..<end].firstIndex(of: UInt8(ascii: ":")) else { return }
        var start = colon + 1
        while start < end, line[start] == UInt8(ascii: " ") || line[start] == UInt8(ascii: "\t") { start += 1 }
        var stop = end
        while stop > start, line[stop - 1] == UInt8(ascii: " ") || line[stop - 1] == UInt8(ascii: "\t") { stop -= 1 }
        let name = String(decoding: UnsafeRawBufferPointer(rebasing: line[..<colon]), as: UTF8.self)
        let value = String(decoding: UnsafeRawBufferPointer(rebasing: line[start..<stop]), as: UTF8.self)
        if HTTPSyntax.namesEqual(name, "Content-Length"), let length = Int(value), length > 0 {
            body.reserveCapacity(min(length, Self.maxReservedBodyBytes))
        }
        responseHeaders.append((name: name, value: value))
    }

    /// Ends the transfer with curl's result; the easy handle must already be out of the multi handle.
    func complete(with code: CURLcode) {
        guard code == CURLE_OK else {
            continuation.resume(throwing: HTTPError(code: code, detail: easy.errorDetail))
            return
        }
        var status = 0
        _ = ccurl_easy_getinfo_long(easy.raw, CURLINFO_RESPONSE_CODE, &status)
        continuation.resume(returning: HTTPResponse(status: status, headers: responseHeaders, body: body))
    }
}

extension Duration {
    /// Whole milliseconds rounded up and at least 1, because curl reads 0 as "no limit".
    var curlMilliseconds: Int {
        let (seconds, attoseconds) = components
        guard seconds >= 0 else { return 1 }
        guard seconds < Int64(Int.max / 1000) - 1 else { return Int.max }
        let perMillisecond: Int64 = 1_000_000_000_000_000
        let rest = (attoseconds + perMillisecond - 1) / perMillisecond
        return max(1, Int(seconds * 1000 + rest))
    }
}
