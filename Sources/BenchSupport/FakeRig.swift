import AWS
public import FakeAWS
public import Foundation
import HTTP
import Logging
import SigV4

/// A fake, its two queues, a client that loads them, and the jobs of one run: what the fault
/// scenarios and the kill loops set up before they start serve.
public final class FakeRig: Sendable {
    public let fake: FakeAWS
    public let catalog: JobCatalog
    public let loader: QueueLoader
    public let eventsQueue: String, requestsQueue: String
    public let eventsURL: String, requestsURL: String
    private let http: CurlHTTPClient

    /// The fault runs' visibility timeout: a message received and never deleted (serve killed,
    /// a delete lost) comes back after this long.
    public static let shortVisibilityTimeout = 2

    /// A fake on a free port with queues `events-RUN` and `requests-RUN` (`visibilityTimeout`
    /// seconds, SQS's default 30 unless told), and the jobs of `run`.
    public init(run: String, eventsDirectory: String, stepFunctions: StepFunctionsBehavior = .init(), visibilityTimeout: Int = 30) async throws {
        fake = try await FakeAWS.start(threads: 1, stepFunctions: stepFunctions)
        do {
            http = try CurlHTTPClient()
        } catch {
            try? await fake.shutdown()
            throw error
        }
        let endpoint = Endpoint(url: fake.endpoint, host: "127.0.0.1:\(fake.port)", source: "rig")
        let client = AWSClient(
            http: http, credentials: { Credentials(accessKeyID: "AKIDLOADBENCH", secretAccessKey: "loadbench-secret") },
            region: "us-east-1", endpoints: [.sqs: endpoint], logger: Logger(label: "rig")
        )
        loader = QueueLoader(client: client)
        catalog = try JobCatalog(eventsDirectory: eventsDirectory, run: run)
        eventsQueue = "events-\(run)"
        requestsQueue = "requests-\(run)"
        eventsURL = fake.createQueue(named: eventsQueue, visibilityTimeout: visibilityTimeout)
        requestsURL = fake.createQueue(named: requestsQueue, visibilityTimeout: visibilityTimeout)
    }

    /// Starts serve against the fake (at `endpoint`, one of its listeners; the first unless
    /// told): in a fresh directory, or again in `directory`.
    public func startServe(binary: String, directory: URL? = nil, endpoint: String? = nil, environment: [String: String] = [:]) throws -> ServeProcess
    {
        try ServeProcess(
            binary: binary, endpoint: endpoint ?? fake.endpoint, eventsQueueURL: eventsURL, requestsQueueURL: requestsURL,
            directory: directory, environment: environment
        )
    }

    /// Messages still in either queue, visible or in flight.
    public var leftInQueues: Int {
        [eventsQueue, requestsQueue].compactMap { fake.counts(queue: $0) }.reduce(0) { $0 + $1.visible + $1.inFlight }
    }

    /// How jobs `0..<n` ended at the fake so far.
    public func tally(_ n: Int) -> Tally {
        let counters = fake.counters
        return Tally(
            completed: counters.outcomes,
            lost: fake.outcomeTimes(of: (0..<n).map(catalog.token)).filter { $0 == nil }.count,
            secondOutcomes: counters.conflicting, repeats: counters.duplicates, leftInQueues: leftInQueues
        )
    }

    /// Starts serve in a fresh directory; shuts the rig down if it cannot.
    public func startServeOrShutDown(binary: String) async throws -> ServeProcess {
        do {
            return try startServe(binary: binary)
        } catch {
            try await shutdown()
            throw error
        }
    }

    public func shutdown() async throws {
        http.shutdown()
        try await fake.shutdown()
    }
}

/// How a run's jobs ended, as the fake saw it.
public struct Tally: Sendable {
    /// Tokens with an accepted outcome, and those without one.
    public var completed = 0, lost = 0
    /// SendTask* calls for a token already closed whose outcome differs from the first: a second
    /// outcome for one task. Must be 0.
    public var secondOutcomes = 0
    /// SendTask* calls for a token already closed (answered `TaskTimedOut`): repeats, harmless.
    public var repeats = 0
    /// Messages still in the queues, visible or in flight.
    public var leftInQueues = 0

    /// Whether all `jobs` completed once, with nothing lost, doubled or left.
    public func kept(jobs: Int) -> Bool { lost == 0 && secondOutcomes == 0 && leftInQueues == 0 && completed == jobs }
}
