import CPcap

/// Small helpers around libpcap calls; every `pcap_t` they take belongs to the caller's thread.
enum Pcap {
    /// Calls `body` with a PCAP_ERRBUF_SIZE buffer and returns its result and the text left in it.
    static func withErrorBuffer<R>(_ body: (UnsafeMutablePointer<CChar>) -> R) -> (R, String) {
        var buffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        return buffer.withUnsafeMutableBufferPointer { b in
            let r = body(b.baseAddress!)
            b[b.count - 1] = 0
            return (r, String(cString: b.baseAddress!))
        }
    }

    static func lastError(_ p: OpaquePointer) -> String {
        guard let c = pcap_geterr(p) else { return "" }
        return String(cString: c)
    }

    /// The text for a `pcap_activate` status: libpcap's own detail, else the status's standard words.
    static func activateMessage(_ p: OpaquePointer, status: Int32) -> String {
        let detail = lastError(p)
        if !detail.isEmpty { return detail }
        guard let c = pcap_statustostr(status) else { return "libpcap status \(status)" }
        return String(cString: c)
    }

    /// Compiles `expression` for `p`'s link type and installs it.
    static func setFilter(_ p: OpaquePointer, _ expression: String, device: String, isOffline: Bool) throws(CaptureError) {
        var program = bpf_program()
        guard pcap_compile(p, &program, expression, 1, PCAP_NETMASK_UNKNOWN) == 0 else {
            throw CaptureError(.filter, device: device, message: "filter \"\(expression)\": \(lastError(p))", isOffline: isOffline)
        }
        defer { pcap_freecode(&program) }
        guard pcap_setfilter(p, &program) == 0 else {
            throw CaptureError(.filter, device: device, message: "filter \"\(expression)\": \(lastError(p))", isOffline: isOffline)
        }
    }

    /// `ts` of a packet header in microseconds since 1970 (handles opened with microsecond precision).
    static func microseconds(_ header: pcap_pkthdr) -> Int64 {
        Int64(header.ts.tv_sec) * 1_000_000 + Int64(header.ts.tv_usec)
    }
}
