import AWS
import ArgumentParser
import HTTP
import JSON
import Relay

/// The metrics and health listener's address, shared by `serve` (which listens) and `health`
/// (which asks).
struct HTTPAddressOption: ParsableArguments {
    @Option(name: .flag(.table.httpAddress), help: ArgumentHelp(.table.httpAddress))
    var httpAddress: String?
}

/// `health`: the container health check. Asks `serve`'s `/health/ready` on the listener's
/// address and prints its verdict; exit 0 when ready, 1 when not or when nothing answers.
struct Health: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check that serve, in this container, is ready: store writable, queues received from.",
        discussion: "Asks GET /health/ready on --http-address. Prints one line, healthy: … or unhealthy: …; exit 0 when healthy, 1 when not."
    )

    @OptionGroup var http: HTTPAddressOption

    func run() async throws {
        var options = CommandLineOptions()
        options.httpAddress = http.httpAddress
        guard let address = try options.listenerAddress(.process) else {
            throw ConfigurationError(.table.httpAddress, from: nil, message: "is required: where serve listens")
        }
        let verdict = await HealthProbe.ask(address)
        print(verdict.line)
        if !verdict.healthy { throw ExitCode.failure }
    }
}

/// One request to `/health/ready`, reduced to a line.
enum HealthProbe {
    static func ask(_ address: HTTPAddress) async -> (healthy: Bool, line: String) {
        // Loopback when serve listens on every address.
        let host = address.host == "0.0.0.0" ? "127.0.0.1" : address.host == "::" ? "::1" : address.host
        let url = "http://\(HTTPAddress(host: host, port: address.port))/health/ready"
        let client: CurlHTTPClient
        do {
            client = try CurlHTTPClient()
        } catch {
            return (false, "unhealthy: cannot start an HTTP client: \(error)")
        }
        defer { client.shutdown() }
        let response: HTTPResponse
        do {
            response = try await client.execute(HTTPRequest(method: "GET", url: url, timeout: .seconds(5)))
        } catch {
            return (false, "unhealthy: no answer from \(url): \(error)")
        }
        let failing =
            (try? JSONValue.parse(response.body))?["checks"]?.objectValue.map { checks in
                checks.compactMap { name, check in check["ok"]?.boolValue == false ? "\(name): \(check["detail"]?.stringValue ?? "failing")" : nil }
            } ?? []
        if response.status == 200 { return (true, "healthy: serve at \(address) is ready") }
        let reason = failing.isEmpty ? "HTTP \(response.status)" : failing.joined(separator: "; ")
        return (false, "unhealthy: \(reason)")
    }
}
