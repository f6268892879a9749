import FuzzCommon
import SwarmProbeCore

/// `Profile.parse` on any text: a profile or an `InputError` of one line. What parses is consistent
/// (unique kinds, at least one enabled, ports in range, at most one data path), and moving the data
/// path with `--data-path-port` gives a profile or an error, never a trap.
@_cdecl("LLVMFuzzerTestOneInput")
public func test(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeRawBufferPointer(start: start, count: count), as: UTF8.self)
    do {
        let profile = try Profile.parse(text, source: "fuzz.yaml")
        let kinds = profile.kinds
        guard !profile.enabledKinds.isEmpty, Set(kinds.map(\.kindID)).count == kinds.count,
            Set(kinds.map(\.name)).count == kinds.count, kinds.filter(\.dataPath).count <= 1,
            kinds.allSatisfy({ k in (k.port.map { (1...65535).contains($0) } ?? (k.proto == .esp)) && !k.from.isEmpty && !k.to.isEmpty })
        else {
            fatalError("an inconsistent profile was accepted: \(kinds)")
        }
        for port in [0, 4789, 7789, 7946, 65535, 65536] {
            do {
                let moved = try profile.withDataPathPort(port)
                guard Set(moved.kinds.map(\.kindID)).count == kinds.count else { fatalError("--data-path-port \(port) made two kinds one") }
            } catch {
                FuzzCheck.requireOneLine(error, "withDataPathPort")
            }
        }
    } catch {
        FuzzCheck.requireOneLine(error, "Profile.parse")
    }
    return 0
}
