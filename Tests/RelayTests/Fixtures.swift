import Foundation
import CallbackStore
import Store

/// The recorded events of `events/`, read from the package.
enum RecordedFile {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("events")

    static func text(_ name: String) throws -> String {
        String(decoding: try Data(contentsOf: directory.appendingPathComponent(name)), as: UTF8.self)
    }

    static var all: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).filter { !$0.hasSuffix(".md") }.sorted()
    }
}

/// A fresh store in a temporary directory, removed afterwards.
final class TemporaryStore {
    let directory: URL
    let store: Store

    init(options: StoreOptions = StoreOptions()) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("relay-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        store = try Store.open(path: directory.appendingPathComponent("state.sqlite").path, options: options)
    }

    deinit {
        store.close()
        try? FileManager.default.removeItem(at: directory)
    }
}
