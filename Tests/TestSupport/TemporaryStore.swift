public import CallbackStore
import Foundation
public import Store

#if canImport(Glibc)
import Glibc
#endif

/// A fresh directory for one test's SQLite store, removed (with every store opened in it closed)
/// when the test lets go of it. ``init(options:)`` opens the store at once (``store``);
/// ``empty()`` leaves the file to the test, which opens it with ``open(_:)`` when and how it wants.
public final class TemporaryStore {
    /// The directory, made with `mkdtemp` under the system's temporary directory.
    public let directory: String
    /// The database file's path in ``directory``.
    public var path: String { directory + "/store.sqlite" }
    private var opened: [Store] = []

    private init(prefix: String) throws {
        var template = Array((NSTemporaryDirectory() + "/\(prefix)-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        directory = String(cString: made)
    }

    /// A directory with a store opened in it with `options`.
    public convenience init(options: StoreOptions = StoreOptions()) throws {
        try self.init(prefix: "store-tests")
        _ = try open(options)
    }

    /// A directory with no database file in it yet.
    public static func empty() throws -> TemporaryStore {
        try TemporaryStore(prefix: "store-tests")
    }

    /// The first store opened here.
    public var store: Store {
        guard let first = opened.first else { preconditionFailure("TemporaryStore.empty(): open(_:) the store first") }
        return first
    }

    /// Opens (creating and migrating if needed) the store at ``path``; closed with the directory.
    public func open(_ options: StoreOptions = StoreOptions()) throws -> Store {
        let store = try Store.open(path: path, options: options)
        opened.append(store)
        return store
    }

    /// The permission bits of the database file (or of its `-wal`/`-shm` file), e.g. 0o600.
    public func mode(suffix: String = "") throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: path + suffix)
        return (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }

    deinit {
        for store in opened { store.close() }
        try? FileManager.default.removeItem(atPath: directory)
    }
}
