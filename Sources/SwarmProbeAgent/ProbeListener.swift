import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SwarmProbeCore

/// The probe listeners of the swarm ports.
public enum ProbeListener {
    /// A UDP or TCP probe listener for `kind` on `address`, answering through `responder`.
    public static func open(
        _ kind: TrafficKind, address: IPAddress, responder: Responder, group: any EventLoopGroup,
        maxConnections: Int
    ) async throws -> any Channel {
        let id = kind.kindID
        switch kind.proto {
        case .udp:
            // The data path's listener takes path MTU probes of up to a jumbo frame (NIO reads 2 KiB by default).
            let largest = kind.dataPath ? ProbePacket.maximumSize + VXLANFrame.headerSize : 2048
            return try await DatagramBootstrap(group: group)
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: largest))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(DatagramProbeHandler(responder: responder, kind: id, framed: kind.dataPath))
                    }
                }
                .bind(to: address.socketAddress(port: kind.port!)).get()
        case .tcp:
            let limiter = ConnectionLimiter(limit: maxConnections)
            // SO_REUSEADDR on a TCP listener only lets us bind over TIME_WAIT leftovers; Linux still
            // refuses it while anyone else listens there, so it never takes a port from dockerd.
            // (UDP listeners never set it: there it would share the port.)
            return try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(limiter) }
                }
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(StreamProbeHandler(responder: responder, kind: id))
                    }
                }
                .bind(to: address.socketAddress(port: kind.port!)).get()
        case .esp:
            preconditionFailure("ESP has no port listener; see ESPSocket")
        }
    }
}
