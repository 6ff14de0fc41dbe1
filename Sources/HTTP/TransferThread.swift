import CCurl

#if canImport(Glibc)
import Glibc
#endif

/// The loop on the one dedicated thread that drives every transfer: it takes submissions from the
/// queue, runs `curl_multi_perform`, completes finished transfers and sleeps in `curl_multi_poll`
/// until a socket, a curl timer or a wakeup needs it. Everything here is confined to that thread.
final class TransferThread {
    private let queue: SubmissionQueue
    private let multi: UnsafeMutableRawPointer
    private let capacity: Int
    private let connectTimeout: Duration
    private let userAgent: String
    private var active: [UInt64: Transfer] = [:]
    private var idle: [EasyHandle] = []

    /// Long enough to cost nothing when idle: wakeups and curl's own timers end the wait sooner.
    private static let idlePollMilliseconds: Int32 = 60_000

    private init(queue: SubmissionQueue, configuration: CurlHTTPClient.Configuration) {
        self.queue = queue
        self.multi = queue.multi.raw
        self.capacity = configuration.maxConcurrentTransfers
        self.connectTimeout = configuration.connectTimeout
        self.userAgent = configuration.userAgent
    }

    /// Starts the thread; the caller joins it after `queue.shutdown()`.
    static func start(queue: SubmissionQueue, configuration: CurlHTTPClient.Configuration) throws(HTTPError) -> pthread_t {
        let context = Unmanaged.passRetained(TransferThread(queue: queue, configuration: configuration)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(
            &thread, nil,
            { context in
                // The thread holds the only reference from here on.
                let loop = Unmanaged<TransferThread>.fromOpaque(context!).takeRetainedValue()
                loop.run()
                return nil
            }, context)
        guard result == 0 else {
            Unmanaged<TransferThread>.fromOpaque(context).release()
            throw HTTPError(kind: .other, curlCode: 0, message: "cannot start the transfer thread (errno \(result))")
        }
        return thread
    }

    private func run() {
        var running: Int32 = 0
        while true {
            let intake = queue.take(limit: capacity - active.count)
            if intake.isShutdown {
                abortAll()
                return
            }
            for id in intake.cancellations {
                if let transfer = active[id] {
                    finish(transfer) { $0.continuation.resume(throwing: CancellationError()) }
                }
            }
            for submission in intake.submissions {
                begin(submission)
            }
            _ = curl_multi_perform(multi, &running)
            completeFinished()
            if intake.moreWaiting && active.count < capacity {
                continue
            }
            _ = curl_multi_poll(multi, nil, 0, Self.idlePollMilliseconds, nil)
        }
    }

    private func begin(_ submission: Submission) {
        guard let easy = idle.popLast() ?? EasyHandle() else {
            submission.continuation.resume(throwing: HTTPError(kind: .other, curlCode: 0, message: "curl_easy_init failed"))
            return
        }
        let transfer = Transfer(id: submission.id, easy: easy, continuation: submission.continuation)
        do {
            try transfer.configure(for: submission.request, connectTimeout: connectTimeout, userAgent: userAgent)
        } catch {
            recycle(easy)
            submission.continuation.resume(throwing: error)
            return
        }
        let code = curl_multi_add_handle(multi, easy.raw)
        guard code == CURLM_OK else {
            recycle(easy)
            submission.continuation.resume(
                throwing: HTTPError(
                    kind: .other, curlCode: Int32(code.rawValue),
                    message: "curl_multi_add_handle: \(String(cString: curl_multi_strerror(code)))"))
            return
        }
        active[submission.id] = transfer
    }

    private func completeFinished() {
        var remaining: Int32 = 0
        while let message = curl_multi_info_read(multi, &remaining) {
            // The message is freed by curl_multi_remove_handle, so read it first.
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
            let result = message.pointee.data.result
            var context: UnsafeMutableRawPointer?
            _ = ccurl_easy_getinfo_pointer(easy, CURLINFO_PRIVATE, &context)
            guard let context, let transfer = active[UInt64(UInt(bitPattern: context))] else { continue }
            finish(transfer) { $0.complete(with: result) }
        }
    }

    /// Takes the transfer out of curl, resumes its caller and returns its handle to the pool.
    private func finish(_ transfer: Transfer, resume: (Transfer) -> Void) {
        _ = curl_multi_remove_handle(multi, transfer.easy.raw)
        active[transfer.id] = nil
        resume(transfer)
        recycle(transfer.easy)
    }

    private func recycle(_ easy: EasyHandle) {
        easy.reset()
        idle.append(easy)
    }

    private func abortAll() {
        for transfer in Array(active.values) {
            finish(transfer) { $0.continuation.resume(throwing: HTTPError.shutdown) }
        }
        idle.removeAll()
        queue.waitForWakeupsInFlight()
        queue.multi.close()
    }
}
