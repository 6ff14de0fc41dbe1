import CSQLite
import Foundation
import TestSupport
import Testing
import CallbackStore
@testable import Store

/// What the SQLite store does when its file is taken from it: deleted or replaced while open, or
/// not writable at all.
@Suite struct StoreFileFaultTests {
    @Test("a database file deleted while open refuses every write (SQLITE_READONLY_DBMOVED, fatal), instead of writing to the unlinked file")
    func deletedFileRefusesWrites() async throws {
        let database = try TemporaryStore.empty()
        let store = try database.open()
        defer { store.close() }
        try store.writeSync { _ = try $0.insertPending(Sample.pending(1)) }
        try FileManager.default.removeItem(atPath: database.path)
        for write in [
            { try store.writeSync { _ = try $0.insertPending(Sample.pending(2)) } },
            { try store.writeSync { _ in } },
        ] as [() throws -> Void] {
            #expect {
                try write()
            } throws: { error in
                guard let error = error as? SQLiteError else { return false }
                return error.isFatal && error.extendedResultCode == SQLiteError.readOnlyDatabaseMoved
            }
        }
        // The readiness probe and the schedules find it out too, through the lease (no change to write).
        await #expect(throws: SQLiteError.self) { try await store.holdLease("readiness-probe", now: 1, duration: 1) }
        // Reads of what it held still work: the service can stop cleanly.
        #expect(try store.readSync { try $0.counts() }.pending == 1)
    }

    @Test("a database file replaced by another under the same name is refused too")
    func replacedFileRefusesWrites() throws {
        let database = try TemporaryStore.empty()
        let store = try database.open()
        defer { store.close() }
        let other = database.directory + "/other.sqlite"
        try Store.open(path: other).close()
        _ = rename(other, database.path)
        #expect(throws: SQLiteError.self) { try store.writeSync { _ = try $0.insertPending(Sample.pending(1)) } }
    }

    @Test("a database file that cannot be written is refused at open, naming it (SQLite would open it read-only and fail every commit)")
    func unwritableFileRefusedAtOpen() throws {
        let database = try TemporaryStore.empty()
        try database.open().close()
        // Root is not stopped by the mode bits; the immutable flag stops everyone.
        let asRoot = geteuid() == 0
        if asRoot {
            #expect(try Self.run("/usr/bin/chattr", ["+i", database.path]) == 0)
        } else {
            #expect(chmod(database.path, 0o444) == 0)
        }
        defer { if asRoot { _ = try? Self.run("/usr/bin/chattr", ["-i", database.path]) } else { chmod(database.path, 0o600) } }
        #expect(open(database.path, O_WRONLY) < 0, "the file really is unwritable")
        #expect {
            try database.open().close()
        } throws: { error in
            (error as? StoreError)?.code == .cannotOpen && "\(error)".contains(database.path) && "\(error)".contains("cannot be written")
        }
    }

    static func run(_ executable: String, _ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }
}
