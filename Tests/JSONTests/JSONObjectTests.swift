import JSON
import Testing

@Suite("Objects")
struct JSONObjectTests {
    @Test("parsed objects keep member order")
    func parsedOrder() throws {
        let value = try JSONValue.parse(#"{"zeta":1,"alpha":2,"mid":{"y":1,"x":2},"beta":3}"#)
        let object = try #require(value.objectValue)
        #expect(object.keys == ["zeta", "alpha", "mid", "beta"])
        #expect(object["mid"]?.objectValue?.keys == ["y", "x"])
        #expect(object.map(\.key) == ["zeta", "alpha", "mid", "beta"])
        #expect(object.values == [1, 2, ["y": 1, "x": 2], 3])
    }

    static let duplicates: [(json: String, expected: String)] = [
        (#"{"a":1,"b":2,"a":3}"#, #"{"a":3,"b":2}"#),
        (#"{"a":1,"a":{"x":1},"a":[2]}"#, #"{"a":[2]}"#),
        (#"{"é":1,"x":0,"\u00e9":2}"#, #"{"é":2,"x":0}"#),
        (#"{"a":1,"\u0061":2}"#, #"{"a":2}"#),
        // Swift Strings compare by canonical equivalence: U+212A KELVIN SIGN is "K".
        (#"{"K":1,"\u212a":2}"#, #"{"K":2}"#),
    ]

    @Test("a repeated key keeps its first position and its last value", arguments: duplicates)
    func lastWins(json: String, expected: String) throws {
        #expect(try JSONValue.parse(json).serialized() == expected)
    }

    @Test("large objects use the index and still keep order and last-wins")
    func largeObject() throws {
        let count = 50_000
        var json = "{"
        for key in 0..<count {
            json += "\"key\(key)\":\(key),"
        }
        json += #""key7":"again"}"#
        let object = try #require(try JSONValue.parse(json).objectValue)
        #expect(object.count == count)
        #expect(object["key7"] == "again")
        #expect(object["key49999"] == 49_999)
        #expect(object.keys.prefix(3) == ["key0", "key1", "key2"])
        #expect(object["missing"] == nil)
    }

    @Test("subscript set replaces in place, appends new keys, removes on nil")
    func subscriptEditing() {
        var object: JSONObject = ["a": 1, "b": 2, "c": 3]
        object["b"] = "two"
        #expect(object.keys == ["a", "b", "c"])
        #expect(object["b"] == "two")
        object["d"] = 4
        #expect(object.keys == ["a", "b", "c", "d"])
        object["a"] = nil
        #expect(object.keys == ["b", "c", "d"])
        #expect(object.removeValue(forKey: "c") == 3)
        #expect(object.removeValue(forKey: "c") == nil)
        #expect(object.keys == ["b", "d"])
        #expect(object.updateValue(5, forKey: "d") == 4)
        #expect(JSONValue.object(object).serialized() == #"{"b":"two","d":5}"#)
    }

    @Test("editing across the index threshold keeps lookups and order right")
    func editingAcrossThreshold() {
        var object = JSONObject()
        let total = JSONObject.indexThreshold * 2
        for key in 0..<total {
            object["k\(key)"] = JSONValue(key)
        }
        #expect(object.count == total)
        #expect(object["k\(total - 1)"] == JSONValue(total - 1))
        // Remove from the front so every later position shifts.
        for key in 0..<(total - 5) {
            #expect(object.removeValue(forKey: "k\(key)") == JSONValue(key))
            let next = key + 1
            #expect(object["k\(next)"] == JSONValue(next))
            #expect(object.keys.first == "k\(next)")
        }
        #expect(object.keys == (total - 5..<total).map { "k\($0)" })
        object["k\(total - 3)"] = "replaced"
        #expect(object.keys == (total - 5..<total).map { "k\($0)" })
        #expect(object["k\(total - 3)"] == "replaced")
    }

    @Test("init with repeated keys keeps the first position and the last value")
    func initWithDuplicates() {
        let object = JSONObject([("a", 1), ("b", 2), ("a", 3)])
        #expect(object.keys == ["a", "b"])
        #expect(object["a"] == 3)
        let literal: JSONObject = ["x": 1, "y": 2, "x": 9]
        #expect(literal.keys == ["x", "y"])
        #expect(literal["x"] == 9)
    }

    @Test("objects are equal and hash alike regardless of member order")
    func equalityIgnoresOrder() throws {
        let first: JSONValue = ["a": 1, "b": [true, nil], "c": ["x": "y"]]
        let second = try JSONValue.parse(#"{"c":{"x":"y"},"b":[true,null],"a":1}"#)
        #expect(first == second)
        #expect(first.hashValue == second.hashValue)
        #expect(Set([first, second]).count == 1)
        #expect(first != ["a": 1, "b": [true, nil]])
        #expect(first != ["a": 1, "b": [true, nil], "d": ["x": "y"]])
        #expect(first != ["a": 2, "b": [true, nil], "c": ["x": "y"]])
        #expect(JSONValue.number("1") != JSONValue.number("1.0"))
    }
}
