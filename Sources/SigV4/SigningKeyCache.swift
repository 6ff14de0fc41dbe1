import Synchronization

/// The last signing key a signer derived, so requests signed on the same day with the same secret
/// skip four of the five HMACs SigV4 costs. Shared by copies of a signer; safe across tasks.
final class SigningKeyCache: Sendable {
    private struct Entry {
        var secret: String
        var date: [UInt8]
        var key: [UInt8]
    }

    private let entry = Mutex<Entry?>(nil)

    /// The key for `secret` on `date` (`yyyyMMdd`), from the cache or from `derive`.
    func key(secret: String, date: ArraySlice<UInt8>, derive: () -> [UInt8]) -> [UInt8] {
        if let key = entry.withLock({ entry -> [UInt8]? in
            guard let entry, entry.date.elementsEqual(date), entry.secret == secret else { return nil }
            return entry.key
        }) {
            return key
        }
        // Derived outside the lock: two tasks racing on a new day both derive the same key,
        // which is cheaper than making one wait.
        let key = derive()
        entry.withLock { $0 = Entry(secret: secret, date: Array(date), key: key) }
        return key
    }
}
