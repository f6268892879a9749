import SwarmProbeCore

/// Addresses numbered in the order they are first seen.
struct AddressTable: Sendable {
    private(set) var list: [IPAddress] = []
    private var ids: [IPAddress: UInt32] = [:]

    mutating func id(_ a: IPAddress) -> UInt32 {
        if let id = ids[a] { return id }
        let id = UInt32(list.count)
        ids[a] = id
        list.append(a)
        return id
    }

    func lookup(_ a: IPAddress) -> UInt32? { ids[a] }
}
