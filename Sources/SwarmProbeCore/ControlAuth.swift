import Crypto
import Foundation

/// Signing and checking control requests and answers.
public enum ControlAuth {
    public static let scheme = "SWP1"
    public static let responseHeader = "X-Swarmprobe-Mac"
    /// Largest request body an agent reads.
    public static let maximumBodyBytes = 4 << 20

    static func bodyHash(_ body: [UInt8]) -> String { Hex.encode(Array(SHA256.hash(data: body))) }

    static func requestMAC(key: SymmetricKey, method: String, path: String, timeMs: UInt64, nonce: String, body: [UInt8]) -> String {
        let text = "swarmprobe-control-v1\n\(method)\n\(path)\n\(timeMs)\n\(nonce)\n\(bodyHash(body))"
        return Hex.encode(Array(HMAC<SHA256>.authenticationCode(for: Data(text.utf8), using: key)))
    }

    /// The `Authorization` header value for a request; returns it with its nonce.
    public static func sign(
        key: SymmetricKey, method: String, path: String, body: [UInt8], timeMs: UInt64,
        nonce: [UInt8] = randomBytes(16)
    ) -> (header: String, nonce: String) {
        let n = Hex.encode(nonce)
        let mac = requestMAC(key: key, method: method, path: path, timeMs: timeMs, nonce: n, body: body)
        return ("\(scheme) ts=\(timeMs),nonce=\(n),mac=\(mac)", n)
    }

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case missing, malformed(String), badMAC, stale, future, replayed, busy
        public var description: String {
            switch self {
            case .missing: return "no Authorization header"
            case .malformed(let why): return "malformed Authorization header: \(why)"
            case .badMAC: return "the signature does not match"
            case .stale: return "the request is too old (clock skew or replay)"
            case .future: return "the request is from the future (clock skew)"
            case .replayed: return "the request was already used (replay)"
            case .busy: return "too many recent requests to remember; try again"
            }
        }
    }

    /// The fields of an `Authorization: SWP1 ts=...,nonce=...,mac=...` header.
    struct Header {
        var ts: UInt64
        var nonce: String
        var nonceBytes: [UInt8]
        var mac: [UInt8]
    }

    static func parse(header: String?) -> Result<Header, Failure> {
        guard let header else { return .failure(.missing) }
        guard header.hasPrefix(scheme + " ") else { return .failure(.malformed("expected scheme \(scheme)")) }
        var fields: [String: String] = [:]
        for part in header.dropFirst(scheme.count + 1).split(separator: ",") {
            let kv = part.split(separator: "=", maxSplits: 1)
            guard kv.count == 2 else { return .failure(.malformed("field \"\(InputError.escaped(String(part.prefix(20))))\" is not key=value")) }
            fields[kv[0].trimmingCharacters(in: .whitespaces)] = kv[1].trimmingCharacters(in: .whitespaces)
        }
        guard let ts = fields["ts"].flatMap(UInt64.init) else { return .failure(.malformed("field ts")) }
        guard let nonce = fields["nonce"], let nonceBytes = Hex.decode(nonce), nonceBytes.count == 16 else {
            return .failure(.malformed("field nonce"))
        }
        guard let mac = fields["mac"].flatMap(Hex.decode), mac.count == 32 else { return .failure(.malformed("field mac")) }
        return .success(Header(ts: ts, nonce: nonce, nonceBytes: nonceBytes, mac: mac))
    }

    static func failure(_ v: ReplayGuard.Verdict) -> Failure? {
        switch v {
        case .fresh: return nil
        case .replayed: return .replayed
        case .stale: return .stale
        case .future: return .future
        case .full: return .busy
        }
    }

    /// What can be checked before the body has arrived: the header parses, its time is inside the
    /// window, its nonce is not already used. The agent refuses a request failing this at the head,
    /// so it never buffers the body of a request that cannot authenticate.
    public static func precheck(header: String?, now: UInt64, guard replay: ReplayGuard) -> Failure? {
        switch parse(header: header) {
        case .failure(let f): return f
        case .success(let h): return failure(replay.peek(nonce: h.nonceBytes, timeMs: h.ts, now: now))
        }
    }

    /// Verifies a request's header; on success returns its nonce (to sign the answer with).
    public static func verify(
        header: String?, key: SymmetricKey, method: String, path: String, body: [UInt8],
        now: UInt64, guard replay: inout ReplayGuard
    ) -> Result<String, Failure> {
        let h: Header
        switch parse(header: header) {
        case .failure(let f): return .failure(f)
        case .success(let parsed): h = parsed
        }
        let text = "swarmprobe-control-v1\n\(method)\n\(path)\n\(h.ts)\n\(h.nonce)\n\(bodyHash(body))"
        guard HMAC<SHA256>.isValidAuthenticationCode(h.mac, authenticating: Data(text.utf8), using: key) else {
            return .failure(.badMAC)
        }
        if let f = failure(replay.check(nonce: h.nonceBytes, timeMs: h.ts, now: now)) { return .failure(f) }
        return .success(h.nonce)
    }

    public static func responseMAC(key: SymmetricKey, requestNonce: String, status: Int, body: [UInt8]) -> String {
        let text = "swarmprobe-response-v1\n\(requestNonce)\n\(status)\n\(bodyHash(body))"
        return Hex.encode(Array(HMAC<SHA256>.authenticationCode(for: Data(text.utf8), using: key)))
    }

    public static func verifyResponse(key: SymmetricKey, requestNonce: String, status: Int, body: [UInt8], mac: String?) -> Bool {
        guard let mac, let macBytes = Hex.decode(mac), macBytes.count == 32 else { return false }
        let text = "swarmprobe-response-v1\n\(requestNonce)\n\(status)\n\(bodyHash(body))"
        return HMAC<SHA256>.isValidAuthenticationCode(macBytes, authenticating: Data(text.utf8), using: key)
    }
}

/// `n` bytes from the kernel's CSPRNG, in one `getentropy` call per 256 bytes (the stdlib's generator
/// makes one system call per byte drawn this way, a cost on every probe's nonces).
public func randomBytes(_ n: Int) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: max(0, n))
    let ok = out.withUnsafeMutableBytes { buffer -> Bool in
        var at = 0
        while at < buffer.count {
            let chunk = min(256, buffer.count - at)
            guard getentropy(buffer.baseAddress! + at, chunk) == 0 else { return false }
            at += chunk
        }
        return true
    }
    if !ok {
        var g = SystemRandomNumberGenerator()
        for i in out.indices { out[i] = g.next() }
    }
    return out
}

public func nowMs() -> UInt64 {
    UInt64(Date().timeIntervalSince1970 * 1000)
}
