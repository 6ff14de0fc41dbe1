/// A JSON object that keeps its members in order: as received when parsed, as built otherwise.
///
/// Keys are unique. Setting an existing key replaces its value in place; a new key goes to the
/// end. A repeated key (in parsed input, in ``init(_:)`` or in a literal) keeps its first position
/// and its last value: the last one wins. Keys compare as Swift `String`s, that is by Unicode
/// canonical equivalence. Two objects are equal when they hold the same members in any order;
/// serialization follows the order.
///
/// Small objects are searched linearly; objects of more than ``indexThreshold`` members also keep
/// a hash index, so lookups stay fast and a hostile document with many keys cannot make parsing
/// quadratic.
public struct JSONObject: Sendable {
    /// A member: its key and value.
    public typealias Element = (key: String, value: JSONValue)

    /// Above this many members the object keeps a hash index from key to position.
    public static let indexThreshold = 32

    /// In order; read by the serializer.
    private(set) var members: [Element]
    /// Key → position in `members`; present exactly when `members.count > indexThreshold`.
    private var index: [String: Int]?

    /// An empty object.
    public init() {
        members = []
    }

    /// An object with `members` in order; a repeated key keeps its first position and last value.
    public init(_ members: [(String, JSONValue)]) {
        self.init()
        self.members.reserveCapacity(members.count)
        for (key, value) in members {
            self[key] = value
        }
    }

    /// Members already known to have unique keys, with the index the parser built for them if any.
    init(uniqueMembers: [Element], index: [String: Int]?) {
        self.members = uniqueMembers
        self.index = index
        if index == nil, uniqueMembers.count > Self.indexThreshold {
            rebuildIndex()
        }
    }

    /// The number of members.
    public var count: Int { members.count }

    /// Whether the object has no members.
    public var isEmpty: Bool { members.isEmpty }

    /// The keys, in order.
    public var keys: [String] { members.map(\.key) }

    /// The values, in the order of their keys.
    public var values: [JSONValue] { members.map(\.value) }

    /// The value for `key`, or nil. Setting a value replaces an existing member in place or
    /// appends a new one; setting nil removes the member.
    public subscript(key: String) -> JSONValue? {
        get {
            position(of: key).map { members[$0].value }
        }
        set {
            if let newValue {
                updateValue(newValue, forKey: key)
            } else {
                removeValue(forKey: key)
            }
        }
    }

    /// Sets the value for `key` (in place if the key exists, else at the end) and returns the
    /// value it replaced, if any.
    @discardableResult
    public mutating func updateValue(_ value: JSONValue, forKey key: String) -> JSONValue? {
        if let position = position(of: key) {
            let old = members[position].value
            members[position].value = value
            return old
        }
        members.append((key, value))
        if index != nil {
            index![key] = members.count - 1
        } else if members.count > Self.indexThreshold {
            rebuildIndex()
        }
        return nil
    }

    /// Removes the member for `key`, keeping the others in order, and returns its value if any.
    @discardableResult
    public mutating func removeValue(forKey key: String) -> JSONValue? {
        guard let position = position(of: key) else { return nil }
        let removed = members.remove(at: position).value
        if members.count <= Self.indexThreshold {
            index = nil
        } else {
            index![key] = nil
            for later in position..<members.count {
                index![members[later].key] = later
            }
        }
        return removed
    }

    private func position(of key: String) -> Int? {
        if let index {
            return index[key]
        }
        for position in members.indices where members[position].key == key {
            return position
        }
        return nil
    }

    private mutating func rebuildIndex() {
        var built = [String: Int](minimumCapacity: members.count)
        for (position, member) in members.enumerated() {
            built[member.key] = position
        }
        index = built
    }
}

extension JSONObject: Sequence {
    /// Iterates the members in order.
    public func makeIterator() -> IndexingIterator<[Element]> {
        members.makeIterator()
    }

    /// The number of members.
    public var underestimatedCount: Int { members.count }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    /// An object with the members in the order written; a repeated key keeps its first position
    /// and its last value.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(elements)
    }
}

extension JSONObject: Equatable, Hashable {
    /// Whether both objects hold the same keys with equal values, in whatever order.
    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        guard lhs.members.count == rhs.members.count else { return false }
        for (position, member) in lhs.members.enumerated() {
            // Objects compared are usually in the same order: try the same position first.
            let other = rhs.members[position]
            if other.key == member.key {
                guard other.value == member.value else { return false }
            } else {
                guard let value = rhs[member.key], value == member.value else { return false }
            }
        }
        return true
    }

    /// Hashes the members without regard to order, to agree with `==`.
    public func hash(into hasher: inout Hasher) {
        var sum = 0
        for member in members {
            var memberHasher = Hasher()
            memberHasher.combine(member.key)
            memberHasher.combine(member.value)
            sum &+= memberHasher.finalize()
        }
        hasher.combine(members.count)
        hasher.combine(sum)
    }
}
