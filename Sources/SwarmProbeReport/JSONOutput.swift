import Foundation
import SwarmProbeCore

/// Where the streamed JSON goes: a file descriptor, written in 1 MiB pieces, or memory.
public final class JSONOutput {
    private var buffer: [UInt8] = []
    private let fd: Int32?
    private var failure: Int32 = 0
    /// Bytes written so far (flushed or not).
    public private(set) var size = 0

    /// In memory: read `string` at the end.
    public init() { fd = nil }

    /// To an open file descriptor (not closed here); call `flush()` at the end.
    public init(fd: Int32) {
        self.fd = fd
        buffer.reserveCapacity(1 << 20)
    }

    public var string: String { String(decoding: buffer, as: UTF8.self) }

    /// The errno of the first failed write, 0 if none.
    public var error: Int32 { failure }

    func write(_ s: String) {
        var s = s
        s.withUTF8 { write(bytes: $0) }
    }

    func write(bytes: some Collection<UInt8>) {
        buffer.append(contentsOf: bytes)
        size += bytes.count
        if fd != nil && buffer.count >= 1 << 20 { flush() }
    }

    public func flush() {
        guard let fd, !buffer.isEmpty else { return }
        var offset = 0
        buffer.withUnsafeBytes { raw in
            while offset < raw.count && failure == 0 {
                let n = Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                } else {
                    offset += n
                }
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// A JSON string literal.
    func string(_ s: String) {
        var l = JSONLine()
        l.string(s)
        write(bytes: l.bytes)
    }

    func strings(_ list: [String]) {
        write("[")
        for (i, s) in list.enumerated() {
            if i > 0 { write(",") }
            string(s)
        }
        write("]")
    }

    /// A small value through the wire encoder, on one line.
    func encoded<T: Encodable>(_ value: T) {
        do {
            let data = try JSONDocument.encoder(pretty: false).encode(value)
            write(String(decoding: data, as: UTF8.self))
        } catch {
            // Results hold only strings, integers, booleans and enums: encoding cannot fail.
            preconditionFailure("could not encode \(T.self): \(error)")
        }
    }
}
