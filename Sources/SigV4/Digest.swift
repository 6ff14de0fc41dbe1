import CLibCrypto

#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// SHA-256 and HMAC-SHA-256 as SigV4 needs them: one-shot, over bytes in memory, backed by
/// libcrypto. Hex output is always lowercase.
public enum Digest {
    /// The length in bytes of a SHA-256 digest.
    public static let length = 32

    /// The SHA-256 digest of `bytes` (32 bytes).
    public static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBytes { sha256(buffer: $0) }
    }

    /// The SHA-256 digest of any contiguous bytes (`Data`, buffers, arrays).
    public static func sha256(_ bytes: some ContiguousBytes) -> [UInt8] {
        bytes.withUnsafeBytes { sha256(buffer: $0) }
    }

    /// The SHA-256 digest of `bytes`, as 64 lowercase hex characters.
    public static func sha256Hex(_ bytes: [UInt8]) -> String {
        hex(sha256(bytes))
    }

    /// The SHA-256 digest of the UTF-8 bytes of `string`, as 64 lowercase hex characters.
    public static func sha256Hex(_ string: String) -> String {
        var string = string
        return string.withUTF8 { hex(sha256(buffer: UnsafeRawBufferPointer($0))) }
    }

    /// HMAC-SHA-256 (RFC 2104) of `data` under `key` (32 bytes).
    public static func hmacSHA256(key: [UInt8], data: [UInt8]) -> [UInt8] {
        key.withUnsafeBytes { key in
            data.withUnsafeBytes { data in hmacSHA256(key: key, data: data) }
        }
    }

    /// `bytes` as lowercase hex, two characters per byte.
    public static func hex(_ bytes: [UInt8]) -> String {
        String(unsafeUninitializedCapacity: bytes.count * 2) { output in
            for (index, byte) in bytes.enumerated() {
                output[index * 2] = hexDigit(byte >> 4)
                output[index * 2 + 1] = hexDigit(byte & 0x0F)
            }
            return bytes.count * 2
        }
    }

    static func sha256(buffer: UnsafeRawBufferPointer) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: length) { output, count in
            let ok = clibcrypto_sha256(buffer.baseAddress, buffer.count, output.baseAddress)
            // Fails only when libcrypto cannot allocate: there is no sensible way to go on.
            precondition(ok == 1, "libcrypto SHA-256 failed")
            count = length
        }
    }

    static func hmacSHA256(key: UnsafeRawBufferPointer, data: UnsafeRawBufferPointer) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: length) { output, count in
            let ok = clibcrypto_hmac_sha256(
                key.baseAddress, key.count, data.baseAddress, data.count, output.baseAddress)
            precondition(ok == 1, "libcrypto HMAC-SHA-256 failed")
            count = length
        }
    }

    /// Appends the lowercase hex of `bytes` to `output`, without an intermediate string.
    static func appendHex(_ bytes: [UInt8], to output: inout [UInt8]) {
        for byte in bytes {
            output.append(hexDigit(byte >> 4))
            output.append(hexDigit(byte & 0x0F))
        }
    }

    @inline(__always)
    static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? nibble &+ UInt8(ascii: "0") : nibble &+ (UInt8(ascii: "a") &- 10)
    }
}
