import NIOCore
import NIOPosix
import SwarmProbeAgent
import SwarmProbeCore

/// Probe listeners for many addresses in one process, each address answering exactly as an agent
/// there would (its own responder: authentication, addressing, replay window, rate limit), but with no
/// control endpoint, capture or prober. It exists to measure one real agent probing a thousand peers
/// (`swarmprobe-bench fanout`) without running a thousand agents.
public final class ProbeFarm: Sendable {
    private let channels: [any Channel]
    private let responders: [Responder]

    private init(channels: [any Channel], responders: [Responder]) {
        self.channels = channels
        self.responders = responders
    }

    /// Binds every UDP and TCP kind of `profile` on every address (ESP is left out: one raw socket per
    /// host sees every address's ESP).
    public static func start(
        addresses: [IPAddress], profile: Profile, token: ClusterToken,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> ProbeFarm {
        var channels: [any Channel] = []
        var responders: [Responder] = []
        do {
            for address in addresses {
                let responder = Responder(address: address, token: token)
                responders.append(responder)
                for kind in profile.enabledKinds where kind.proto != .esp {
                    channels.append(try await ProbeListener.open(kind, address: address, responder: responder, group: group, maxConnections: 64))
                }
            }
        } catch {
            for ch in channels { try? await ch.close() }
            throw error
        }
        return ProbeFarm(channels: channels, responders: responders)
    }

    /// Probes answered across every address so far.
    public var answered: Int { responders.reduce(0) { $0 + $1.answeredCount } }
    public var listenerCount: Int { channels.count }

    public func stop() async {
        for ch in channels { try? await ch.close() }
    }
}
