import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import SwarmProbeCore

/// The control endpoint's open connections. When all slots are taken, a new connection evicts the
/// oldest one that has not sent a request head yet (an idle or half-open peer), so idle connections
/// cannot lock the coordinator out; only when every slot is busy with a request is the newcomer refused.
final class ControlConnections: ChannelInboundHandler, Sendable {
    typealias InboundIn = any Channel
    typealias InboundOut = any Channel

    private struct Entry {
        var channel: any Channel
        var opened: NIODeadline
        var sawHead: Bool
    }
    let limit: Int
    private let entries = NIOLockedValueBox<[ObjectIdentifier: Entry]>([:])

    init(limit: Int) { self.limit = limit }

    var count: Int { entries.withLockedValue { $0.count } }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let child = unwrapInboundIn(data)
        let id = ObjectIdentifier(child)
        let (admitted, evict): (Bool, (any Channel)?) = entries.withLockedValue { e in
            var victim: (any Channel)?
            if e.count >= limit {
                guard let oldest = e.filter({ !$0.value.sawHead }).min(by: { $0.value.opened < $1.value.opened }) else {
                    return (false, nil)
                }
                victim = oldest.value.channel
                e[oldest.key] = nil
            }
            e[id] = Entry(channel: child, opened: .now(), sawHead: false)
            return (true, victim)
        }
        evict?.close(promise: nil)
        guard admitted else {
            child.close(promise: nil)
            return
        }
        child.closeFuture.whenComplete { [entries] _ in entries.withLockedValue { $0[id] = nil } }
        context.fireChannelRead(data)
    }

    func sawHead(_ channel: any Channel) {
        entries.withLockedValue { $0[ObjectIdentifier(channel)]?.sawHead = true }
    }
}
