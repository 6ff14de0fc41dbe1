import Logging
@testable import Relay
import Testing

@Suite("Liveness", .timeLimit(.minutes(1)))
struct LivenessTests {
    @Test("a loop is working between begin and end, and remembers when it last finished")
    func beginEnd() {
        let liveness = Liveness()
        let loop = liveness.loop("outbox dispatcher", at: 1_000)
        #expect(liveness.snapshot() == [Liveness.LoopState(name: "outbox dispatcher", since: 1_000)])
        loop.begin(at: 2_000)
        #expect(liveness.snapshot()[0].workingSince == 2_000)
        #expect(liveness.snapshot()[0].lastFinished == nil)
        loop.end(at: 3_500)
        #expect(liveness.snapshot()[0].workingSince == nil)
        #expect(liveness.snapshot()[0].lastFinished == 3_500)
    }

    @Test("progress finishes one piece of work and begins the next")
    func progress() {
        let liveness = Liveness()
        let loop = liveness.loop("outbox dispatcher", at: 0)
        loop.begin(at: 10)
        loop.progress(at: 70)
        #expect(liveness.snapshot()[0].workingSince == 70)
        #expect(liveness.snapshot()[0].lastFinished == 70)
    }

    @Test("each loop is tracked on its own, in the order it began reporting; stop marks one stopped")
    func loops() {
        let liveness = Liveness()
        let sweep = liveness.loop("safety sweep", at: 5)
        let events = liveness.loop("events consumer", silentAfter: .seconds(95), at: 6)
        events.begin(at: 7)
        sweep.begin(at: 8)
        sweep.stop()
        let snapshot = liveness.snapshot()
        #expect(snapshot.map(\.name) == ["safety sweep", "events consumer"])
        #expect(snapshot[0] == Liveness.LoopState(name: "safety sweep", since: 5, stopped: true))
        #expect(snapshot[1] == Liveness.LoopState(name: "events consumer", since: 6, workingSince: 7, silentAfter: .seconds(95)))
    }

    @Test("TimerLoop reports a pass as work while it runs, and the loop as stopped when it ends")
    func timerLoop() async {
        let liveness = Liveness()
        let loop = liveness.loop("store maintenance")
        var during: Liveness.LoopState?
        var passes = 0
        await TimerLoop.run(failureEvent: "test.failed", logger: Logger(label: "test"), liveness: loop) {
            passes += 1
            during = liveness.snapshot()[0]
            if passes == 1 { return .zero }
            throw CancellationError()
        }
        #expect(passes == 2)
        #expect(during?.workingSince != nil, "working during the pass")
        #expect(during?.lastFinished != nil, "the first pass finished")
        #expect(liveness.snapshot()[0].stopped)
        #expect(liveness.snapshot()[0].workingSince == nil)
    }

    @Test("a consumer's silence bound outlasts its receive timeout and its longest backoff")
    func silenceBound() {
        #expect(QueueConsumer.silenceBound(waitSeconds: 20) > .seconds(20 + 15 + 30))
        #expect(QueueConsumer.silenceBound(waitSeconds: 1) > .seconds(1 + 15 + 30))
    }
}
