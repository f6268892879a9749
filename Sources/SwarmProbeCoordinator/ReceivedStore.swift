import SwarmProbeCore

/// One target's receive log: nonce key -> (source address id << 1 | answered).
struct ReceiveTable: Sendable {
    var index: KeyTable<UInt32>
}

struct ReceivedStore: Sendable {
    var addresses = AddressTable()
    var tables: [String: ReceiveTable] = [:]

    mutating func set(_ name: String, entries: some Collection<ReceiveLogEntry>) {
        var pairs: [(UInt64, UInt32)] = []
        pairs.reserveCapacity(entries.count)
        for e in entries {
            pairs.append((LookupKey.nonce(e.nonce), addresses.id(e.sourceAddress) << 1 | (e.answered ? 1 : 0)))
        }
        tables[name] = ReceiveTable(index: KeyTable(pairs, empty: 0))
    }

    /// Assigning a nonce-keyed log converts it (what `phases()` does with each log answer). The log is
    /// kept only in the form checks are matched against, so reading says whether there is one: an
    /// empty dictionary for a target that reported, nil for one that did not.
    subscript(name: String) -> [String: ReceiveLogEntry]? {
        get { tables[name] == nil ? nil : [:] }
        set {
            if let newValue { set(name, entries: newValue.values) } else { tables[name] = nil }
        }
    }
}
