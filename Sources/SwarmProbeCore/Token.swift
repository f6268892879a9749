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
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter {
            !$0.isEmpty && !$0.hasPrefix("#")
        }
        guard let first = lines.first else {
            throw InputError(source: source, line: 1, "token: the file is empty (make a token with `swarmprobe token > \(source)`)")
        }
        let lineNo = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
            .firstIndex { $0.trimmingCharacters(in: .whitespaces) == first }.map { $0 + 1 }
        guard lines.count == 1 else {
            throw InputError(source: source, line: lineNo, "token: expected one line of 64 hex digits, found \(lines.count) lines")
        }
        guard first.count == 64 else {
            throw InputError(
                source: source, line: lineNo,
                "token: expected 64 hex digits (32 bytes), got \(first.count) characters (make one with `swarmprobe token`)")
        }
        guard let bytes = Hex.decode(first) else {
            throw InputError(
                source: source, line: lineNo,
                "token: expected 64 hex digits (32 bytes), but the line holds characters other than 0-9 and a-f (make one with `swarmprobe token`)")
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
