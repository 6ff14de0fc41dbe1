import Foundation
import Glibc

/// Clients no well-behaved scraper is: a slowloris, a 1 MB header, and many connections opened
/// at once and held, on their own thread while the test goes on.
final class HostileClients: @unchecked Sendable {
    // `outcome` is written by the clients' thread before `done` is signalled, read after.
    struct Outcome: Sendable, CustomStringConvertible {
        var opened = 0
        var turnedAway = 0
        var slowCut = false
        var hugeHeaderRefused = false
        var description: String { "opened \(opened), turned away \(turnedAway), slow cut \(slowCut), 1 MB header refused \(hugeHeaderRefused)" }
    }

    private var outcome = Outcome()
    private let done = DispatchSemaphore(value: 0)

    static func start(port: UInt16, connections: Int) -> HostileClients {
        let clients = HostileClients()
        Thread.detachNewThread {
            clients.outcome = run(port: port, connections: connections)
            clients.done.signal()
        }
        return clients
    }

    /// Waits (off the shared pool) for the clients to finish.
    func finish() async -> Outcome {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                self.done.wait()
                continuation.resume(returning: self.outcome)
            }
        }
    }

    private static func run(port: UInt16, connections: Int) -> Outcome {
        var outcome = Outcome()
        // Room for the connections beside what the test process holds.
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        limit.rlim_cur = min(limit.rlim_max, max(limit.rlim_cur, rlim_t(connections + 512)))
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)

        // A slowloris: a header line every 200 ms, never the end of the head.
        if let slow = try? RawConnection(port: port) {
            try? slow.send("GET /metrics HTTP/1.1\r\nHost: x\r\n")
            let started = Date()
            while Date().timeIntervalSince(started) < 30 {
                guard (try? slow.send("X-Slow: 1\r\n")) != nil else { outcome.slowCut = true; break }
                usleep(200_000)
            }
            slow.close()
        }

        if let huge = try? RawConnection(port: port) {
            let sent = (try? huge.send("GET /metrics HTTP/1.1\r\nX-Big: " + String(repeating: "a", count: 1 << 20) + "\r\n\r\n")) != nil
            let answer = (try? huge.readToEnd()) ?? ""
            outcome.hugeHeaderRefused = !sent || answer.isEmpty || answer.hasPrefix("HTTP/1.1 400")
            huge.close()
        }

        var held: [RawConnection] = []
        for _ in 0..<connections {
            guard let connection = try? RawConnection(port: port) else {
                outcome.turnedAway += 1
                continue
            }
            held.append(connection)
        }
        outcome.opened = held.count
        // Those over the cap were closed on accept: a read sees the end at once.
        for connection in held {
            var poller = pollfd(fd: connection.fd, events: Int16(POLLIN), revents: 0)
            if poll(&poller, 1, 0) > 0 { outcome.turnedAway += 1 }
        }
        usleep(500_000)
        held.forEach { $0.close() }
        return outcome
    }
}
