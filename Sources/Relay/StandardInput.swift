#if canImport(Glibc)
import Glibc
#endif

/// This process's standard input, read to its end: what `replay -` and `register --message -`
/// take. FoundationEssentials has no `FileHandle`, and this is all they need of one.
public enum StandardInput {
    /// Every byte until end of file; a read error ends the input where it happened.
    public static func readToEnd() -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(STDIN_FILENO, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            if count <= 0 { return bytes }
            bytes.append(contentsOf: chunk[..<count])
        }
    }
}
