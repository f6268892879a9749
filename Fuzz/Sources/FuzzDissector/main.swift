import FuzzCommon
import SwarmProbeCapture
import SwarmProbeCore

/// `Dissector.dissect` for every link type it reads: the first byte picks the link type (index into
/// `FuzzDissector.linkTypes`, modulo; the last index means `dissectIP`), the rest is the frame, passed
/// in place so AddressSanitizer sees any read past its end. A packet that comes out never has more
/// payload than the frame had bytes, and its addresses parse back from their text.
@_cdecl("LLVMFuzzerTestOneInput")
public func test(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    _ = FuzzDissector.coversEveryLinkType
    guard count >= 1 else { return 0 }
    let frame = UnsafeRawBufferPointer(start: start + 1, count: count - 1)
    let choice = Int(start.load(as: UInt8.self)) % (FuzzDissector.linkTypes.count + 1)
    let packet: CapturedPacket?
    if choice < FuzzDissector.linkTypes.count {
        packet = Dissector.dissect(linkType: FuzzDissector.linkTypes[choice], frame, timestamp: 1)
        // The [UInt8] entry point agrees with the buffer one.
        guard Dissector.dissect(linkType: FuzzDissector.linkTypes[choice], [UInt8](frame), timestamp: 1) == packet else {
            fatalError("dissect([UInt8]) and dissect(UnsafeRawBufferPointer) disagree")
        }
    } else {
        packet = Dissector.dissectIP([UInt8](frame), timestamp: 1)
    }
    if let packet {
        guard packet.payload.count <= frame.count else { fatalError("payload longer than the frame: \(packet)") }
        guard (packet.proto == .esp) == (packet.sourcePort == nil), (packet.proto == .tcp) == (packet.tcpFlags != nil) else {
            fatalError("ports or flags do not fit the protocol: \(packet)")
        }
        FuzzCheck.requireRoundTrip(packet.source, "source")
        FuzzCheck.requireRoundTrip(packet.destination, "destination")
        _ = packet.description
    }
    return 0
}

enum FuzzDissector {
    /// `LinkType.supported`, in a fixed order the corpus relies on (`Fuzz/make-corpus.py`).
    static let linkTypes: [Int32] = [
        LinkType.null, LinkType.ethernet, LinkType.raw, LinkType.rawOpenBSD, LinkType.linktypeRaw, LinkType.loop,
        LinkType.linuxSLL, LinkType.ipv4, LinkType.ipv6, LinkType.nflog, LinkType.linuxSLL2,
    ]
    /// A link type added to the dissector without a place here would go unfuzzed.
    static let coversEveryLinkType: Void = {
        guard Set(linkTypes) == LinkType.supported, linkTypes.count == LinkType.supported.count else {
            fatalError("FuzzDissector.linkTypes \(linkTypes) is not LinkType.supported \(LinkType.supported.sorted())")
        }
    }()
}
