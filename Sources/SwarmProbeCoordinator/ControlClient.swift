import AsyncHTTPClient
import Foundation
import NIOCore
import NIOPosix
import SwarmProbeCore

/// Why an agent could not be used, in words for the report.
public struct AgentCallError: Error, Sendable, CustomStringConvertible {
    public var health: AgentHealth
    public var description: String { health.detail ?? health.status.rawValue }
}

/// Calls one agent's signed control API and checks the signature on its answers.
struct ControlClient: Sendable {
    let http: HTTPClient
    let token: ClusterToken

    /// A request encoded and ready to leave: encoding is the costly part of a call (a plan of a thousand
    /// peers is 4,000 probe orders), so a phase can encode every request before it sends the first.
    struct Prepared: Sendable {
        var node: Node
        var path: String
        var body: [UInt8]
    }

    func prepare<Request: Encodable>(_ node: Node, path: String, _ request: Request) throws(AgentCallError) -> Prepared {
        do { return Prepared(node: node, path: path, body: try WireJSON.encode(request)) } catch {
            throw AgentCallError(health: AgentHealth(.down, "cannot encode request: \(error)"))
        }
    }

    func call<Request: Encodable, Response: Decodable>(
        _ node: Node, path: String, _ request: Request, as: Response.Type, timeout: TimeAmount
    ) async throws(AgentCallError) -> Response {
        try await call(try prepare(node, path: path, request), as: Response.self, timeout: timeout)
    }

    /// Signs (now: the signature carries the time) and sends a prepared request; checks the answer's signature.
    func call<Response: Decodable>(_ prepared: Prepared, as: Response.Type, timeout: TimeAmount) async throws(AgentCallError) -> Response {
        let node = prepared.node, path = prepared.path, body = prepared.body
        let endpoint = node.control
        let where_ = "\(endpoint)"
        let signed = ControlAuth.sign(key: token.controlKey, method: "POST", path: path, body: body, timeMs: nowMs())
        var req = HTTPClientRequest(url: "http://\(where_)\(path)")
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
            throw AgentCallError(health: AgentHealth(.down, ControlClient.describe(error, endpoint: where_, timeout: timeout)))
        }
        let status = Int(response.status.code)
        let signedOK = ControlAuth.verifyResponse(key: token.controlKey, requestNonce: signed.nonce, status: status, body: bytes,
                                                  mac: response.headers.first(name: ControlAuth.responseHeader))
        let message = (try? JSONDecoder().decode(ErrorResponse.self, from: Data(bytes)))?.error
        if status == 401 {
            throw AgentCallError(health: AgentHealth(.authFailed, "authentication failed for node \(node.name): the agent at \(where_) refused our signature (\(message ?? "401")); is it using the same token file?"))
        }
        guard signedOK else {
            throw AgentCallError(health: AgentHealth(.authFailed, "authentication failed for node \(node.name): the answer from \(where_) is not signed with our token (status \(status)); is it a swarmprobe agent with the same token file?"))
        }
        guard status == 200 else {
            throw AgentCallError(health: AgentHealth(.down, "the agent at \(where_) refused \(path) with \(status): \(message ?? "no detail")"))
        }
        do {
            return try WireJSON.decode(Response.self, from: bytes, source: "answer from \(where_)\(path)")
        } catch {
            throw AgentCallError(health: AgentHealth(.down, "\(error)"))
        }
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
        if let io = error as? IOError {
            if io.errnoCode == ECONNREFUSED { return "connection refused at \(endpoint): is the agent running there?" }
            return "\(endpoint): \(String(cString: strerror(io.errnoCode)))"
        }
        if let c = error as? NIOConnectionError, let first = c.connectionErrors.first {
            if let io = first.error as? IOError {
                if io.errnoCode == ECONNREFUSED { return "connection refused at \(endpoint): is the agent running there?" }
                return "\(endpoint): \(String(cString: strerror(io.errnoCode)))"
            }
            return "\(endpoint): \(first.error)"
        }
        let text = "\(error)"
        if text.contains("connectTimeout") { return "no connection to \(endpoint) within \(secs) s (host down or port filtered?)" }
        if text.contains("Connection refused") || text.contains("connectionRefused") {
            return "connection refused at \(endpoint): is the agent running there?"
        }
        return "\(endpoint): \(text)"
    }
}
