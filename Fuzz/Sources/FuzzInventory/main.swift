import FuzzCommon
import SwarmProbeCore

/// `Inventory.parse` on any text (invalid UTF-8 becomes U+FFFD, as a lenient reader would give it):
/// an inventory or an `InputError` of one line. What parses is consistent: names and addresses are
/// unique, there is a manager, and every address parses back from its text.
@_cdecl("LLVMFuzzerTestOneInput")
public func test(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeRawBufferPointer(start: start, count: count), as: UTF8.self)
    do {
        let inventory = try Inventory.parse(text, source: "fuzz.yaml")
        let nodes = inventory.nodes
        guard !nodes.isEmpty, !inventory.managers.isEmpty,
            Set(nodes.map(\.name)).count == nodes.count, Set(nodes.map(\.address)).count == nodes.count
        else {
            fatalError("an inconsistent inventory was accepted: \(nodes)")
        }
        for node in nodes {
            FuzzCheck.requireRoundTrip(node.address, "node address")
            guard (1...65535).contains(node.control.port), !node.control.host.isEmpty else {
                fatalError("a bad control endpoint was accepted: \(node.control)")
            }
        }
    } catch {
        FuzzCheck.requireOneLine(error, "Inventory.parse")
    }
    return 0
}
