import CPcap

/// Reads `.pcap` / `.pcapng` files: committed test captures, or captures a user sends in.
public enum OfflineCapture {
    /// One record of a file, as libpcap returns it.
    public struct Frame: Sendable, Hashable {
        /// Microseconds since 1970 (nanosecond files are scaled down by libpcap).
        public var timestamp: Int64
        /// The captured bytes, link-layer header first.
        public var bytes: [UInt8]
        /// The packet's length on the wire; more than `bytes.count` if the snapshot length cut it.
        public var originalLength: Int
    }

    /// Every record of the file at `path` that passes `filter`, and the file's link type (``LinkType``).
    public static func frames(path: String, filter: String? = nil) throws(CaptureError) -> (linkType: Int32, frames: [Frame]) {
        let (opened, openError) = Pcap.withErrorBuffer {
            pcap_open_offline_with_tstamp_precision(path, UInt32(PCAP_TSTAMP_PRECISION_MICRO), $0)
        }
        guard let p = opened else {
            throw CaptureError(.open, device: path, message: openError.isEmpty ? "cannot open" : openError, isOffline: true)
        }
        defer { pcap_close(p) }
        if let filter, !filter.isEmpty {
            try Pcap.setFilter(p, filter, device: path, isOffline: true)
        }
        var frames: [Frame] = []
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        while true {
            let status = pcap_next_ex(p, &header, &data)
            if status == 1, let h = header, let d = data {
                let bytes = [UInt8](UnsafeBufferPointer(start: d, count: Int(h.pointee.caplen)))
                frames.append(Frame(timestamp: Pcap.microseconds(h.pointee), bytes: bytes, originalLength: Int(h.pointee.len)))
            } else if status == PCAP_ERROR_BREAK {  // -2: end of file
                break
            } else if status < 0 {
                throw CaptureError(.read, device: path, message: Pcap.lastError(p), isOffline: true)
            }
        }
        return (pcap_datalink(p), frames)
    }

    /// The TCP, UDP and ESP packets of the file at `path` that pass `filter`; other records are skipped.
    /// A filter on an NFLOG file fails: libpcap compiles no filter for that link type.
    public static func read(path: String, filter: String? = nil) throws(CaptureError) -> [CapturedPacket] {
        let (linkType, frames) = try frames(path: path, filter: filter)
        return frames.compactMap { Dissector.dissect(linkType: linkType, $0.bytes, timestamp: $0.timestamp) }
    }
}
