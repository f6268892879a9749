import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SwarmProbeCapture
import SwarmProbeCore

/// Sends the probes of a plan and reports what came back.
final class Prober: Sendable {
    let group: any EventLoopGroup
    let address: IPAddress
    private let auth: ProbeAuthenticator
    let esp: ESPSocket?
    /// Kinds whose probes travel in VXLAN frames (the data path).
    let framedKinds: Set<KindID>
    /// Probes in flight at once per run; more wait their turn. High enough that a plan for a thousand
    /// peers (4,000 probes, a quarter of them waiting out a timeout) still runs in about one timeout:
    /// answered probes free their slot within a round trip. Each holds a socket (TCP: one per try), so
    /// the agent raises its open-file limit to match (`Agent.raiseOpenFileLimit`).
    let concurrency: Int
    /// The MTU of the interface holding `address` (the path MTU ladder's top); 1500 when it cannot be read.
    let interfaceMTU: Int

    init(
        group: any EventLoopGroup, address: IPAddress, token: ClusterToken, esp: ESPSocket?, framedKinds: Set<KindID>,
        concurrency: Int = 1024
    ) {
        self.group = group
        self.address = address
        self.auth = token.probeAuthenticator
        self.esp = esp
        self.framedKinds = framedKinds
        self.concurrency = concurrency
        self.interfaceMTU = NetworkInterfaces.device(for: address).flatMap(HostFactsReader.mtu) ?? 1500
    }

    /// Sends every probe of the plan; returns what each ended with, the probes that ended in silence, and
    /// how the run was paced. Each probe that ends is also recorded in `progress`; once that is stopped no
    /// further probe starts (the caller cancels the ones in flight).
    func run(_ request: RunRequest, progress: RunProgress = RunProgress()) async -> (reports: [ProbeReport], silent: [SilentProbe], pace: String) {
        let runID = Hex.decode(request.runID) ?? [UInt8](repeating: 0, count: 16)
        let pacing = RunPacing(firstWave: request.probes.prefix(concurrency).count { $0.kind.proto != .esp })
        let (reports, silent) = await withTaskGroup(of: (ProbeReport, SilentProbe?).self) { group in
            var results: [ProbeReport] = []
            var silent: [SilentProbe] = []
            results.reserveCapacity(request.probes.count)
            var pending = request.probes[...]
            func startNext() {
                guard !progress.isStopped, let order = pending.popFirst() else { return }
                group.addTask {
                    let timeout = TimeAmount.milliseconds(Int64(order.timeoutMs ?? request.timeoutMs))
                    let (evidence, silent) = await self.probe(
                        order, runID: runID, timeout: timeout, attempts: request.attempts, pacing: pacing,
                        pathMTUNeeded: request.pathMTUNeeded)
                    let report = ProbeReport(target: order.target, kind: order.kind, evidence: evidence)
                    progress.ended(report, silent: silent)
                    return (report, silent)
                }
            }
            for _ in 0..<min(concurrency, pending.count) { startNext() }
            for await (r, s) in group {
                results.append(r)
                if let s { silent.append(s) }
                startNext()
            }
            return (results, silent)
        }
        return (reports, silent, pacing.summary)
    }

    /// `pathMTUNeeded`: on the data path, follow the probe with the path MTU ladder (`MTULadderClient`): once it
    /// answered, or alongside it where the target only observes the port (nothing answers there).
    func probe(
        _ order: ProbeOrder, runID: [UInt8], timeout: TimeAmount, attempts: Int, pacing: RunPacing, pathMTUNeeded: Int? = nil
    ) async
        -> (SenderEvidence, SilentProbe?)
    {
        // An observed port belongs to dockerd or the kernel: no answer will come, only the target's capture
        // can tell, and the owner may log every stray datagram: two tries, so one loss does not decide.
        let count = order.observed ? min(max(1, attempts), ProbeTiming.observedAttempts) : max(1, attempts)
        let pool = randomBytes(16 * count)  // one system call for every try's nonce
        let nonces = (0..<count).map { Array(pool[($0 * 16)..<($0 * 16 + 16)]) }
        let end: ProbeEnd
        var mtu: MTULadder?
        var ladderAfter = false
        let began = NIODeadline.now()  // before its socket: errs on the side of late
        let beganMs = Int64(nowMs())
        switch order.kind.proto {
        case .tcp:
            end = await probeTCP(order, nonces: nonces, runID: runID, timeout: timeout, pacing: pacing)
        case .udp:
            let framed = framedKinds.contains(order.kind)
            let ladder = framed && pathMTUNeeded != nil
            if ladder && order.observed {
                async let alongside = mtuLadder(order, runID: runID, timeout: timeout, needed: pathMTUNeeded)
                end = await probeDatagram(order, nonces: nonces, runID: runID, timeout: timeout, framed: framed, pacing: pacing)
                mtu = await alongside
            } else {
                end = await probeDatagram(order, nonces: nonces, runID: runID, timeout: timeout, framed: framed, pacing: pacing)
                ladderAfter = ladder && end.outcome == .answered
            }
        case .esp:
            if let esp {
                end = await esp.probe(order, nonces: nonces, runID: runID, timeout: timeout, auth: auth, from: address)
            } else {
                end = ProbeEnd(
                    outcome: .sendFailed, detail: "ESP probes need a raw socket (run the agent as root or with CAP_NET_RAW)", attemptsSent: 0)
            }
        }
        if end.attemptsSent == 0 && order.kind.proto != .esp { pacing.noFirstTry() }
        // The run's answers are still coming in: stamped now, when this probe's task has it (under load
        // later than the packet came, which errs on the side of waiting).
        if end.answerArrived {
            pacing.arrived()
            pacing.answered(took: .now() - began, timeout: timeout)
        }
        // Round trips from datagrams only: a TCP probe's time includes TCP's own retransmission timers
        // (a lost segment costs 200 ms or more), which says nothing about the path's round trip.
        if end.outcome == .answered, order.kind.proto != .tcp, let rtt = end.rttMicros { pacing.add(micros: rtt) }
        // The path MTU ladder once the probe answered, after the run's pacing has the probe's own timing.
        if ladderAfter { mtu = await mtuLadder(order, runID: runID, timeout: timeout, needed: pathMTUNeeded) }
        let used = end.sentNonces ?? Array(nonces.prefix(max(1, end.attemptsSent)))
        let evidence = SenderEvidence(
            outcome: end.outcome, attempts: end.attemptsSent, rttMicros: end.rttMicros,
            detail: end.detail, nonces: used.map { Hex.encode($0) },
            sourcePorts: end.sourcePorts, mtu: mtu)
        guard end.outcome == .timeout, end.attemptsSent > 0 else { return (evidence, nil) }
        return (
            evidence,
            SilentProbe(
                target: order.target, kind: order.kind, nonces: used, sourcePorts: end.sourcePorts,
                startedAtMs: beganMs, silentAtMs: end.endedAtMs ?? Int64(nowMs()))
        )
    }

    private func packet(_ order: ProbeOrder, nonce: [UInt8], runID: [UInt8], replyPort: Int, trailer: Int = 0) -> [UInt8] {
        ProbePacket(
            type: .probe, proto: order.kind.proto, targetPort: UInt16(order.kind.port ?? 0),
            replyPort: UInt16(replyPort), timeMs: nowMs(), nonce: nonce, runID: runID,
            sender: address, target: order.target, trailer: trailer
        ).encode(auth: auth)
    }

    // MARK: Path MTU

    /// The ladder to `order.target` on its own socket; nil when the socket could not be opened.
    private func mtuLadder(_ order: ProbeOrder, runID: [UInt8], timeout: TimeAmount, needed: Int?) async -> MTULadder? {
        let remote: SocketAddress, local: SocketAddress
        do {
            remote = try order.target.socketAddress(port: order.kind.port ?? 0)
            local = try address.socketAddress(port: 0)
        } catch {
            return nil
        }
        let sizes = PathMTU.ladder(interfaceMTU: interfaceMTU, needed: needed)
        guard !sizes.isEmpty else { return nil }  // an interface below 1280: nothing to probe
        let pool = randomBytes(16 * sizes.count)
        let headers = PathMTU.headers(toward: order.target) + ProbePacket.minimumSize
        let loop = group.next()
        let promise = loop.makePromise(of: MTULadder.self)
        let auth = self.auth, target = order.target, interfaceMTU = self.interfaceMTU
        let makePacket: @Sendable (_ nonce: [UInt8], _ size: Int, _ replyPort: Int) -> [UInt8] = { [self] nonce, size, port in
            VXLANFrame.wrap(packet(order, nonce: nonce, runID: runID, replyPort: port, trailer: max(1, size - headers)))
        }
        // Don't Fragment, the cached path MTU ignored: IP_MTU_DISCOVER (10) or, toward IPv6, IPV6_MTU_DISCOVER (23),
        // set to IP_PMTUDISC_PROBE (3). Linux takes the IPv4 option on an IPv6 socket and ignores it.
        let discover: ChannelOptions.Types.SocketOption =
            target.isIPv4 ? .ipOption(.init(rawValue: 10)) : .init(level: .ipv6, name: .init(rawValue: 23))
        let bootstrap = DatagramBootstrap(group: loop)
            .channelOption(discover, value: 3)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let rungs = sizes.enumerated().map { i, size in
                        MTULadderClient.Rung(size: size, nonce: Array(pool[(i * 16)..<(i * 16 + 16)]))
                    }
                    try channel.pipeline.syncOperations.addHandler(
                        MTULadderClient(
                            auth: auth, target: target, remote: remote, rungs: rungs, timeout: timeout,
                            interfaceMTU: interfaceMTU, makePacket: makePacket, promise: promise))
                }
            }
        do {
            let channel = try await bootstrap.bind(to: local).get()
            let ladder = await withTaskCancellationHandler {
                try? await promise.futureResult.get()
            } onCancel: {
                channel.close(promise: nil)
            }
            try? await channel.close()
            return ladder
        } catch {
            promise.succeed(MTULadder(rungs: []))
            return nil
        }
    }

    // MARK: TCP

    /// Source ports for TCP probes are chosen here, before connecting, so the target's capture can match
    /// the SYN of a probe that never connects. Linux's default ephemeral range.
    static let sourcePorts = 32768...60999

    /// One TCP probe, run on one event loop by `TCPProbeSeries`.
    private func probeTCP(
        _ order: ProbeOrder, nonces: [[UInt8]], runID: [UInt8], timeout: TimeAmount,
        pacing: RunPacing
    ) async -> ProbeEnd {
        let remote: SocketAddress
        do {
            remote = try order.target.socketAddress(port: order.kind.port ?? 0)
        } catch {
            return ProbeEnd(outcome: .sendFailed, detail: "bad address: \(error)", attemptsSent: 0)
        }
        let loop = group.next()
        let promise = loop.makePromise(of: ProbeEnd.self)
        let box = NIOLoopBoundBox.makeEmptyBox(valueType: TCPProbeSeries.self, eventLoop: loop)
        let packet: @Sendable ([UInt8], Int) -> [UInt8] = { [self] nonce, port in
            self.packet(order, nonce: nonce, runID: runID, replyPort: port)
        }
        let local = address, auth = self.auth
        return await withTaskCancellationHandler {
            loop.execute {
                let series = TCPProbeSeries(
                    loop: loop, box: box, local: local, remote: remote, observed: order.observed,
                    auth: auth, nonces: nonces, timeout: timeout, pacing: pacing,
                    packet: packet, promise: promise)
                box.value = series
                series.start()
            }
            return (try? await promise.futureResult.get()) ?? ProbeEnd(outcome: .timeout, attemptsSent: 0)
        } onCancel: {
            loop.execute { box.value?.finish(nil) }
        }
    }

    static let noFreePort = "no free source port"

    static func classify(connectError error: any Error, attemptsSent: Int) -> ProbeEnd {
        if let e = error as? ChannelError, case .connectTimeout = e {
            return ProbeEnd(outcome: .timeout, attemptsSent: attemptsSent)
        }
        var errno: CInt?
        if let io = error as? IOError { errno = io.errnoCode }
        if let c = error as? NIOConnectionError, let first = c.connectionErrors.first {
            errno = (first.error as? IOError)?.errnoCode
        }
        guard let code = errno else {
            return ProbeEnd(outcome: .sendFailed, detail: "\(error)", attemptsSent: attemptsSent)
        }
        return classify(errno: code, attemptsSent: attemptsSent)
    }

    static func classify(errno code: CInt, attemptsSent: Int) -> ProbeEnd {
        let text = String(cString: strerror(code))
        switch code {
        case ECONNREFUSED, ECONNRESET:
            return ProbeEnd(outcome: .refused, detail: text, attemptsSent: attemptsSent)
        case EHOSTUNREACH, ENETUNREACH, EHOSTDOWN, ENETDOWN:
            return ProbeEnd(outcome: .unreachable, detail: text, attemptsSent: attemptsSent)
        case ETIMEDOUT:
            return ProbeEnd(outcome: .timeout, attemptsSent: attemptsSent)
        default:
            // EPERM: our own output firewall; EADDRNOTAVAIL: the address is not on this host.
            return ProbeEnd(outcome: .sendFailed, detail: text, attemptsSent: attemptsSent)
        }
    }

    // MARK: UDP

    private func probeDatagram(
        _ order: ProbeOrder, nonces: [[UInt8]], runID: [UInt8], timeout: TimeAmount, framed: Bool,
        pacing: RunPacing
    ) async -> ProbeEnd {
        let loop = group.next()
        let promise = loop.makePromise(of: ProbeEnd.self)
        let remote: SocketAddress
        let local: SocketAddress
        do {
            remote = try order.target.socketAddress(port: order.kind.port ?? 0)
            local = try address.socketAddress(port: 0)
        } catch {
            return ProbeEnd(outcome: .sendFailed, detail: "bad address: \(error)", attemptsSent: 0)
        }
        let auth = self.auth
        let makePacket: @Sendable (_ nonce: [UInt8], _ replyPort: Int) -> [UInt8] = { [self] nonce, port in
            let p = self.packet(order, nonce: nonce, runID: runID, replyPort: port)
            return framed ? VXLANFrame.wrap(p) : p
        }
        let bootstrap = DatagramBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        UDPProbeClient(
                            auth: auth, remote: remote, nonces: nonces, timeout: timeout, framed: framed, pacing: pacing,
                            makePacket: makePacket, promise: promise))
                }
            }
        // A stopped run ends its datagram probes at once: closing the socket settles the probe.
        let socket = NIOLockedValueBox<(channel: (any Channel)?, cancelled: Bool)>((nil, false))
        return await withTaskCancellationHandler {
            do {
                let channel = try await bootstrap.bind(to: local).get()
                let cancelled = socket.withLockedValue { s in
                    s.channel = channel
                    return s.cancelled
                }
                if cancelled { channel.close(promise: nil) }
                let end = try await promise.futureResult.get()
                try? await channel.close()
                return end
            } catch {
                promise.succeed(ProbeEnd(outcome: .timeout, attemptsSent: 0))
                return ProbeEnd(outcome: .sendFailed, detail: "\(error)", attemptsSent: 0)
            }
        } onCancel: {
            let channel = socket.withLockedValue { s in
                s.cancelled = true
                return s.channel
            }
            channel?.close(promise: nil)
        }
    }
}
