import SwarmProbeCore

/// Sorted keys with a value each; later duplicates win, as in a dictionary.
struct SortedIndex<Value: Sendable>: Sendable {
    private(set) var keys: [UInt64] = []
    private(set) var values: [Value] = []

    init() {}

    init(_ pairs: [(UInt64, Value)]) {
        // Stable by position among equal keys, so the last one stays.
        let order = pairs.indices.sorted { pairs[$0].0 != pairs[$1].0 ? pairs[$0].0 < pairs[$1].0 : $0 < $1 }
        keys.reserveCapacity(pairs.count)
        values.reserveCapacity(pairs.count)
        for i in order {
            if let last = keys.last, last == pairs[i].0 {
                values[values.count - 1] = pairs[i].1
            } else {
                keys.append(pairs[i].0)
                values.append(pairs[i].1)
            }
        }
    }

    func position(_ key: UInt64) -> Int? {
        var lo = 0, hi = keys.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if keys[mid] < key { lo = mid + 1 } else { hi = mid }
        }
        return lo < keys.count && keys[lo] == key ? lo : nil
    }

    subscript(key: UInt64) -> Value? { position(key).map { values[$0] } }
}
