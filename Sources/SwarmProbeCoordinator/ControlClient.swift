import AsyncHTTPClient
import Foundation
import NIOCore
import NIOPosix
import SwarmProbeCore

/// Why an agent could not be used, in words for the report.
public struct AgentCallError: Error, Sendable, CustomStringConvertible {
    public var health: AgentHealth
    /// The agent's clock minus this host's, when it refused the request for its time; and the least it can be
    /// (`ClockOffset.sure`).
    public var clockOffsetMs: Int?
    public var clockOffsetSureMs: Int?
    public var description: String { health.detail ?? health.status.rawValue }

    init(health: AgentHealth, clockOffsetMs: Int? = nil, clockOffsetSureMs: Int? = nil) {
        self.health = health
        self.clockOffsetMs = clockOffsetMs
        self.clockOffsetSureMs = clockOffsetSureMs
    }
}

/// Calls one agent's signed control API and checks the signature on its answers.
struct ControlClient: Sendable {
    let http: HTTPClient
    let token: ClusterToken
    /// The control protocol this coordinator speaks (another only in tests).
    var protocolVersion = ControlProtocol.version

    /// A request encoded and ready to leave: encoding is the costly part of a call (a plan of a thousand
    /// peers is 4,000 probe orders), so a phase can encode every request before it sends the first.
    struct Prepared: Sendable {
        var node: Node
        var path: String
        var body: [UInt8]
    }

    /// An answer whose signature checked out.
    struct Answer {
        var status: Int
        var body: [UInt8]
        var endpoint: String
    }

    func prepare(_ node: Node, path: String, _ request: some WireMessage) -> Prepared {
        Prepared(node: node, path: path, body: WireCodec.encode(request))
    }

    /// The agent's hello, if it speaks this coordinator's protocol; `.incompatible` naming both versions if not.
    /// `peers`: the nodes' addresses, toward which the agent reads its kernel's source address.
    func hello(_ node: Node, peers: [IPAddress] = [], timeout: TimeAmount) async throws(AgentCallError) -> HelloResponse {
        let request = HelloRequest(protocolVersion: protocolVersion, peers: peers)
        let answer = try await send(prepare(node, path: ControlPath.hello, request), timeout: timeout)
        func incompatible(_ agent: Int, _ agentVersion: String?) -> AgentCallError {
            AgentCallError(
                health: AgentHealth(
                    .incompatible,
                    ControlProtocol.mismatch(
                        agent: agent, agentVersion: agentVersion, coordinator: protocolVersion, coordinatorVersion: SwarmProbeVersion.current,
                        endpoint: answer.endpoint)))
        }
        // The agent refused our version, and said why in its own words (they name both versions).
        if answer.status == 409, let e = try? WireCodec.decode(ErrorResponse.self, from: answer.body, source: ""),
            let agent = e.protocolVersion, agent != protocolVersion
        {
            throw AgentCallError(health: AgentHealth(.incompatible, e.error))
        }
        // An agent of another version may not even be read as a hello of this one: its versions come first.
        if answer.status == 200, let v = HelloResponse.versions(of: answer.body), v.protocolVersion != protocolVersion {
            throw incompatible(v.protocolVersion, v.agentVersion)
        }
        return try decode(HelloResponse.self, answer, path: ControlPath.hello)
    }

    func call<Response: WireMessage>(
        _ node: Node, path: String, _ request: some WireMessage, as: Response.Type,
        timeout: TimeAmount
    ) async throws(AgentCallError) -> Response {
        try await call(prepare(node, path: path, request), as: Response.self, timeout: timeout)
    }

    func call<Response: WireMessage>(_ prepared: Prepared, as: Response.Type, timeout: TimeAmount) async throws(AgentCallError) -> Response {
        try decode(Response.self, try await send(prepared, timeout: timeout), path: prepared.path)
    }

    /// The answer of a 200, or the agent's refusal as the reason it cannot be used.
    private func decode<Response: WireMessage>(_: Response.Type, _ answer: Answer, path: String) throws(AgentCallError) -> Response {
        guard answer.status == 200 else {
            let message = (try? WireCodec.decode(ErrorResponse.self, from: answer.body, source: ""))?.error ?? "no reason given"
            throw AgentCallError(health: AgentHealth(.down, "\(answer.endpoint) refused \(path) with HTTP \(answer.status): \(message)"))
        }
        do {
            return try WireCodec.decode(Response.self, from: answer.body, source: "answer from \(answer.endpoint)\(path)")
        } catch {
            throw AgentCallError(health: AgentHealth(.down, error.description))
        }
    }

    /// Signs (now: the signature carries the time) and sends a prepared request; checks the answer's signature.
    private func send(_ prepared: Prepared, timeout: TimeAmount) async throws(AgentCallError) -> Answer {
        let path = prepared.path, body = prepared.body
        let endpoint = "\(prepared.node.control)"
        let sentMs = nowMs()
        let signed = ControlAuth.sign(key: token.controlKey, method: "POST", path: path, body: body, timeMs: sentMs)
        var req = HTTPClientRequest(url: "http://\(endpoint)\(path)")
        req.method = .POST
        req.headers.add(name: "authorization", value: signed.header)
        req.headers.add(name: "content-type", value: "application/json")
        req.body = .bytes(ByteBuffer(bytes: body))

        let response: HTTPClientResponse
        let bytes: [UInt8]
        do {
            response = try await http.execute(req, timeout: timeout)
            var buffer = try await response.body.collect(upTo: 64 << 20)
            bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
        } catch {
            throw AgentCallError(health: AgentHealth(.down, ControlClient.describe(error, endpoint: endpoint, timeout: timeout)))
        }
        let status = Int(response.status.code)
        if status == 401 {
            let refusal = try? WireCodec.decode(ErrorResponse.self, from: bytes, source: "")
            // Refused for its time: the agent's clock came with the refusal, so say by how much the clocks differ.
            if let agentMs = refusal?.timeMs {
                let receivedMs = nowMs()
                let offset = Int(agentMs) - Int((sentMs + receivedMs) / 2)
                throw AgentCallError(
                    health: AgentHealth(
                        .authFailed,
                        "its clock is \(ClockOffset.words(offset)) this host's, outside the 60 s a signed request may be off by (at \(endpoint)); sync both with NTP (chrony)"
                    ), clockOffsetMs: offset,
                    clockOffsetSureMs: ClockOffset.sure(agentMs: Int(agentMs), sentMs: Int(sentMs), receivedMs: Int(receivedMs)))
            }
            throw AgentCallError(health: AgentHealth(.authFailed, "\(refusal?.error ?? "no reason given") (at \(endpoint))"))
        }
        guard
            ControlAuth.verifyResponse(
                key: token.controlKey, requestNonce: signed.nonce, status: status, body: bytes,
                mac: response.headers.first(name: ControlAuth.responseHeader))
        else {
            throw AgentCallError(health: AgentHealth(.authFailed, "the answer from \(endpoint) is not signed with our token (HTTP \(status))"))
        }
        return Answer(status: status, body: bytes, endpoint: endpoint)
    }

    static func describe(_ error: any Error, endpoint: String, timeout: TimeAmount) -> String {
        let secs = Double(timeout.nanoseconds) / 1e9
        if let e = error as? HTTPClientError {
            switch e {
            case .connectTimeout: return "no connection to \(endpoint) within \(secs) s (host down or port filtered?)"
            case .deadlineExceeded, .readTimeout: return "no answer from \(endpoint) within \(secs) s"
            case .remoteConnectionClosed: return "\(endpoint) closed the connection (the agent stopped?)"
            default: return "\(endpoint): \(e)"
            }
        }
        var io = error as? IOError
        if let c = error as? NIOConnectionError, let first = c.connectionErrors.first {
            guard let inner = first.error as? IOError else { return "\(endpoint): \(first.error)" }
            io = inner
        }
        if let io {
            if io.errnoCode == ECONNREFUSED { return "connection refused at \(endpoint): is the agent running there?" }
            return "\(endpoint): \(String(cString: strerror(io.errnoCode)))"
        }
        let text = "\(error)"
        if text.contains("connectTimeout") { return "no connection to \(endpoint) within \(secs) s (host down or port filtered?)" }
        if text.contains("Connection refused") || text.contains("connectionRefused") {
            return "connection refused at \(endpoint): is the agent running there?"
        }
        return "\(endpoint): \(text)"
    }
}
