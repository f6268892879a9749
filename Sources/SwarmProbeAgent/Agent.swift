import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import SwarmProbeCore

public struct AgentConfiguration: Sendable {
    public var address: IPAddress
    public var controlPort: Int
    public var profile: Profile
    public var token: ClusterToken
    /// Open TCP connections per listener before new ones are refused.
    public var maxConnectionsPerListener: Int = 256
    /// Open the capture taps (interface and nflog); off, silent drops get `where: unknown`.
    public var capture: Bool = true

    public init(address: IPAddress, controlPort: Int = Defaults.controlPort, profile: Profile, token: ClusterToken) {
        self.address = address
        self.controlPort = controlPort
        self.profile = profile
        self.token = token
    }
}

public struct AgentStartupError: Error, CustomStringConvertible {
    public var description: String
}

/// An agent: probe listeners on the profile's ports, an ESP raw socket when it may,
/// and the signed control endpoint. Runs until graceful shutdown (SIGTERM/SIGINT).
public final class Agent: Service, Sendable {
    public let configuration: AgentConfiguration
    private let logger: Logger
    private let group: MultiThreadedEventLoopGroup
    private let listenerStates = NIOLockedValueBox<[ListenerState]>([])
    /// Called once everything is bound, with the listener states (the CLI prints the ready line).
    private let onReady: @Sendable ([ListenerState], Int) -> Void

    public init(
        configuration: AgentConfiguration, logger: Logger,
        onReady: @escaping @Sendable ([ListenerState], Int) -> Void = { _, _ in }
    ) {
        self.configuration = configuration
        self.logger = logger
        self.group = MultiThreadedEventLoopGroup.singleton
        self.onReady = onReady
    }

    public var listeners: [ListenerState] { listenerStates.withLockedValue { $0 } }

    public func run() async throws {
        let cfg = configuration
        let responder = Responder(address: cfg.address, token: cfg.token)
        var channels: [any Channel] = []
        var portChannels: [KindID: any Channel] = [:]
        var states: [ListenerState] = []
        var esp: ESPSocket?
        // Taps first: whether a port someone else holds can be observed depends on them.
        let taps: CaptureTaps? =
            cfg.capture
            ? CaptureTaps.start(address: cfg.address, profile: cfg.profile, token: cfg.token, group: cfg.controlPort, logger: logger)
            : nil
        defer { taps?.stop() }

        for kind in cfg.profile.enabledKinds {
            let id = kind.kindID
            if kind.observeOnly {
                states.append(
                    taps?.interfaceActive == true
                        ? ListenerState(kind: id, mode: .observing, detail: "a live service's published port: watched, never bound")
                        : ListenerState(kind: id, mode: .unavailable, detail: "a live service's published port, and no capture tap to watch it"))
                continue
            }
            do {
                switch kind.proto {
                case .udp, .tcp:
                    let ch = try await ProbeListener.open(
                        kind, address: cfg.address, responder: responder, group: group,
                        maxConnections: cfg.maxConnectionsPerListener)
                    channels.append(ch)
                    portChannels[id] = ch
                case .esp:
                    let socket = try await ESPSocket.open(group: group, address: cfg.address, responder: responder, token: cfg.token)
                    esp = socket
                    channels.append(socket.channel)
                }
                states.append(ListenerState(kind: id, mode: .listening))
            } catch {
                let why = Agent.describeBindError(error, kind: kind)
                if Agent.isInUse(error), kind.proto != .esp, taps?.interfaceActive == true {
                    // Live mode: dockerd or the kernel holds it; never bind beside it, watch it instead.
                    logger.info("\(id): held by another program; observing it through capture")
                    states.append(ListenerState(kind: id, mode: .observing, detail: "held by another program (dockerd? the kernel's VXLAN socket?)"))
                } else {
                    logger.warning("\(id): not listening: \(why)")
                    states.append(ListenerState(kind: id, mode: .unavailable, detail: why))
                }
            }
        }
        // Live mode: another program holds some swarm ports, so this node runs a live swarm. A port nobody
        // holds there is genuinely closed (2377 on a worker); holding it ourselves would hide that. Which
        // ports are held is asked again at every hello (the kernel's VXLAN socket comes and goes).
        let live = states.contains { $0.mode == .observing || Agent.isInUseDetail($0.detail) }
        if live {
            // A published port is the exception: before its service exists the agent stands in for it.
            let published = Set(cfg.profile.enabledKinds.filter(\.published).map(\.kindID))
            for (i, s) in states.enumerated() where s.mode == .listening && !published.contains(s.kind) {
                guard let ch = portChannels[s.kind] else { continue }
                try? await ch.close()
                channels.removeAll { $0 === ch }
                states[i] = ListenerState(kind: s.kind, mode: .closed, detail: Agent.leftClosed)
                logger.info("\(s.kind): live swarm node and nobody holds it: left closed")
            }
        }
        listenerStates.withLockedValue { $0 = states }
        let canObserve = taps?.interfaceActive == true
        let watchedOnly = Set(cfg.profile.enabledKinds.filter(\.observeOnly).map(\.kindID))
        let currentListeners: @Sendable () -> [ListenerState] = { [listenerStates] in
            let states = listenerStates.withLockedValue { $0 }
            guard live else { return states }
            return states.map { s in
                guard s.mode != .listening, s.kind.proto != .esp, !watchedOnly.contains(s.kind) else { return s }
                if PortOwners.isHeld(s.kind) {
                    return canObserve
                        ? ListenerState(kind: s.kind, mode: .observing, detail: "held by another program (dockerd? the kernel's VXLAN socket?)")
                        : ListenerState(kind: s.kind, mode: .unavailable, detail: "held by another program, and no capture tap to observe it")
                }
                return ListenerState(kind: s.kind, mode: .closed, detail: Agent.leftClosed)
            }
        }

        let files = Agent.raiseOpenFileLimit()
        logger.debug("open-file limit: \(files)")
        let prober = Prober(
            group: group, address: cfg.address, token: cfg.token, esp: esp, framedKinds: cfg.profile.framedKinds,
            concurrency: max(64, min(1024, (files - 256) / 4)))
        let service = ControlService(
            address: cfg.address, controlPort: cfg.controlPort, profile: cfg.profile, token: cfg.token,
            listeners: currentListeners,
            taps: taps, responder: responder, prober: prober, logger: logger,
            hostFacts: { await HostFactsReader.readOffThread(address: cfg.address, peers: $0) }
        )
        // An address on none of this host's interfaces binds nothing (EADDRNOTAVAIL): the agent still serves its
        // control endpoint, on every address, so a coordinator reaching the node (its `control` address, NAT) hears
        // why in the hello (`host.addresses`) rather than finding no agent.
        let held = SourceAddress.isLocal(cfg.address)
        let controlAddress = held ? cfg.address : (cfg.address.isIPv4 ? IPAddress.v4(0, 0, 0, 0) : IPAddress("::")!)
        if !held {
            logger.warning("\(cfg.address) is on none of this host's interfaces: listening for the coordinator on \(controlAddress) only")
        }
        let control: any Channel
        let connections = ControlConnections(limit: 128)
        do {
            control = try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(connections)
                    }
                }
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        // Our own handler answers malformed HTTP with a one-line JSON error (not NIO's empty 400).
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: false)
                        try channel.pipeline.syncOperations.addHandler(ControlHTTPHandler(service: service, tracker: connections))
                    }
                }
                .bind(to: controlAddress.socketAddress(port: cfg.controlPort)).get()
        } catch {
            for ch in channels { try? await ch.close() }
            throw AgentStartupError(
                description: "cannot open the control endpoint on \(controlAddress):\(cfg.controlPort): \(Agent.describeBindError(error, kind: nil))")
        }
        channels.append(control)
        onReady(states, control.localAddress?.port ?? cfg.controlPort)

        // Serve until SIGTERM/SIGINT (graceful shutdown) or cancellation, then close everything.
        try? await gracefulShutdown()
        logger.info("shutting down")
        for ch in channels.reversed() { try? await ch.close() }
    }

    static let leftClosed = "nothing holds it on this live swarm node; the agent leaves it closed"

    static func isInUseDetail(_ detail: String?) -> Bool {
        detail?.hasPrefix("address in use") ?? false
    }

    static func isInUse(_ error: any Error) -> Bool {
        (error as? IOError)?.errnoCode == EADDRINUSE
    }

    /// A plan for a thousand peers keeps a few thousand sockets open at once (one per probe in flight,
    /// more while TCP tries overlap); the usual soft limit of 1,024 would fail them. Raises the soft
    /// limit to the hard one (at most 65,536) and returns the limit in force.
    public static func raiseOpenFileLimit() -> Int {
        var lim = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &lim) == 0 else { return 1024 }
        let want = min(lim.rlim_max, 65_536)
        if lim.rlim_cur < want {
            var raised = lim
            raised.rlim_cur = want
            if setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &raised) == 0 { lim = raised }
        }
        return Int(min(lim.rlim_cur, 1 << 20))
    }

    static func describeBindError(_ error: any Error, kind: TrafficKind?) -> String {
        if let io = error as? IOError {
            switch io.errnoCode {
            case EADDRINUSE:
                return "address in use: another program (dockerd? the kernel's VXLAN socket?) holds \(kind?.id ?? "the port")"
            case EACCES, EPERM:
                if kind?.proto == .esp { return "no privilege for a raw ESP socket (needs root or CAP_NET_RAW)" }
                return "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
            case EADDRNOTAVAIL:
                return "the address is not configured on this host"
            default:
                return String(cString: strerror(io.errnoCode))
            }
        }
        return "\(error)"
    }
}
