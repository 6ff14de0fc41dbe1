import AWS
import CallbackStore
import DynamoStore
import Foundation
import Logging
import Moto
import Store
import Testing

/// The backends every contract test runs on.
enum Backend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite
    case dynamoDB

    var testDescription: String { rawValue }
}

/// The moto server the test process shares, started on first use: DynamoDB tables are cheap,
/// emulators are not. Each test gets its own table. Requests are serialized at the emulator: moto
/// does not isolate concurrent DynamoDB writes from several clients, and the race tests use two.
enum SharedMoto {
    static func get() async throws -> MotoServer {
        do {
            return try await MotoServer.shared()
        } catch let error as MotoUnavailable {
            Issue.record("\(error.message)")
            throw error
        }
    }
}

/// A fresh store of one backend for one test; `replica()` opens a second handle on the same
/// state (another replica of the fleet, for DynamoDB; the same database for SQLite).
final class TestStore: Sendable {
    let backend: Backend
    let store: any CallbackStore
    let directory: String?
    let table: String?
    let client: AWSClient?
    let meter = DynamoCapacityMeter()

    init(_ backend: Backend, options: StoreOptions = StoreOptions(), settings: DynamoStoreSettings = DynamoStoreSettings()) async throws {
        self.backend = backend
        switch backend {
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("contract-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            self.directory = directory
            self.table = nil
            self.client = nil
            store = try Store.open(path: directory + "/state.sqlite", options: options)
        case .dynamoDB:
            let moto = try await SharedMoto.get()
            let client = try moto.client()
            let table = "contract-\(UUID().uuidString.prefix(8))"
            try await DynamoDB.createTable(client: client, request: DynamoTableDesign.createTableRequest(name: table))
            self.directory = nil
            self.table = table
            self.client = client
            store = try await DynamoStore.open(
                table: table, client: client, options: options, settings: settings, meter: meter, logger: Logger(label: "contract"))
        }
    }

    /// Another process on the same state.
    func replica(settings: DynamoStoreSettings = DynamoStoreSettings()) async throws -> any CallbackStore {
        switch backend {
        case .sqlite: return store
        case .dynamoDB:
            guard let table, let client else { throw StoreError(.closed, "no table") }
            return try await DynamoStore.open(
                table: table, client: client, options: store.options, settings: settings, logger: Logger(label: "replica"))
        }
    }

    deinit {
        store.close()
        if let directory { try? FileManager.default.removeItem(atPath: directory) }
    }
}

/// Sample rows, distinct by `n`.
enum Sample {
    static func pending(
        _ n: Int, job: String = "job", registeredAt: Int64 = 1_000, executionArn: String? = nil, heartbeat: Bool = false
    ) -> PendingCallback {
        PendingCallback(
            tokenHash: "hash-\(n)", taskToken: "token-\(n)-" + String(repeating: "t", count: 600),
            jobKind: "ProcessingJob", jobName: job, registeredAt: registeredAt, executionArn: executionArn, heartbeat: heartbeat
        )
    }

    static func entry(_ n: Int, action: OutboxAction = .success, notBefore: Int64 = 1_000, job: String = "job") -> NewOutboxEntry {
        NewOutboxEntry(
            tokenHash: "hash-\(n)", taskToken: "token-\(n)", jobKind: "ProcessingJob", jobName: job, action: action,
            payload: action == .success ? "{\"n\":\(n)}" : "", errorName: action == .failure ? "SageMaker.ProcessingJobFailed" : nil,
            notBefore: notBefore
        )
    }

    static func early(job: String = "job", status: String = "Completed", receivedAt: Int64 = 2_000) -> EarlyEvent {
        EarlyEvent(
            jobKind: "ProcessingJob", jobName: job, status: status, event: "{\"detail\":{\"ProcessingJobStatus\":\"\(status)\"}}",
            receivedAt: receivedAt)
    }
}

extension CallbackStore {
    /// Applies effects as one unit that reads nothing.
    func apply(_ effects: [Effect], reads: [StoreKey] = []) async throws {
        _ = try await commit(StoreUnit(reads: reads) { _ in ((), effects) })
    }

    /// Reads through a unit that changes nothing.
    func look<T: Sendable>(_ reads: [StoreKey], _ body: @escaping @Sendable (any StoreView) throws -> T) async throws -> T {
        try await commit(StoreUnit(reads: reads) { view in (try body(view), []) })
    }
}
