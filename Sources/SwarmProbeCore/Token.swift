import Crypto
import Foundation

/// The cluster secret every agent and the coordinator share.
/// It never crosses the wire: keys derived from it sign probes and control requests.
public struct ClusterToken: Sendable {
    // Raw bytes: SymmetricKey is not Sendable; a key is rebuilt where it is used.
    private let probeKeyBytes: [UInt8]
    private let controlKeyBytes: [UInt8]
    public var probeKey: SymmetricKey { SymmetricKey(data: probeKeyBytes) }
    /// Signs and checks probes with `probeKey`, its key schedule computed once.
    public var probeAuthenticator: ProbeAuthenticator { ProbeAuthenticator(keyBytes: probeKeyBytes) }
    public var controlKey: SymmetricKey { SymmetricKey(data: controlKeyBytes) }

    public init(secret: [UInt8]) {
        let ikm = SymmetricKey(data: secret)
        let salt = Data("swarmprobe/v1".utf8)
        probeKeyBytes = HKDF<SHA256>.deriveKey(inputKeyMaterial: ikm, salt: salt, info: Data("probe".utf8), outputByteCount: 32)
            .withUnsafeBytes { Array($0) }
        controlKeyBytes = HKDF<SHA256>.deriveKey(inputKeyMaterial: ikm, salt: salt, info: Data("control".utf8), outputByteCount: 32)
            .withUnsafeBytes { Array($0) }
    }

    /// 32 random bytes as 64 hex digits: what `swarmprobe token` prints.
    public static func generate() -> String {
        let key = SymmetricKey(size: .bits256)
        return key.withUnsafeBytes { Hex.encode(Array($0)) }
    }

    /// Parses the contents of a token file. Errors name `source`.
    public static func parse(_ text: String, source: String) throws(InputError) -> ClusterToken {
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && !$0.hasPrefix("#") }
        guard let first = lines.first else {
            throw InputError(source: source, line: 1, "token: the file is empty (make a token with `swarmprobe token > \(source)`)")
        }
        let lineNo = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
            .firstIndex { $0.trimmingCharacters(in: .whitespaces) == first }.map { $0 + 1 }
        guard lines.count == 1 else {
            throw InputError(source: source, line: lineNo, "token: expected one line of 64 hex digits, found \(lines.count) lines")
        }
        guard first.count == 64 else {
            throw InputError(source: source, line: lineNo, "token: expected 64 hex digits (32 bytes), got \(first.count) characters (make one with `swarmprobe token`)")
        }
        guard let bytes = Hex.decode(first) else {
            throw InputError(source: source, line: lineNo, "token: expected 64 hex digits (32 bytes), but the line holds characters other than 0-9 and a-f (make one with `swarmprobe token`)")
        }
        return ClusterToken(secret: bytes)
    }

    public static func load(path: String) throws(InputError) -> ClusterToken {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw InputError(source: path, "token: cannot read the token file (\(describeFileError(error)))")
        }
        return try parse(text, source: path)
    }
}

/// Reads a text file, turning the failure into an `InputError` naming it.
public func readInputFile(_ path: String, what: String) throws(InputError) -> String {
    do { return try String(contentsOfFile: path, encoding: .utf8) } catch {
        throw InputError(source: path, "\(what): cannot read the file (\(describeFileError(error)))")
    }
}

func describeFileError(_ error: any Error) -> String {
    let ns = error as NSError
    if let under = ns.userInfo[NSUnderlyingErrorKey] as? NSError, under.domain == NSPOSIXErrorDomain {
        return String(cString: strerror(Int32(under.code)))
    }
    if ns.domain == NSCocoaErrorDomain {
        switch ns.code {
        case NSFileReadNoSuchFileError, NSFileNoSuchFileError: return "no such file"
        case NSFileReadNoPermissionError: return "permission denied"
        case NSFileReadInapplicableStringEncodingError: return "not UTF-8 text"
        default: break
        }
    }
    return ns.localizedDescription
}

public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)
    public static func encode<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xf)])
        }
        return String(decoding: out, as: UTF8.self)
    }
    public static func decode(_ s: String) -> [UInt8]? {
        let u = Array(s.utf8)
        guard u.count % 2 == 0 else { return nil }
        func v(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            case 65...70: return c - 55
            default: return nil
            }
        }
        var out = [UInt8]()
        out.reserveCapacity(u.count / 2)
        var i = 0
        while i < u.count {
            guard let hi = v(u[i]), let lo = v(u[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }
}
