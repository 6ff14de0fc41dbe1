import HTTP
public import Moto

#if canImport(Glibc)
import Glibc
#endif

extension LoopbackHTTPServer {
    /// The server the HTTP client's tests run against, with these routes:
    /// - `/echo` answers with the request body and `X-Echo-Method`, `X-Echo-Path` and one
    ///   `X-Echo-<name>` header per request header;
    /// - `/bytes/N` sends N patterned bytes (``pattern(count:)``);
    /// - `/delay/MS` answers after MS milliseconds;
    /// - `/silent` never answers;
    /// - `/status/N` answers with status N;
    /// - `/interim` sends a 103 with its own header before the final 200;
    /// - anything else is a 404.
    public static func routes(policy: ConnectionPolicy = .keepAlive) throws -> LoopbackHTTPServer {
        try LoopbackHTTPServer(policy: policy) { request in
            let parts = request.path.split(separator: "/")
            switch (parts.first, parts.count) {
            case ("echo", 1):
                var headers = [(name: "X-Echo-Method", value: request.method), (name: "X-Echo-Path", value: request.path)]
                for header in request.headers { headers.append((name: "X-Echo-\(header.name)", value: header.value)) }
                return .response(HTTPResponse(status: 200, headers: headers, body: request.body))
            case ("bytes", 2):
                return .response(HTTPResponse(status: 200, headers: [], body: pattern(count: Int(parts[1]) ?? 0)))
            case ("delay", 2):
                usleep(useconds_t(Int(parts[1]) ?? 0) * 1000)
                return .response(HTTPResponse(status: 200, headers: [], body: Array("late".utf8)))
            case ("silent", 1):
                return .silent
            case ("status", 2):
                return .response(HTTPResponse(status: Int(parts[1]) ?? 500, headers: [], body: []))
            case ("interim", 1):
                return .interim(
                    status: 103, headers: [(name: "X-Interim", value: "yes")],
                    then: HTTPResponse(status: 200, headers: [(name: "X-Final", value: "yes")], body: []))
            default:
                return .response(HTTPResponse(status: 404, headers: [], body: []))
            }
        }
    }

    /// The bytes `/bytes/N` sends: a cycle whose length is prime, so shifted copies don't match.
    public static func pattern(count: Int) -> [UInt8] {
        (0..<count).map { UInt8($0 % 251) }
    }
}
