@testable import Relay
import Testing

@Suite("Doorbell", .timeLimit(.minutes(1)))
struct DoorbellTests {
    @Test("a ring before the wait is kept; rings coalesce")
    func ringFirst() async {
        let bell = Doorbell()
        bell.ring()
        bell.ring()
        let start = ContinuousClock.now
        await bell.wait(timeout: .seconds(120))
        #expect(ContinuousClock.now - start < .seconds(60))
        await bell.wait(timeout: .milliseconds(50))
        #expect(ContinuousClock.now - start >= .milliseconds(50), "the second wait must not see a stale ring")
    }

    @Test("a ring wakes a waiter long before its deadline")
    func ringWakes() async {
        let bell = Doorbell()
        let start = ContinuousClock.now
        async let waited: Void = bell.wait(timeout: .seconds(120))
        try? await Task.sleep(for: .milliseconds(50))
        bell.ring()
        await waited
        #expect(ContinuousClock.now - start < .seconds(60))
    }

    @Test("the deadline ends a wait nobody rings")
    func deadline() async {
        let start = ContinuousClock.now
        await Doorbell().wait(timeout: .milliseconds(100))
        let took = ContinuousClock.now - start
        #expect(took >= .milliseconds(100) && took < .seconds(60))
    }

    @Test("cancellation ends the wait")
    func cancellation() async {
        let bell = Doorbell()
        let task = Task { await bell.wait(timeout: nil) }
        try? await Task.sleep(for: .milliseconds(50))
        task.cancel()
        await task.value
    }
}
