import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import SwarmProbeAgent
import SwarmProbeCore
import Testing

@testable import SwarmProbeCoordinator

/// An agent and a coordinator of different control protocols: the agent is reported as such (not down, not
/// blocked), with one line naming both versions and which to upgrade. Real agents on loopback addresses of
/// their own (no root, no capture).
@Suite("control protocol versions", .serialized)
struct ProtocolVersionTests {
    static let token = try! ClusterToken.parse(String(repeating: "5a", count: 32), source: "test")

    static func inventory(_ nodes: [(String, IPAddress)]) -> Inventory {
        Inventory(nodes: nodes.enumerated().map { i, n in Node(name: n.0, address: n.1, role: i == 0 ? .manager : .worker) })
    }

    /// Runs real agents on `addresses` for as long as `body` runs.
    static func withAgents<T>(_ addresses: [IPAddress], _ body: () async throws -> T) async throws -> T {
        var logger = Logger(label: "test.agent")
        logger.logLevel = .critical
        let (ready, readyContinuation) = AsyncStream.makeStream(of: Int.self)
        var tasks: [Task<Void, any Error>] = []
        for address in addresses {
            var cfg = AgentConfiguration(address: address, profile: DefaultProfile.load(), token: token)
            cfg.capture = false
            let agent = Agent(configuration: cfg, logger: logger) { _, port in readyContinuation.yield(port) }
            tasks.append(Task { try await agent.run() })
        }
        defer { for t in tasks { t.cancel() } }
        var started = 0
        for await _ in ready {
            started += 1
            if started == addresses.count { break }
        }
        let value = try await body()
        for t in tasks {
            t.cancel()
            _ = try? await t.value
        }
        return value
    }

    @Test(
        "a coordinator speaking another protocol: every agent incompatible, the line names both versions, checks inconclusive",
        arguments: [1, ControlProtocol.version + 1])
    func coordinatorOfAnotherVersion(version: Int) async throws {
        let a = IPAddress.v4(127, 0, 0, 41), b = IPAddress.v4(127, 0, 0, 42)
        let results = try await Self.withAgents([a, b]) {
            // A generous control timeout: the test is about the version refusal, and a loaded machine must not turn it into a timeout.
            var options = CheckOptions(timeout: .fixed(ms: 300), controlTimeoutMs: 10_000)
            options.protocolVersion = version
            let coordinator = Coordinator(
                inventory: Self.inventory([("m1", a), ("w1", b)]), profile: DefaultProfile.load(),
                token: Self.token, options: options)
            return await coordinator.run()
        }
        // Worded by the agent, which refuses the hello: its version first, then the coordinator's.
        let upgrade = version < ControlProtocol.version ? "upgrade the coordinator (swarmprobe where the check runs)" : "upgrade the agent"
        for n in results.nodes {
            #expect(n.agent.status == .incompatible)
            #expect(
                n.agent.detail
                    == "the agent at \(n.address):7950 speaks control protocol \(ControlProtocol.version) (swarmprobe \(SwarmProbeVersion.current)), "
                    + "this coordinator protocol \(version) (swarmprobe \(SwarmProbeVersion.current)): \(upgrade)", "\(n.agent.detail ?? "")")
        }
        #expect(!results.checks.isEmpty)
        for c in results.checks {
            #expect(c.verdict == .inconclusive && c.reason == .agentIncompatible, "\(c.from) -> \(c.to): \(c.verdict) \(c.reason)")
            #expect(c.detail.contains("speaks control protocol") && !c.detail.contains("\n"))
        }
        #expect(results.summary.agentDown == 0 && results.summary.blocked == 0)
    }

    @Test("an agent from before protocol versions (a camelCase hello, no version): incompatible, upgrade the agent")
    func agentFromBeforeVersions() async throws {
        let old = try await OldAgent.start(address: .v4(127, 0, 0, 43), token: Self.token)
        let current = IPAddress.v4(127, 0, 0, 44)
        let results = try await Self.withAgents([current]) {
            let coordinator = Coordinator(
                inventory: Self.inventory([("m1", current), ("old", old.address)]), profile: DefaultProfile.load(),
                token: Self.token, options: CheckOptions(timeout: .fixed(ms: 300), controlTimeoutMs: 10_000))
            return await coordinator.run()
        }
        try await old.stop()
        let node = try #require(results.nodes.first { $0.name == "old" })
        #expect(node.agent.status == .incompatible)
        #expect(
            node.agent.detail == "the agent at 127.0.0.43:7950 speaks control protocol 1 (swarmprobe 0.1.0), this coordinator protocol "
                + "\(ControlProtocol.version) (swarmprobe \(SwarmProbeVersion.current)): upgrade the agent")
        #expect(results.nodes.first { $0.name == "m1" }?.agent.status == .up)
        for c in results.checks {
            #expect(c.verdict == .inconclusive && c.reason == .agentIncompatible, "\(c.from) -> \(c.to): \(c.verdict) \(c.reason)")
        }
    }
}

/// What a swarmprobe 0.1 agent answers to a hello: its camelCase keys and no protocol version, signed with
/// the token as every agent signs.
final class OldAgent: Sendable {
    let address: IPAddress
    private let channel: any Channel

    private init(address: IPAddress, channel: any Channel) {
        self.address = address
        self.channel = channel
    }

    static func start(address: IPAddress, token: ClusterToken) async throws -> OldAgent {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Handler(token: token, address: address))
                }
            }
            .bind(host: address.description, port: Defaults.controlPort).get()
        return OldAgent(address: address, channel: channel)
    }

    func stop() async throws { try await channel.close() }

    final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let token: ClusterToken
        let address: IPAddress
        var authorization: String?

        init(token: ClusterToken, address: IPAddress) {
            self.token = token
            self.address = address
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head): authorization = head.headers.first(name: "authorization")
            case .body: break
            case .end:
                // The request's nonce signs the answer; the old agent checked the request as the new one does.
                let nonce = authorization?.split(separator: ",").first { $0.hasPrefix("nonce=") }.map { String($0.dropFirst(6)) } ?? ""
                let body = Array(
                    #"{"address":"\#(address)","agentVersion":"0.1.0","listeners":[],"profile":"swarm","taps":[],"timeMs":\#(nowMs())}"#.utf8)
                var headers = HTTPHeaders()
                headers.add(name: "content-length", value: String(body.count))
                headers.add(
                    name: ControlAuth.responseHeader,
                    value: ControlAuth.responseMAC(key: token.controlKey, requestNonce: nonce, status: 200, body: body))
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}
