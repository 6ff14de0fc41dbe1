import CCurl

/// Owns one curl easy handle and its error buffer; kept in an idle pool and reset between uses.
///
/// Touched only by the transfer thread.
final class EasyHandle {
    let raw: UnsafeMutableRawPointer
    /// Where curl writes a detailed message when a transfer fails; must outlive every transfer.
    let errorBuffer: UnsafeMutablePointer<CChar>

    init?() {
        guard let raw = curl_easy_init() else { return nil }
        self.raw = raw
        errorBuffer = .allocate(capacity: Int(ccurl_error_size))
        errorBuffer.initialize(repeating: 0, count: Int(ccurl_error_size))
    }

    deinit {
        curl_easy_cleanup(raw)
        errorBuffer.deallocate()
    }

    /// curl's detailed message for the last failure, or "" if it wrote none.
    var errorDetail: String {
        errorBuffer[0] == 0 ? "" : String(cString: errorBuffer)
    }

    /// Clears every option so the next request starts clean; connections stay in the multi handle's cache.
    func reset() {
        curl_easy_reset(raw)
        errorBuffer[0] = 0
    }

    func set(_ option: CURLoption, _ value: Int) throws(HTTPError) {
        try check(ccurl_easy_setopt_long(raw, option, value))
    }

    func set(_ option: CURLoption, _ value: String) throws(HTTPError) {
        try check(ccurl_easy_setopt_string(raw, option, value))
    }

    func set(_ option: CURLoption, offset value: Int64) throws(HTTPError) {
        try check(ccurl_easy_setopt_off_t(raw, option, curl_off_t(value)))
    }

    func set(_ option: CURLoption, pointer value: UnsafeMutableRawPointer?) throws(HTTPError) {
        try check(ccurl_easy_setopt_pointer(raw, option, value))
    }

    /// For options (CURLOPT_COPYPOSTFIELDS) that copy the bytes before returning.
    func set(_ option: CURLoption, copying bytes: [UInt8]) throws(HTTPError) {
        try check(bytes.withUnsafeBytes { ccurl_easy_setopt_pointer(raw, option, UnsafeMutableRawPointer(mutating: $0.baseAddress)) })
    }

    func set(_ option: CURLoption, list value: UnsafeMutablePointer<curl_slist>?) throws(HTTPError) {
        try check(ccurl_easy_setopt_slist(raw, option, value))
    }

    func set(_ option: CURLoption, function value: curl_write_callback) throws(HTTPError) {
        try check(ccurl_easy_setopt_write_function(raw, option, value))
    }

    private func check(_ code: CURLcode) throws(HTTPError) {
        guard code == CURLE_OK else { throw HTTPError(code: code) }
    }
}
