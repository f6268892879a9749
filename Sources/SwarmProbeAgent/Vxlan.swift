import SwarmProbeCore

/// Probes on the data-path port are VXLAN frames, so a live node's kernel VXLAN socket sees a
/// well-formed frame for a VNI no network uses and drops it without decapsulating anything.
enum VXLANFrame {
    /// VNI 0xFFFFF0: swarm allocates VNIs from 4096 upwards and never near the top of the 24-bit space.
    static let vni: UInt32 = 0xFF_FFF0
    static let headerSize = 8
    /// flags (I bit set), 3 reserved, VNI (24 bits), 1 reserved.
    static let header: [UInt8] = [0x08, 0, 0, 0, UInt8((vni >> 16) & 0xff), UInt8((vni >> 8) & 0xff), UInt8(vni & 0xff), 0]

    static func wrap(_ packet: [UInt8]) -> [UInt8] { header + packet }

    /// The probe inside a frame of ours, or nil if the bytes are not one.
    static func unwrap<C: Collection>(_ bytes: C) -> C.SubSequence? where C.Element == UInt8 {
        guard bytes.count > headerSize, bytes.prefix(headerSize).elementsEqual(header) else { return nil }
        return bytes.dropFirst(headerSize)
    }
}

extension Profile {
    /// The kinds whose probes travel in VXLAN frames.
    var framedKinds: Set<KindID> { Set(enabledKinds.filter(\.dataPath).map(\.kindID)) }
}
