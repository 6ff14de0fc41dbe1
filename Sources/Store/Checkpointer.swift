import CallbackStore
import Dispatch
import Synchronization

/// Copies the WAL back into the database file on a connection and a thread of its own, so that
/// no commit waits for the bulk of a checkpoint: with SQLite's automatic checkpoint, the commit
/// that crosses 1,000 pages writes them all to the database file and syncs it before it returns,
/// a stall of tens of milliseconds for whichever callback is in that commit.
///
/// PASSIVE checkpoints never wait for the store's writer or its readers; what a checkpoint cannot
/// copy yet is copied by the next. The store asks for one after its commits, at most every
/// ``interval``; a request while one runs is dropped (the next commit asks again).
///
/// SQLite writes the WAL from its start again only when a write begins with every frame already
/// copied, which never happens beside a busy writer: each write begins while a checkpoint still
/// copies, or after commits the checkpoint did not see. Under steady load the WAL would only grow
/// (past a gigabyte in the load bench's 20,000 callbacks), and every frame would be appended to
/// new blocks of the file, which the kernel allocates and zeroes first (a tenth of `serve`'s CPU).
/// So each checkpoint is finished by a second pass with the writer held between two of its
/// transactions: it copies only what was committed while the first pass ran (a few hundred frames
/// in the load bench), and the next write starts the WAL over.
final class Checkpointer: Sendable {
    private let queue = DispatchQueue(label: "sagemaker-callback.store.checkpoint")
    private let owner: CheckpointOwner
    /// The store's serial queue: a block on it runs between two of the writer's transactions.
    private let writerQueue: DispatchQueue
    private struct State {
        var running = false
        var lastStarted: ContinuousClock.Instant?
        var checkpoints = 0
    }
    private let state = Mutex(State())

    /// The shortest time between two checkpoints.
    static let interval: Duration = .milliseconds(100)

    /// `writerQueue`: the store's serial queue, where the finishing pass runs.
    init(path: String, options: StoreOptions, writerQueue: DispatchQueue) throws {
        owner = CheckpointOwner(connection: try Connection(path: path, options: options))
        self.writerQueue = writerQueue
    }

    /// Checkpoints run so far (tests read it).
    var checkpoints: Int { state.withLock { $0.checkpoints } }

    /// Starts a checkpoint unless one runs or one started less than ``interval`` ago.
    func request() {
        let now = ContinuousClock.now
        let start = state.withLock { state -> Bool in
            guard !state.running, state.lastStarted.map({ now - $0 >= Self.interval }) ?? true else { return false }
            state.running = true
            state.lastStarted = now
            return true
        }
        guard start else { return }
        queue.async { [self] in
            if owner.checkpoint() {
                writerQueue.sync { _ = owner.checkpoint() }
            }
            state.withLock {
                $0.running = false
                $0.checkpoints += 1
            }
        }
    }

    /// Waits for a running checkpoint, then closes the connection; idempotent.
    func close() {
        queue.sync { owner.close() }
    }
}

/// The checkpointer's connection, used only on its queue (hence `@unchecked Sendable`).
private final class CheckpointOwner: @unchecked Sendable {
    private var connection: Connection?
    init(connection: Connection) { self.connection = connection }

    /// False when the checkpoint failed (the file busy with another process's exclusive lock,
    /// say): the next one retries.
    func checkpoint() -> Bool {
        (try? connection?.checkpointPassive()) != nil
    }

    func close() {
        connection?.close()
        connection = nil
    }
}
