import Crypto
import Foundation

/// Requests and answers between the coordinator and an agent's control endpoint:
/// JSON over HTTP/1.1, every request signed (`Authorization: SWP1 ...`), every answer
/// signed back (`X-Swarmprobe-Mac`), so neither side trusts bytes from a stranger.
public enum ControlPath {
    public static let hello = "/v1/hello"
    public static let run = "/v1/run"
    public static let log = "/v1/log"
}

public struct HelloRequest: Codable, Sendable { public init() {} }

public struct HelloResponse: Codable, Sendable, Equatable {
    public var agentVersion: String
    public var address: IPAddress
    /// The agent's clock, milliseconds since 1970.
    public var timeMs: Int64
    public var profile: String
    public var listeners: [ListenerState]
    public var taps: [TapState]

    public init(agentVersion: String, address: IPAddress, timeMs: Int64, profile: String, listeners: [ListenerState],
                taps: [TapState] = []) {
        self.agentVersion = agentVersion
        self.address = address
        self.timeMs = timeMs
        self.profile = profile
        self.listeners = listeners
        self.taps = taps
    }
}

public struct PeerRef: Codable, Sendable, Hashable {
    public var name: String
    public var address: IPAddress
    public init(name: String, address: IPAddress) {
        self.name = name
        self.address = address
    }
}

public struct ProbeOrder: Codable, Sendable, Hashable {
    public var target: IPAddress
    public var kind: KindID
    /// The target's agent only observes this port (dockerd or the kernel holds it): probe so that the
    /// owner is left alone (a TCP handshake closed with FIN and no bytes; two datagrams at most).
    public var observed: Bool
    /// This path's own timeout (RTT-adaptive); nil: the request's `timeoutMs`.
    public var timeoutMs: Int?

    public init(target: IPAddress, kind: KindID, observed: Bool = false, timeoutMs: Int? = nil) {
        self.target = target
        self.kind = kind
        self.observed = observed
        self.timeoutMs = timeoutMs
    }

    enum CodingKeys: String, CodingKey { case target, kind, observed, timeoutMs }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        target = try c.decode(IPAddress.self, forKey: .target)
        kind = try c.decode(KindID.self, forKey: .kind)
        observed = try c.decodeIfPresent(Bool.self, forKey: .observed) ?? false
        timeoutMs = try c.decodeIfPresent(Int.self, forKey: .timeoutMs)
    }
}

/// A plan: whom this agent probes on what. The node list is part of the signed request;
/// an agent probes nothing outside it and no port outside its own profile.
public struct RunRequest: Codable, Sendable, Equatable {
    public var runID: String
    public var nodes: [PeerRef]
    public var probes: [ProbeOrder]
    public var timeoutMs: Int
    public var attempts: Int

    public init(runID: String, nodes: [PeerRef], probes: [ProbeOrder], timeoutMs: Int, attempts: Int) {
        self.runID = runID
        self.nodes = nodes
        self.probes = probes
        self.timeoutMs = timeoutMs
        self.attempts = attempts
    }

    public static let maximumNodes = 5000
    public static let timeoutRangeMs = 50...60_000
    public static let attemptsRange = 1...10

    /// Refuses a plan this agent must not carry out. Errors name the field.
    public func validate(selfAddress: IPAddress, kinds: Set<KindID>) throws(InputError) {
        let src = "run request"
        guard let id = Hex.decode(runID), id.count == 16 else {
            throw InputError(source: src, "field `runID`: expected 32 hex digits")
        }
        guard nodes.count <= RunRequest.maximumNodes else {
            throw InputError(source: src, "field `nodes`: \(nodes.count) nodes, more than the limit of \(RunRequest.maximumNodes)")
        }
        guard RunRequest.timeoutRangeMs.contains(timeoutMs) else {
            throw InputError(source: src, "field `timeoutMs`: \(timeoutMs) is outside \(RunRequest.timeoutRangeMs)")
        }
        guard RunRequest.attemptsRange.contains(attempts) else {
            throw InputError(source: src, "field `attempts`: \(attempts) is outside \(RunRequest.attemptsRange)")
        }
        let addresses = Set(nodes.map(\.address))
        guard addresses.contains(selfAddress) else {
            throw InputError(source: src, "field `nodes`: this agent's address \(selfAddress) is not in the node list")
        }
        guard probes.count <= nodes.count * max(1, kinds.count) else {
            throw InputError(source: src, "field `probes`: \(probes.count) probes, more than one per node and kind")
        }
        var seen = Set<ProbeKeyPair>()
        for (i, p) in probes.enumerated() {
            guard addresses.contains(p.target) else {
                throw InputError(source: src, "field `probes[\(i)].target`: \(p.target) is not in the signed node list; refused")
            }
            guard p.target != selfAddress else {
                throw InputError(source: src, "field `probes[\(i)].target`: \(p.target) is this agent itself")
            }
            if let t = p.timeoutMs, !RunRequest.timeoutRangeMs.contains(t) || t > timeoutMs {
                throw InputError(source: src, "field `probes[\(i)].timeoutMs`: \(t) is outside \(RunRequest.timeoutRangeMs.lowerBound)...\(timeoutMs) (the request's timeoutMs)")
            }
            guard kinds.contains(p.kind) else {
                throw InputError(source: src, "field `probes[\(i)].kind`: \(p.kind) is not in this agent's profile; refused")
            }
            guard seen.insert(ProbeKeyPair(target: p.target, kind: p.kind)).inserted else {
                throw InputError(source: src, "field `probes[\(i)]`: \(p.kind) to \(p.target) is listed twice")
            }
        }
    }
}

struct ProbeKeyPair: Hashable {
    var target: IPAddress
    var kind: KindID
}

public struct ProbeReport: Codable, Sendable, Equatable {
    public var target: IPAddress
    public var kind: KindID
    public var evidence: SenderEvidence
    public init(target: IPAddress, kind: KindID, evidence: SenderEvidence) {
        self.target = target
        self.kind = kind
        self.evidence = evidence
    }
}

public struct RunResponse: Codable, Sendable, Equatable {
    public var runID: String
    public var results: [ProbeReport]
    public init(runID: String, results: [ProbeReport]) {
        self.runID = runID
        self.results = results
    }
}

public struct LogRequest: Codable, Sendable {
    public var runID: String
    public init(runID: String) { self.runID = runID }
}

/// One authenticated probe an agent received.
public struct ReceiveLogEntry: Codable, Sendable, Equatable, Timestamped {
    public var nonce: String
    public var runID: String
    public var kind: KindID
    /// The sender address the probe names (signed).
    public var claimedSender: IPAddress
    /// The address it actually arrived from.
    public var sourceAddress: IPAddress
    public var sourcePort: Int
    public var timeMs: Int64
    /// Whether the agent's answer left it without error.
    public var answered: Bool

    public init(nonce: String, runID: String, kind: KindID, claimedSender: IPAddress, sourceAddress: IPAddress,
                sourcePort: Int, timeMs: Int64, answered: Bool) {
        self.nonce = nonce
        self.runID = runID
        self.kind = kind
        self.claimedSender = claimedSender
        self.sourceAddress = sourceAddress
        self.sourcePort = sourcePort
        self.timeMs = timeMs
        self.answered = answered
    }
}

public struct LogResponse: Codable, Sendable, Equatable {
    public var runID: String
    public var entries: [ReceiveLogEntry]
    /// True when the bounded log dropped older entries of this run.
    public var truncated: Bool
    /// What the capture taps saw of probes and answers since this run began on the agent.
    public var capture: [CaptureRecord]
    /// Packets the taps lost since the run began (kernel ring full, interface drops, records overwritten):
    /// when non-zero, "the tap did not see it" proves nothing.
    public var captureLost: Int
    /// Answers to this agent's own silent probes of the run that its interface tap saw arrive.
    public var missedAnswers: [MissedAnswer]

    public init(runID: String, entries: [ReceiveLogEntry], truncated: Bool, capture: [CaptureRecord] = [], captureLost: Int = 0,
                missedAnswers: [MissedAnswer] = []) {
        self.runID = runID
        self.entries = entries
        self.truncated = truncated
        self.capture = capture
        self.captureLost = captureLost
        self.missedAnswers = missedAnswers
    }

    enum CodingKeys: String, CodingKey { case runID, entries, truncated, capture, captureLost, missedAnswers }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        runID = try c.decode(String.self, forKey: .runID)
        entries = try c.decode([ReceiveLogEntry].self, forKey: .entries)
        truncated = try c.decode(Bool.self, forKey: .truncated)
        capture = try c.decodeIfPresent([CaptureRecord].self, forKey: .capture) ?? []
        captureLost = try c.decodeIfPresent(Int.self, forKey: .captureLost) ?? 0
        missedAnswers = try c.decodeIfPresent([MissedAnswer].self, forKey: .missedAnswers) ?? []
    }
}

public struct ErrorResponse: Codable, Sendable {
    public var error: String
    public init(error: String) { self.error = error }
}

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
    public static func sign(key: SymmetricKey, method: String, path: String, body: [UInt8], timeMs: UInt64,
                            nonce: [UInt8] = randomBytes(16)) -> (header: String, nonce: String) {
        let n = Hex.encode(nonce)
        let mac = requestMAC(key: key, method: method, path: path, timeMs: timeMs, nonce: n, body: body)
        return ("\(scheme) ts=\(timeMs),nonce=\(n),mac=\(mac)", n)
    }

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case missing, malformed(String), badMAC, stale, future, replayed, busy
        public var description: String {
            switch self {
            case .missing: return "missing Authorization header"
            case .malformed(let why): return "malformed Authorization header: \(why)"
            case .badMAC: return "authentication failed: signature does not match (different token?)"
            case .stale: return "authentication failed: request is too old (clock skew or replay)"
            case .future: return "authentication failed: request is from the future (clock skew)"
            case .replayed: return "authentication failed: request was already used (replay)"
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
    public static func verify(header: String?, key: SymmetricKey, method: String, path: String, body: [UInt8],
                              now: UInt64, guard replay: inout ReplayGuard) -> Result<String, Failure> {
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
/// makes one system call per byte drawn this way: 128 per probe of eight tries, 12 % of an agent's CPU).
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

/// JSON as the wire and the results file use it: stable key order, ISO dates.
public enum WireJSON {
    public static func encoder(pretty: Bool = false) -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return e
    }

    /// The wire bytes of a value: its own writer when it has one (`FastWireEncodable`), else Foundation's.
    public static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        if let fast = value as? any FastWireEncodable { return fast.wireJSON() }
        return Array(try encoder().encode(value))
    }

    /// Decodes, turning Foundation's error into one line naming the field.
    public static func decode<T: Decodable>(_ type: T.Type, from data: [UInt8], source: String) throws(InputError) -> T {
        if let fast = type as? any FastWireDecodable.Type, let value = try? fast.init(wireJSON: data) as? T { return value }
        do {
            return try JSONDecoder().decode(type, from: Data(data))
        } catch let DecodingError.keyNotFound(key, ctx) {
            throw InputError(source: source, "field `\(path(ctx.codingPath + [key]))` is missing")
        } catch let DecodingError.typeMismatch(_, ctx), let DecodingError.valueNotFound(_, ctx) {
            throw InputError(source: source, "field `\(path(ctx.codingPath))` has the wrong type")
        } catch let DecodingError.dataCorrupted(ctx) {
            let at = ctx.codingPath.isEmpty ? "" : "field `\(path(ctx.codingPath))`: "
            throw InputError(source: source, "\(at)\(ctx.debugDescription)")
        } catch {
            throw InputError(source: source, "not valid JSON")
        }
    }

    static func path(_ keys: [any CodingKey]) -> String {
        keys.map { k in k.intValue.map { "[\($0)]" } ?? ".\(k.stringValue)" }.joined().trimmingCharacters(in: CharacterSet(charactersIn: "."))
    }
}
