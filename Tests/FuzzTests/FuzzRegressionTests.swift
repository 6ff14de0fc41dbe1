import Foundation
import Testing
import FuzzTargets

/// One input for one fuzz target: a crash `make fuzz` found (kept under `Regressions/<target>/`)
/// or a seed the fuzzer starts from (`Seeds/<target>/`, `events/`, the SigV4 vectors).
struct FuzzInput: Sendable, CustomTestStringConvertible {
    let target: FuzzTarget
    let file: URL

    var testDescription: String {
        "\(target.rawValue): \(file.path.replacingOccurrences(of: FuzzInput.root.path + "/", with: ""))"
    }

    /// The package's root directory.
    static let root = URL(filePath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Where each target's seeds live, relative to the root; the Makefile's `fuzz` uses the same.
    static func seedDirectories(_ target: FuzzTarget) -> [String] {
        switch target {
        case .json, .event: ["events"]
        case .sigV4: ["Tests/SigV4Tests/Fixtures/aws-sig-v4-test-suite"]
        default: ["Tests/FuzzTests/Seeds/\(target.rawValue)"]
        }
    }

    static func regressions() -> [FuzzInput] {
        FuzzTarget.allCases.flatMap { target in
            files(under: "Tests/FuzzTests/Regressions/\(target.rawValue)").map { FuzzInput(target: target, file: $0) }
        }
    }

    static func seeds() -> [FuzzInput] {
        FuzzTarget.allCases.flatMap { target in
            seedDirectories(target).flatMap(files(under:)).map { FuzzInput(target: target, file: $0) }
        }
    }

    private static func files(under directory: String) -> [URL] {
        let url = root.appending(path: directory, directoryHint: .isDirectory)
        guard let walker = FileManager.default.enumerator(at: url, includingPropertiesForKeys: [.isRegularFileKey]) else { return [] }
        return walker.compactMap { $0 as? URL }
            .filter { (try? $0.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true && $0.lastPathComponent != "README.md" }
            .sorted { $0.path < $1.path }
    }
}

/// What `make fuzz` found stays found: every input it kept is run again through the same target
/// (a broken promise traps, which fails the run), and so is every seed.
@Suite struct FuzzRegressionTests {
    @Test("a kept crash no longer crashes", arguments: FuzzInput.regressions())
    func regression(_ input: FuzzInput) throws {
        input.target.run(Array(try Data(contentsOf: input.file)))
    }

    @Test("a seed runs clean", arguments: FuzzInput.seeds())
    func seed(_ input: FuzzInput) throws {
        input.target.run(Array(try Data(contentsOf: input.file)))
    }

    @Test func everyTargetHasSeeds() {
        for target in FuzzTarget.allCases {
            #expect(FuzzInput.seeds().contains { $0.target == target }, "no seeds for \(target.rawValue)")
        }
    }
}
