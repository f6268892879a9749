import SwarmProbeCore

/// An open-addressing hash table of 64-bit keys: a lookup costs one or two cache misses where a binary
/// search over a target's thousands of records costs a dozen, which at 1,000 nodes (every check looks
/// at another target) dominated the merge. Key 0 marks an empty slot (a real key 0 is kept aside);
/// later duplicates win, as in a dictionary. At most 3/4 full.
struct KeyTable<Value: Sendable>: Sendable {
    private var keys: [UInt64]
    private var values: [Value]
    private var zero: Value?
    private let shift: UInt64

    init(_ pairs: some Collection<(UInt64, Value)>, empty: Value) {
        var bits: UInt64 = 3
        while (1 << bits) * 3 < pairs.count * 4 { bits += 1 }
        shift = 64 - bits
        keys = Array(repeating: 0, count: 1 << bits)
        values = Array(repeating: empty, count: 1 << bits)  // no memory for Void (a set)
        for (k, v) in pairs { insert(k, v) }
    }

    private func home(_ key: UInt64) -> Int { Int(truncatingIfNeeded: (key &* 0x9e37_79b9_7f4a_7c15) >> shift) }

    private mutating func insert(_ key: UInt64, _ value: Value) {
        if key == 0 {
            zero = value
            return
        }
        let mask = keys.count - 1
        var i = home(key)
        while keys[i] != 0 && keys[i] != key { i = (i + 1) & mask }
        keys[i] = key
        values[i] = value
    }

    /// The slot of `key`, or nil.
    private func find(_ key: UInt64) -> Int? {
        let mask = keys.count - 1
        var i = home(key)
        while true {
            let k = keys[i]
            if k == key { return i }
            if k == 0 { return nil }
            i = (i + 1) & mask
        }
    }

    subscript(key: UInt64) -> Value? {
        if key == 0 { return zero }
        return find(key).map { values[$0] }
    }

    func contains(_ key: UInt64) -> Bool {
        key == 0 ? zero != nil : find(key) != nil
    }
}
