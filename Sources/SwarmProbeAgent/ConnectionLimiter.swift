import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SwarmProbeCore

/// Caps how many connections a TCP listener keeps open at once; past it, new ones are closed at once.
final class ConnectionLimiter: ChannelInboundHandler, Sendable {
    typealias InboundIn = Channel
    typealias InboundOut = Channel

    let limit: Int
    private let open = NIOLockedValueBoxInt()

    init(limit: Int) { self.limit = limit }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let child = unwrapInboundIn(data)
        if open.increment() > limit {
            open.decrement()
            child.close(promise: nil)
            return
        }
        let counter = open
        child.closeFuture.whenComplete { _ in counter.decrement() }
        context.fireChannelRead(data)
    }
}

final class NIOLockedValueBoxInt: Sendable {
    private let box = NIOLockedValueBox(0)
    @discardableResult func increment() -> Int {
        box.withLockedValue {
            $0 += 1; return $0
        }
    }
    func decrement() { box.withLockedValue { $0 -= 1 } }
    var value: Int { box.withLockedValue { $0 } }
}
