import JSON
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A fast, in-process fake of the SQS and Step Functions calls `serve` makes, over keep-alive
/// HTTP/1.1 on 127.0.0.1, speaking the AWS JSON 1.0 protocol as our client sends it. It does not
/// verify signatures, and it sends no MD5 digests (our client reads none).
///
/// Everything it knows sits behind one lock, taken once per request and never held across I/O;
/// long polls, visibility timeouts and Step Functions latency are timers on its event loops.
/// The bench reads its counters, first-delivery times and outcome times in process.
public final class FakeAWS: Sendable {
    private let group: MultiThreadedEventLoopGroup
    private let timerLoop: any EventLoop
    private let state = Mutex(FakeState())
    private let channels = Mutex<[any Channel]>([])
    private let receiveObserver = Mutex<(@Sendable (_ receiptHandles: [String], _ port: Int) -> Void)?>(nil)

    private init(threads: Int) {
        group = MultiThreadedEventLoopGroup(numberOfThreads: min(max(threads, 1), 2))
        timerLoop = group.next()
    }

    /// Starts a fake listening on 127.0.0.1:`port` (0: any free port; see ``port``) with at
    /// most two event loop threads.
    public static func start(port: Int = 0, threads: Int = 1, stepFunctions: StepFunctionsBehavior = .init()) async throws -> FakeAWS {
        let fake = FakeAWS(threads: threads)
        fake.configure(stepFunctions)
        do {
            let bound = try await fake.listen(port: port)
            fake.state.withLock { $0.port = bound }
        } catch {
            try? await fake.group.shutdownGracefully()
            throw error
        }
        return fake
    }

    /// Opens one more listener onto the same fake, on a free port, and returns its
    /// `http://127.0.0.1:PORT`: clients given endpoints of their own are told apart by the port
    /// their requests arrive at (``observeReceives(_:)``, ``heldCallPorts``), as the kill loops
    /// tell which replica to kill. Queue URLs keep naming the first port; any port serves them.
    public func addListener() async throws -> String {
        "http://127.0.0.1:\(try await listen(port: 0))"
    }

    private func listen(port: Int) async throws -> Int {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(FakeHTTPHandler(fake: self, port: channel.localAddress?.port ?? 0))
                }
            }
        let listener = try await bootstrap.bind(host: "127.0.0.1", port: port).get()
        channels.withLock { $0.append(listener) }
        return listener.localAddress?.port ?? port
    }

    /// Closes the listeners and stops the event loops; parked long polls are dropped.
    public func shutdown() async throws {
        let listeners = channels.withLock { channels in
            defer { channels = [] }
            return channels
        }
        for listener in listeners { try? await listener.close() }
        try await group.shutdownGracefully()
    }

    /// The port the fake listens on.
    public var port: Int { state.withLock { $0.port } }

    /// `http://127.0.0.1:PORT`: what `AWS_ENDPOINT_URL` should say.
    public var endpoint: String { "http://127.0.0.1:\(port)" }

    // MARK: what the bench sets

    /// Creates a queue (as CreateQueue would) and returns its URL. `visibilityTimeout` is the
    /// queue's default, used by receives that name none (serve's do not).
    @discardableResult
    public func createQueue(named name: String, visibilityTimeout: Int = 30) -> String {
        state.withLock { state in
            let q = state.createQueue(name)
            state.queues[q].visibilityTimeout = visibilityTimeout
            return state.queues[q].url
        }
    }

    /// Fails requests from now on as `plan` says (its generator starts afresh from its seed;
    /// the fault counts start at zero).
    public func setFaults(_ plan: FaultPlan) {
        state.withLock { $0.faults.reset(plan) }
    }

    /// What the fault plan has done so far.
    public var faultCounts: FaultCounts { state.withLock { $0.faults.counts } }

    /// Holds the next `count` SendTaskSuccess/SendTaskFailure calls as they arrive, neither
    /// applied nor answered, until ``releaseHeld(applying:)``: a moment that is certainly inside
    /// a delivery, to kill the caller in.
    public func holdClosingCalls(_ count: Int) {
        state.withLock { $0.holdsLeft = count }
    }

    /// Calls held so far and not released.
    public var heldCalls: Int { state.withLock { $0.held.count } }

    /// The listener port each held call arrived at (``addListener()``), in arrival order.
    public var heldCallPorts: [Int] { state.withLock { $0.held.map(\.port) } }

    /// Releases the held calls: applies them (and answers, if their connection is still open)
    /// or not (and closes their connections). Returns how many there were.
    @discardableResult
    public func releaseHeld(applying: Bool) -> Int {
        let now = Self.uptime()
        let released: [(EventLoopPromise<FakeReply>, FakeReply)] = state.withLock { state in
            defer { state.held = []; state.holdsLeft = 0 }
            return state.held.map { call in
                (call.promise, applying ? state.stepFunctions(call.operation, call.request, now: now) : .dropped)
            }
        }
        for (promise, reply) in released { promise.succeed(reply) }
        return released.count
    }

    /// Calls `observer` on the fake's event loop whenever a ReceiveMessage is answered, with the
    /// receipt handles it carries and the listener port it arrived at, just before the answer is
    /// written (nil: no observer).
    public func observeReceives(_ observer: (@Sendable (_ receiptHandles: [String], _ port: Int) -> Void)?) {
        receiveObserver.withLock { $0 = observer }
    }

    /// How many of `receiptHandles` still name a message in flight: neither deleted nor
    /// delivered again since.
    public func inFlight(receiptHandles: [String]) -> Int {
        state.withLock { state in
            receiptHandles.filter { handle in
                guard let q = FakeIdentifiers.parse(receiptHandle: handle)?.queue, case .current = state.lookup(handle: handle, queue: q) else {
                    return false
                }
                return true
            }.count
        }
    }

    private func receiveAnswered(_ reply: FakeReply, port: Int) {
        guard let observer = receiveObserver.withLock({ $0 }) else { return }
        let messages = (try? JSONValue.parse(reply.body))?["Messages"]?.arrayValue ?? []
        observer(messages.compactMap { $0["ReceiptHandle"]?.stringValue }, port)
    }

    /// Holds a queue (receives return nothing, long polls wait) or releases it (waiting long polls
    /// are answered at once).
    public func setHeld(_ held: Bool, queue name: String) {
        var wakeups = Wakeups()
        state.withLock { state in
            guard let q = state.queueIndex[name] else { return }
            state.queues[q].held = held
            state.wake(queue: q, now: Self.uptime(), wakeups: &wakeups)
        }
        apply(wakeups)
    }

    /// Changes Step Functions' latency, throttle and token policy; the bucket starts full.
    public func configure(_ behavior: StepFunctionsBehavior) {
        let now = Self.uptime()
        state.withLock { state in
            state.behavior = behavior
            state.bucket = behavior.ratePerSecond.map { TokenBucket(rate: $0, burst: behavior.burst, now: now) }
        }
    }

    /// Makes tokens known (they matter when the behavior accepts only known tokens).
    public func announce(tokens: some Sequence<String>) {
        state.withLock { state in
            for token in tokens where state.tasks[token] == nil { state.tasks[token] = TaskRecord() }
        }
    }

    // MARK: what the bench reads

    /// Counters of everything seen so far.
    public var counters: FakeCounters { state.withLock { $0.counters } }

    /// A queue's counts; nil if there is no such queue.
    public func counts(queue name: String) -> FakeQueueCounts? {
        state.withLock { state in state.queueIndex[name].map { state.queues[$0].counts } }
    }

    /// When each message was first delivered (uptime nanoseconds, as ``uptime()``); nil for an
    /// id the fake never issued or a message never delivered.
    public func firstDeliveries(ofMessageIDs ids: [String]) -> [UInt64?] {
        state.withLock { state in
            ids.map { id in
                guard let sequence = FakeIdentifiers.sequence(ofMessageID: id), sequence < state.firstDelivery.count,
                    state.firstDelivery[sequence] != 0
                else { return nil }
                return state.firstDelivery[sequence]
            }
        }
    }

    /// When each token's first SendTaskSuccess or SendTaskFailure was accepted (uptime
    /// nanoseconds, taken when the request arrived, before any configured latency); nil while open.
    public func outcomeTimes(of tokens: [String]) -> [UInt64?] {
        state.withLock { state in
            tokens.map { token in state.tasks[token].flatMap { $0.closedAt == 0 ? nil : $0.closedAt } }
        }
    }

    /// The monotonic clock every time the fake reports is on, in nanoseconds.
    public static func uptime() -> UInt64 { NIODeadline.now().uptimeNanoseconds }

    static func wallMillis() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }

    // MARK: serving

    /// An answer now, or later (a long poll, whose waiter id lets a closed connection end it).
    enum Answer {
        case now(FakeReply)
        case later(EventLoopFuture<FakeReply>, waiter: Int?)
    }

    func handle(target: String?, body: ByteBuffer, on eventLoop: any EventLoop, port: Int) -> Answer {
        guard let target, let dot = target.firstIndex(of: ".") else {
            return .now(.error("UnknownOperationException", "The request has no X-Amz-Target."))
        }
        let service = String(target[..<dot])
        let operation = String(target[target.index(after: dot)...])
        guard let request = (try? body.withUnsafeReadableBytes { try JSONValue.parse($0) })?.objectValue else {
            return .now(.error("SerializationException", "The request body is not a JSON object."))
        }
        let (fault, stall) = state.withLock { state in
            let fault = state.faults.draw(service: service, operation: operation)
            // A request failed before it is applied is still a request the client made.
            if let fault, !fault.applies { state.counters.requests[operation, default: 0] += 1 }
            return (fault, state.faults.plan.stall(of: operation))
        }
        if let fault, let reply = FakeReply.unapplied(fault) { return .now(reply) }
        let answer = serve(service: service, operation: operation, request: request, on: eventLoop, port: port)
        guard let fault else { return answer }
        switch (answer, fault) {
        case (.now(let reply), .stall):
            let promise = eventLoop.makePromise(of: FakeReply.self)
            eventLoop.scheduleTask(in: Self.nanoseconds(stall)) { promise.succeed(reply.faulted(.stall)) }
            return .later(promise.futureResult, waiter: nil)
        case (.now(let reply), _):
            return .now(reply.faulted(fault))
        case (.later(let future, let waiter), .stall):
            return .later(
                future.flatMap { reply in
                    eventLoop.scheduleTask(in: Self.nanoseconds(stall)) { reply.faulted(.stall) }.futureResult
                }, waiter: waiter)
        case (.later(let future, let waiter), _):
            return .later(future.map { $0.faulted(fault) }, waiter: waiter)
        }
    }

    /// The request applied, as AWS would answer it.
    private func serve(service: String, operation: String, request: JSONObject, on eventLoop: any EventLoop, port: Int) -> Answer {
        let now = Self.uptime()
        switch service {
        case "AmazonSQS":
            var wakeups = Wakeups()
            let wallMillis = Self.wallMillis()
            let outcome = state.withLock {
                $0.sqs(operation, request, now: now, wallMillis: wallMillis, eventLoop: eventLoop, wakeups: &wakeups)
            }
            apply(wakeups)
            switch outcome {
            case .reply(let reply):
                if operation == "ReceiveMessage" { receiveAnswered(reply, port: port) }
                return .now(reply)
            case .wait(let id, let promise, let seconds):
                let timeout = eventLoop.scheduleTask(in: .seconds(Int64(seconds))) { [self] in endWait(id) }
                let parked = state.withLock { state in
                    guard state.waiters[id] != nil else { return false }
                    state.waiters[id]?.timeout = timeout
                    return true
                }
                if !parked { timeout.cancel() }
                return .later(
                    promise.futureResult.map { [self] reply in
                        receiveAnswered(reply, port: port)
                        return reply
                    }, waiter: id)
            }
        case "AWSStepFunctions":
            if let held = hold(operation, request, on: eventLoop, port: port) { return .later(held, waiter: nil) }
            let (reply, latency) = state.withLock { ($0.stepFunctions(operation, request, now: now), $0.behavior.latency) }
            guard latency > .zero else { return .now(reply) }
            let promise = eventLoop.makePromise(of: FakeReply.self)
            eventLoop.scheduleTask(in: Self.nanoseconds(latency)) { promise.succeed(reply) }
            return .later(promise.futureResult, waiter: nil)
        default:
            return .now(.error("UnknownOperationException", "The fake does not serve \(service)."))
        }
    }

    private func hold(_ operation: String, _ request: JSONObject, on eventLoop: any EventLoop, port: Int) -> EventLoopFuture<FakeReply>? {
        guard operation == "SendTaskSuccess" || operation == "SendTaskFailure" else { return nil }
        return state.withLock { state in
            guard state.holdsLeft > 0 else { return nil }
            state.holdsLeft -= 1
            state.counters.requests[operation, default: 0] += 1
            let promise = eventLoop.makePromise(of: FakeReply.self)
            state.held.append(HeldCall(operation: operation, request: request, promise: promise, port: port))
            return promise.futureResult
        }
    }

    static func nanoseconds(_ duration: Duration) -> TimeAmount {
        .nanoseconds(duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }

    /// Answers a parked long poll with no messages (its wait is over, or its connection closed).
    func endWait(_ id: Int) {
        state.withLock { $0.endWait(id) }?.succeed(.ok())
    }

    private func apply(_ wakeups: Wakeups) {
        for (promise, reply) in wakeups.replies { promise.succeed(reply) }
        for timeout in wakeups.cancelled { timeout.cancel() }
        if let deadline = wakeups.timer {
            timerLoop.scheduleTask(deadline: .uptimeNanoseconds(deadline)) { [self] in visibilityTimerFired(deadline) }
        }
    }

    private func visibilityTimerFired(_ deadline: UInt64) {
        var wakeups = Wakeups()
        let now = Self.uptime()
        state.withLock { $0.expireVisibility(armedFor: deadline, now: now, wakeups: &wakeups) }
        apply(wakeups)
    }
}
