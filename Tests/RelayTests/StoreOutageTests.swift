import AWS
import CallbackStore
import JSON
import Logging
@testable import Relay
import Store
import Testing

/// How `serve` tells a store outage: once, with readiness failing until a write commits again;
/// and a store gone for good once, ending the service's wait.
@Suite("Store outages")
struct StoreOutageTests {
    static let location = StoreLocation.sqlite(path: "/var/lib/sagemaker-callback/state.sqlite")

    /// A logger whose JSON lines land in `lines`.
    static func logger(_ lines: JSONLogHandlerTests.Lines) -> Logger {
        Logger(label: "sagemaker-callback") { label in JSONLogHandler(label: label, output: { lines.append($0) }) }
    }

    static func messages(_ lines: JSONLogHandlerTests.Lines) throws -> [(level: String, message: String, object: JSONValue)] {
        try lines.all.map { bytes in
            let object = try JSONValue.parse(bytes)
            return (object["level"]?.stringValue ?? "", object["message"]?.stringValue ?? "", object)
        }
    }

    @Test("fifty failed calls are one error line; readiness fails until a write commits, then one store.recovered line")
    func toldOnce() throws {
        let lines = JSONLogHandlerTests.Lines()
        let health = HealthChecksTests.checks()
        health.storeProbed(error: nil)
        let outage = StoreOutage(location: Self.location, logger: Self.logger(lines), health: health)
        #expect(health.ready().checks.first { $0.name == "store" }?.ok == true)
        let full = SQLiteError(resultCode: 13, message: "database or disk is full", sql: "COMMIT")
        for _ in 0..<50 { outage.failed(full) }
        let during = try Self.messages(lines)
        #expect(during.map(\.message) == ["store.unavailable"])
        #expect(during.first?.level == "error")
        #expect(during.first?.object["error"]?.stringValue?.contains("database or disk is full") == true)
        #expect(outage.isFailing)
        let store = health.ready().checks.first { $0.name == "store" }
        #expect(store?.ok == false)
        #expect(store?.detail.hasPrefix("cannot commit: SQLite error 13") == true, "\(String(describing: store))")
        // The probe's read answers on a full disk: it does not end the outage, a commit does.
        health.storeProbed(error: nil)
        #expect(health.ready().checks.first { $0.name == "store" }?.ok == false)
        outage.committed()
        let after = try Self.messages(lines)
        #expect(after.map(\.message) == ["store.unavailable", "store.recovered"])
        #expect(after.last?.level == "notice")
        #expect(after.last?.object["store.failed_calls"]?.stringValue == "50")
        #expect(health.ready().checks.first { $0.name == "store" }?.ok == true)
        #expect(!outage.isFailing)
    }

    @Test(
        "a wait for a lost store that begins after the service stopped waiting returns at once (the maintenance loop may end first)",
        .timeLimit(.minutes(1)))
    func stopWaitingBeforeTheWait() async {
        let outage = StoreOutage(location: Self.location, logger: Self.logger(JSONLogHandlerTests.Lines()))
        outage.stopWaiting()
        #expect(await outage.lost() == "")
    }

    @Test(
        "errors of one message or of shutdown are not an outage",
        arguments: [
            StoreError(.contended, "a decision conflicted with other replicas 8 times running") as any Error,
            StoreError(.closed, "the store is closed"), CancellationError(),
        ])
    func notTheStores(_ error: any Error) throws {
        let lines = JSONLogHandlerTests.Lines()
        let outage = StoreOutage(location: Self.location, logger: Self.logger(lines))
        outage.failed(error)
        #expect(lines.all.isEmpty)
        #expect(!outage.isFailing)
    }

    @Test(
        "a store gone for good (file deleted or corrupt, table deleted) is one critical line and ends the wait in lost() with the reason",
        arguments: [
            (
                SQLiteError(
                    resultCode: 8, extendedResultCode: 8 | (4 << 8), message: "the database file was deleted or replaced since it was opened",
                    sql: nil) as any Error, "deleted or replaced"
            ),
            (SQLiteError(resultCode: 11, message: "database disk image is malformed", sql: nil), "malformed"),
            (
                AWSError(
                    code: "ResourceNotFoundException", message: "Requested resource not found", httpStatus: 400, operation: "TransactWriteItems"),
                "no longer exists"
            ),
        ])
    func lost(_ error: any Error, saying: String) async throws {
        let lines = JSONLogHandlerTests.Lines()
        let outage = StoreOutage(location: Self.location, logger: Self.logger(lines))
        async let reason = outage.lost()
        // However many calls meet it, it is told once.
        for _ in 0..<5 { outage.failed(error) }
        let told = await reason
        #expect(told.contains(saying), "\(told)")
        #expect(told.hasPrefix("\(Self.location)"))
        #expect(try Self.messages(lines).map { "\($0.level) \($0.message)" } == ["critical store.lost"])
        outage.committed()
        #expect(outage.isFailing, "a lost store does not recover")
    }
}
