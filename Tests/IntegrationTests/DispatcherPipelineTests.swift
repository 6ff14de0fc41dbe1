import Dispatch
import Foundation
import HTTP
import Logging
import Moto
import Synchronization
import Testing
import AWS
import CallbackStore
import JSON
@testable import Relay
import Store

/// The outbox dispatcher is a pipeline: a call that hangs holds one place, not the work behind it,
/// and work committed while calls are in flight starts at once.
@Suite struct DispatcherPipelineTests {
    /// A Step Functions stand-in whose calls for the token `slow` wait for the test's word.
    final class StepFunctionsStandIn: Sendable {
        private struct State {
            var received: [String] = []
            var inFlight = 0
            var mostInFlight = 0
        }
        private let state = Mutex(State())
        let release = DispatchSemaphore(value: 0)

        /// A server answering with `answer(_:)`; the caller stops it.
        func serve() throws -> LoopbackHTTPServer {
            try LoopbackHTTPServer { [self] request in answer(request) }
        }

        var received: [String] { state.withLock { $0.received } }
        var mostInFlight: Int { state.withLock { $0.mostInFlight } }

        private func answer(_ request: LoopbackHTTPServer.Request) -> LoopbackHTTPServer.Response {
            let token = (try? JSONValue.parse(request.body))?["taskToken"]?.stringValue ?? ""
            state.withLock { state in
                state.received.append(token)
                state.inFlight += 1
                state.mostInFlight = max(state.mostInFlight, state.inFlight)
            }
            // Bounded: a broken test must not hang the suite.
            if token == "slow" { _ = release.wait(timeout: .now() + 30) }
            state.withLock { $0.inFlight -= 1 }
            return LoopbackHTTPServer.Response(status: 200, headers: [("Content-Type", "application/x-amz-json-1.0")], body: Array("{}".utf8))
        }
    }

    static func entry(_ token: String) -> NewOutboxEntry {
        NewOutboxEntry(
            tokenHash: TaskTokens.hash(token), taskToken: token, jobKind: "ProcessingJob", jobName: "job-\(token)",
            action: .success, payload: "{}", notBefore: 0
        )
    }

    @Test(.timeLimit(.minutes(1)))
    func aHungCallHoldsOnePlaceAndNewWorkStartsAtOnce() async throws {
        let standIn = StepFunctionsStandIn()
        let server = try standIn.serve()
        defer { server.stop() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pipeline-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try Store.open(path: directory.appendingPathComponent("state.sqlite").path)
        defer { store.close() }
        try store.writeSync { tx in
            _ = try tx.enqueue(Self.entry("slow"))
            for n in 0..<10 { _ = try tx.enqueue(Self.entry("first-\(n)")) }
        }
        let aws = try CommandLineOptions().aws(
            Environment([
                "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": server.endpoint, "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
            ]),
            services: [.stepFunctions, .sageMaker], queueURL: nil
        )
        let (client, transport) = try CallbackRelay.makeClient(aws, maxInFlight: 4, logger: Logger(label: "test"))
        defer { transport.shutdown() }
        let dispatcher = OutboxDispatcher(
            store: store, callbacks: StepFunctions(client: client), jobs: SageMaker(client: client), maxInFlight: 4, logger: Logger(label: "test"))

        let pass = Task { try await dispatcher.deliverDue() }
        try await waitFor { standIn.received.count == 11 }
        #expect(standIn.received.contains("slow"))

        // Committed while the slow call is still in flight: delivered without waiting for it.
        try store.writeSync { tx in
            for n in 0..<5 { _ = try tx.enqueue(Self.entry("later-\(n)")) }
        }
        dispatcher.ring()
        try await waitFor { standIn.received.count == 16 }

        standIn.release.signal()
        let result = try await pass.value
        #expect(result.delivered == 16)
        #expect(standIn.mostInFlight <= 4, "never more calls than --max-in-flight")
        #expect(try store.readSync { try $0.counts().outbox } == 0, "every result is recorded")
    }

    private func waitFor(_ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while !condition() {
            guard ContinuousClock.now < deadline else {
                Issue.record("timed out")
                throw CancellationError()
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}
