import AsyncHTTPClient
import Foundation
import NIOCore
import SwarmProbeCore

/// One request to the Docker Engine API over its unix socket or TCP, as discovery and `check --swarm` make them.
/// Failures to reach the engine are one `InputError` line naming where the endpoint came from.
public enum DockerEngine {
    /// `method path` with an optional JSON body; returns the status and the body, whatever the status.
    public static func request(
        _ endpoint: DockerDiscovery.Endpoint, _ method: String, _ path: String, json body: [UInt8]? = nil
    ) async throws(InputError) -> (status: Int, body: [UInt8]) {
        let url: String
        switch endpoint.kind {
        case let .unix(socket):
            try DockerDiscovery.checkSocket(socket, source: endpoint.source)
            guard let u = URL(httpURLWithSocketPath: socket, uri: path) else {
                throw InputError(source: endpoint.source, "cannot make a URL for the socket \(socket)")
            }
            url = u.absoluteString
        case let .http(base):
            url = base + path
        }
        let http = HTTPClient(
            eventLoopGroupProvider: .singleton,
            configuration: .init(timeout: .init(connect: .seconds(5), read: .seconds(20))))
        let result: Result<(status: Int, body: [UInt8]), any Error>
        do {
            var req = HTTPClientRequest(url: url)
            req.method = .init(rawValue: method)
            req.headers.add(name: "accept", value: "application/json")
            req.headers.add(name: "user-agent", value: "swarmprobe")
            if let body {
                req.headers.add(name: "content-type", value: "application/json")
                req.body = .bytes(ByteBuffer(bytes: body))
            }
            // Over a unix socket the URL's host is the socket path; dockerd (Go) wants a Host header.
            if case .unix = endpoint.kind { req.headers.replaceOrAdd(name: "host", value: "docker") }
            let response = try await http.execute(req, timeout: .seconds(30))
            var buffer = try await response.body.collect(upTo: 32 << 20)
            result = .success((Int(response.status.code), buffer.readBytes(length: buffer.readableBytes) ?? []))
        } catch {
            result = .failure(error)
        }
        try? await http.shutdown()
        switch result {
        case let .success(answer): return answer
        case let .failure(error): throw InputError(source: endpoint.source, DockerDiscovery.describe(error, where: endpoint.description))
        }
    }
}
