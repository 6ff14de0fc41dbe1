#if canImport(Glibc)
import Glibc
#endif
import FuzzTargets
#if FUZZING
import CFuzzer
#endif

/// `make fuzz`: one executable for every parser of untrusted input, the target picked by
/// `FUZZ_TARGET` (one of ``FuzzTarget``'s raw values).
///
/// Built with `-sanitize=fuzzer,address -DFUZZING` (see the Makefile), it is a libFuzzer binary
/// taking libFuzzer's flags and corpus directories. Built plainly, as every `swift build` does, it
/// replays files instead: `sagemaker-callback-fuzz TARGET FILE...` runs each file through the
/// target once, which is how a crash the fuzzer found is reproduced under a debugger.
@main
struct Fuzz {
    static func main() {
        #if FUZZING
        guard let name = getenv("FUZZ_TARGET").map({ String(cString: $0) }), let target = FuzzTarget(rawValue: name) else {
            fail("set FUZZ_TARGET to one of: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        selected = target
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(
            LLVMFuzzerRunDriver(&argc, &argv) { data, size in
                // The target was set before the driver started and never changes while it runs.
                Fuzz.selected.run(size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
                return 0
            })
        #else
        let arguments = CommandLine.arguments.dropFirst()
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name) else {
            fail("usage: sagemaker-callback-fuzz TARGET FILE... (TARGET: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        for path in arguments.dropFirst() {
            guard let input = read(path) else { fail("cannot read \(path)") }
            target.run(input)
            print("\(target.rawValue): \(path): ok")
        }
        #endif
    }

    #if FUZZING
    /// The target libFuzzer's callback runs: a C function pointer cannot capture it.
    nonisolated(unsafe) static var selected = FuzzTarget.json
    #endif

    static func fail(_ message: String) -> Never {
        let line = Array("sagemaker-callback-fuzz: \(message)\n".utf8)
        _ = line.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
        exit(64)
    }

    static func read(_ path: String) -> [UInt8]? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            bytes.append(contentsOf: chunk[..<count])
            if count < chunk.count { return ferror(file) == 0 ? bytes : nil }
        }
    }
}
