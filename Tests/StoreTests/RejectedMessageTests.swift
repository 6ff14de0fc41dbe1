import TestSupport
import Testing
import CallbackStore
@testable import Store

@Suite struct RejectedMessageTests {
    @Test func roundTripNewestFirst() throws {
        let database = try TemporaryStore.empty()
        let store = try database.open()
        try store.writeSync { tx throws in
            try tx.recordRejected(Sample.rejected(1, receivedAt: 10))
            try tx.recordRejected(RejectedMessage(receivedAt: 20, source: "replay:x.json", messageID: nil, reason: "unknown", body: ""))
        }
        let listed = try store.readSync { try $0.listRejected(limit: 10) }
        #expect(listed.map(\.source) == ["replay:x.json", "events"])
        #expect(listed[0].messageID == nil)
        #expect(listed[0].body == "")
        var expected = Sample.rejected(1, receivedAt: 10)
        expected.id = listed[1].id
        #expect(listed[1] == expected)
    }

    @Test func capEvictsOldest() throws {
        let database = try TemporaryStore.empty()
        var options = StoreOptions()
        options.rejectedMessageCap = 2
        let store = try database.open(options)
        try store.writeSync { tx throws in
            for (n, at) in [(1, 30), (2, 10), (3, 20), (4, 40)] { try tx.recordRejected(Sample.rejected(n, receivedAt: Int64(at))) }
        }
        try store.readSync { tx throws in
            #expect(try tx.listRejected(limit: 10).map(\.messageID) == ["m-4", "m-1"])
            #expect(try tx.counts().rejected == 2)
        }
    }

    /// Bodies whose cut at 8 bytes falls before, inside or after a multi-byte character.
    @Test(arguments: [
        ("abcdefghij", "abcdefgh"),
        ("abcdefg\u{E9}x", "abcdefg"), // é is 2 bytes: 7 + 2 would make 9
        ("abcdef\u{E9}x", "abcdef\u{E9}"), // exactly 8
        ("abcde\u{20AC}x", "abcde\u{20AC}"), // € is 3 bytes: exactly 8
        ("abcdef\u{20AC}", "abcdef"), // cut inside €
        ("abcde\u{1F600}", "abcde"), // 😀 is 4 bytes: cut inside
        ("short", "short"),
    ])
    func bodyIsCutOnACharacterBoundary(body: String, kept: String) throws {
        let database = try TemporaryStore.empty()
        var options = StoreOptions()
        options.rejectedBodyLimit = 8
        let store = try database.open(options)
        try store.writeSync { try $0.recordRejected(Sample.rejected(1, receivedAt: 1, body: body)) }
        let stored = try #require(try store.readSync { try $0.listRejected(limit: 1) }.first)
        #expect(stored.body == kept)
        #expect(stored.body.utf8.count <= 8)
    }
}
