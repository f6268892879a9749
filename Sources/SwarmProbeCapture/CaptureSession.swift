import CPcap
import Foundation
import NIOConcurrencyHelpers
import SwarmProbeCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// How a live capture is opened.
public struct CaptureOptions: Sendable, Hashable {
    /// Bytes kept of each packet.
    public var snapshotLength: Int32
    /// libpcap's read timeout, and how long the capture thread waits before it looks again whether
    /// it was asked to stop: the upper bound of ``CaptureSession/stop()``.
    public var timeoutMilliseconds: Int32
    /// The kernel buffer (packet sockets) or socket receive buffer (`nflog:N`).
    public var bufferSize: Int32
    public var promiscuous: Bool
    /// After handing packets over, the capture thread lets the buffer fill this long before it reads again
    /// (0: reads as soon as anything arrives). A request for the counters still wakes it at once, so nothing
    /// captured before it is left behind; only the handler runs up to this much later than the packet came.
    /// An agent's taps used to wake once per packet: ~800 context switches per agent per 32-node check.
    public var coalesceMilliseconds: Int32

    public init(
        snapshotLength: Int32 = 65_535, timeoutMilliseconds: Int32 = 100, bufferSize: Int32 = 4 << 20,
        promiscuous: Bool = false, coalesceMilliseconds: Int32 = 0
    ) {
        self.snapshotLength = snapshotLength
        self.timeoutMilliseconds = timeoutMilliseconds
        self.bufferSize = bufferSize
        self.promiscuous = promiscuous
        self.coalesceMilliseconds = coalesceMilliseconds
    }
}

/// What a session has counted so far.
public struct CaptureStatistics: Sendable, Hashable {
    /// Packets libpcap handed over (after the filter).
    public var received: UInt64 = 0
    /// Of those, the TCP, UDP and ESP packets passed to `onPacket`.
    public var dissected: UInt64 = 0
    /// Dropped by the kernel because the capture fell behind (`pcap_stats` ps_drop; for
    /// `nflog:N` the times the netlink socket overflowed, ENOBUFS).
    public var droppedByKernel: UInt64 = 0
    /// Dropped by the interface or its driver (`pcap_stats` ps_ifdrop), where known.
    public var droppedByInterface: UInt64 = 0

    public init() {}
}

/// One live capture: the single owner of a `pcap_t`, read on a dedicated thread.
///
/// Open it (``init(device:filter:options:)``: `pcap_create`, options, `pcap_activate`, filter),
/// ``start(onEnd:onPacket:)`` it, ``stop()`` it. The capture thread polls the handle's file
/// descriptor with the timeout and runs `pcap_dispatch` when it is readable, so a stop is
/// noticed within the timeout even on `nflog:N`, where libpcap blocks in `recv` and neither the
/// read timeout nor `pcap_breakloop` can wake it. The thread closes the handle when its loop ends;
/// stop returns after that. Dropping the last reference stops the capture too.
///
/// Timestamps have microsecond precision. On `nflog:N` libpcap stamps each packet with the time
/// it read it (`gettimeofday`), not the kernel's time of the log event.
public final class CaptureSession: Sendable {
    public let device: String
    /// The link type packets arrive with (``LinkType``): `nflog:N` opened with a filter reports
    /// ``LinkType/ipv4``, because filters only compile for that one (see ``CaptureFilter/bpfForNflog(address:kinds:)``).
    public let linkType: Int32
    /// libpcap's warning from `pcap_activate`, if it gave one (e.g. promiscuous mode not supported).
    public let warning: String?
    private let core: CaptureCore

    /// Opens and activates `device` and installs `filter` (nil or empty: everything).
    public init(device: String, filter: String? = nil, options: CaptureOptions = CaptureOptions()) throws(CaptureError) {
        let (created, createError) = Pcap.withErrorBuffer { pcap_create(device, $0) }
        guard let p = created else {
            throw CaptureError(.open, device: device, message: createError.isEmpty ? "pcap_create failed" : createError)
        }
        _ = pcap_set_snaplen(p, options.snapshotLength)
        _ = pcap_set_promisc(p, options.promiscuous ? 1 : 0)
        _ = pcap_set_timeout(p, options.timeoutMilliseconds)
        _ = pcap_set_immediate_mode(p, 1)
        _ = pcap_set_buffer_size(p, options.bufferSize)
        _ = pcap_set_tstamp_precision(p, Int32(PCAP_TSTAMP_PRECISION_MICRO))
        let status = pcap_activate(p)
        if status < 0 {
            let message = Pcap.activateMessage(p, status: status)
            pcap_close(p)
            throw CaptureError(CaptureError.code(activateStatus: status, message: message), device: device, message: message)
        }
        warning = status > 0 ? Pcap.activateMessage(p, status: status) : nil
        if let filter, !filter.isEmpty {
            do throws(CaptureError) {
                if pcap_datalink(p) == LinkType.nflog {
                    guard pcap_set_datalink(p, LinkType.ipv4) == 0 else {
                        throw CaptureError(.filter, device: device, message: "cannot switch to raw IPv4 for the filter: \(Pcap.lastError(p))")
                    }
                }
                try Pcap.setFilter(p, filter, device: device, isOffline: false)
            } catch {
                pcap_close(p)
                throw error
            }
        }
        self.device = device
        self.linkType = pcap_datalink(p)
        self.core = CaptureCore(
            device: device, pcap: p, linkType: linkType, timeoutMilliseconds: max(1, options.timeoutMilliseconds),
            coalesceMilliseconds: max(0, options.coalesceMilliseconds))
    }

    deinit {
        core.stop()
    }

    /// Starts the capture thread. `onPacket` runs on it, once per TCP, UDP or ESP packet, in order;
    /// keep it short (yield to a stream, append under a lock). `onEnd` runs on it once, last: with
    /// nil after a stop, with the error if reading failed.
    public func start(
        onEnd: (@Sendable (CaptureError?) -> Void)? = nil,
        onPacket: @escaping @Sendable (CapturedPacket) -> Void
    ) throws(CaptureError) {
        try core.start(onEnd: onEnd, onPacket: onPacket)
    }

    /// Breaks the loop, waits until the capture thread has closed the handle and exited. Idempotent;
    /// blocks the calling thread for at most about the timeout. Also closes a session never started.
    public func stop() {
        core.stop()
    }

    /// ``stop()`` without blocking the calling thread while it waits for the capture thread.
    public func stop() async {
        await core.stopAsync()
    }

    /// The counters so far (`pcap_stats` is read on the capture thread about every 250 ms and at the end).
    public var statistics: CaptureStatistics { core.statistics.withLockedValue { $0 } }

    /// The counters with the kernel's drop counts read now: wakes the capture thread, which first hands
    /// every packet already waiting to `onPacket`, then reads them; waits at most `timeout` for it (then
    /// returns what it has). For a baseline that must not lag, and to catch up before reading what was
    /// captured.
    public func currentStatistics(timeout: TimeInterval = 0.2) -> CaptureStatistics {
        core.refreshNow(timeout: timeout)
        return statistics
    }

    /// Why the capture thread stopped on its own, if it did.
    public var failure: CaptureError? { core.failure.withLockedValue { $0 } }
}

/// Runs `body` with a capture of `device` feeding a stream, and always stops the capture and waits
/// for its thread before returning or throwing.
///
/// The stream holds at most `bufferLimit` packets; when `body` falls behind, the oldest go first
/// (`.bufferingNewest`). It finishes when the capture ends on its own (the device went away).
public func withCapture<T>(
    device: String,
    filter: String? = nil,
    options: CaptureOptions = CaptureOptions(),
    bufferLimit: Int = 4096,
    isolation: isolated (any Actor)? = #isolation,
    _ body: (AsyncStream<CapturedPacket>) async throws -> T
) async throws -> T {
    let session = try CaptureSession(device: device, filter: filter, options: options)
    let (stream, continuation) = AsyncStream.makeStream(
        of: CapturedPacket.self,
        bufferingPolicy: .bufferingNewest(max(1, bufferLimit)))
    do {
        try session.start(onEnd: { _ in continuation.finish() }, onPacket: { continuation.yield($0) })
    } catch {
        await session.stop()
        throw error
    }
    let result: T
    do {
        result = try await body(stream)
    } catch {
        await session.stop()
        continuation.finish()
        throw error
    }
    await session.stop()
    continuation.finish()
    return result
}

// MARK: - The shared state of a session and its thread

/// A `pcap_t` pointer that may cross to the capture thread.
private struct PcapPointer: @unchecked Sendable {  // @unchecked: CaptureCore's phases give it one user thread at a time
    let raw: OpaquePointer
}

/// What the capture thread's callback needs; handed to libpcap through `user` (Unmanaged, retained
/// for exactly as long as the thread's loop runs).
private final class HandlerContext: Sendable {
    let linkType: Int32
    let onPacket: @Sendable (CapturedPacket) -> Void
    let statistics: NIOLockedValueBox<CaptureStatistics>

    init(linkType: Int32, onPacket: @escaping @Sendable (CapturedPacket) -> Void, statistics: NIOLockedValueBox<CaptureStatistics>) {
        self.linkType = linkType
        self.onPacket = onPacket
        self.statistics = statistics
    }

    func handle(_ header: UnsafePointer<pcap_pkthdr>, _ bytes: UnsafePointer<UInt8>) {
        let frame = UnsafeRawBufferPointer(start: bytes, count: Int(header.pointee.caplen))
        // The dissector copies what it keeps: nothing points into libpcap's buffer after this returns.
        let packet = Dissector.dissect(linkType: linkType, frame, timestamp: Pcap.microseconds(header.pointee))
        statistics.withLockedValue {
            $0.received += 1
            if packet != nil { $0.dissected += 1 }
        }
        if let packet { onPacket(packet) }
    }
}

private final class CaptureCore: @unchecked Sendable {
    // @unchecked: `pcap` is used by one thread at a time (the opener, then the capture thread, which
    // also closes it); the one cross-thread call, pcap_breakloop, and the wake pipe are used under
    // `lock` and only while `phase` says the handle is open. Everything else is locked or immutable.

    enum Phase {
        case ready
        case running
        case closed
    }

    let device: String
    let linkType: Int32
    let timeoutMilliseconds: Int32
    let statistics = NIOLockedValueBox(CaptureStatistics())
    let failure = NIOLockedValueBox<CaptureError?>(nil)
    private let pcap: PcapPointer
    private let lock = NIOLock()
    private var phase = Phase.ready  // guarded by lock
    private var stopRequested = false  // guarded by lock
    private var wakeRead: Int32 = -1  // guarded by lock while running
    private var wakeWrite: Int32 = -1  // guarded by lock while running
    private var captureThread: pthread_t?  // guarded by lock; set once the thread runs
    private var statsRequested = false  // guarded by lock
    private let statsRead = NSCondition()
    private var statsGeneration = 0  // guarded by statsRead
    private var threadStarted = false  // guarded by lock
    private let exit = ThreadExit()

    let coalesceMilliseconds: Int32

    init(device: String, pcap: OpaquePointer, linkType: Int32, timeoutMilliseconds: Int32, coalesceMilliseconds: Int32) {
        self.device = device
        self.pcap = PcapPointer(raw: pcap)
        self.linkType = linkType
        self.timeoutMilliseconds = timeoutMilliseconds
        self.coalesceMilliseconds = coalesceMilliseconds
    }

    func start(onEnd: (@Sendable (CaptureError?) -> Void)?, onPacket: @escaping @Sendable (CapturedPacket) -> Void) throws(CaptureError) {
        var fds: [Int32] = [-1, -1]
        let piped = pipe(&fds) == 0
        let pipeError = piped ? "" : String(cString: strerror(errno))
        let refusal: String? = lock.withLock {
            guard phase == .ready else { return phase == .running ? "already started" : "already stopped" }
            guard piped else { return "cannot make the wake-up pipe: \(pipeError)" }
            phase = .running
            threadStarted = true
            wakeRead = fds[0]
            wakeWrite = fds[1]
            return nil
        }
        if let refusal {
            if piped { close(fds[0]); close(fds[1]) }
            throw CaptureError(.state, device: device, message: refusal)
        }
        let context = HandlerContext(linkType: linkType, onPacket: onPacket, statistics: statistics)
        let thread = Thread { [self] in
            self.lock.withLock { self.captureThread = pthread_self() }
            let user = Unmanaged.passRetained(context).toOpaque()
            let error = self.runLoop(user: user)
            self.closeHandle(finalError: error)
            onEnd?(error)
            self.exit.signal()
            // Last: if this drops the final reference to the session, its deinit finds the thread done.
            Unmanaged<HandlerContext>.fromOpaque(user).release()
        }
        thread.name = "swarmprobe capture \(device)"
        thread.start()
    }

    /// The capture thread's loop; returns the error that ended it, nil after a stop.
    private func runLoop(user: UnsafeMutableRawPointer) -> CaptureError? {
        let p = pcap.raw
        let fd = pcap_get_selectable_fd(p)
        let wake = lock.withLock { wakeRead }
        var lastStats = DispatchTime.now().uptimeNanoseconds
        while true {
            if lock.withLock({ stopRequested }) { return nil }
            if fd >= 0 {
                var fds = [
                    pollfd(fd: fd, events: Int16(POLLIN), revents: 0),
                    pollfd(fd: wake, events: Int16(POLLIN), revents: 0),
                ]
                let ready = poll(&fds, nfds_t(fds.count), timeoutMilliseconds)
                if ready < 0 && errno != EINTR {
                    return CaptureError(.read, device: device, message: "poll: \(String(cString: strerror(errno)))")
                }
                if fds[1].revents != 0 {
                    var drain = [UInt8](repeating: 0, count: 64)
                    _ = read(wake, &drain, drain.count)
                }
                let asked = lock.withLock { () -> Bool in
                    defer { statsRequested = false }; return statsRequested
                }
                if asked {
                    // Whoever asked for the counters (a log being built) must also find every packet captured
                    // before it asked already handed over: drain the descriptor, not one read of it (nflog
                    // hands over one packet per read).
                    if let error = drain(p, fd: fd, user: user).error { return error }
                } else if ready > 0 && fds[0].revents != 0 {
                    let first = dispatch(p, user: user)
                    if let error = first.error { return error }
                    if coalesceMilliseconds > 0 {
                        // The rest of what is there (nflog hands over one packet per read), then let the next
                        // packets gather in the buffer; a stop or a request for the counters ends the wait at
                        // once (the wake descriptor), and a stop from inside the handler skips it. Only after
                        // packets were handed over: a wake-up that found none (seen once in the tests, with
                        // a 30 s wait) must not hold back the packets that come next.
                        let rest = drain(p, fd: fd, user: user)
                        if let error = rest.error { return error }
                        if first.handed + rest.handed > 0 && !lock.withLock({ stopRequested }) {
                            var w = [pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
                            _ = poll(&w, 1, coalesceMilliseconds)
                        }
                    }
                }
                if asked {
                    refreshStatisticsIfDue(&lastStats, force: true)
                    statsRead.lock()
                    statsGeneration += 1
                    statsRead.broadcast()
                    statsRead.unlock()
                }
                refreshStatisticsIfDue(&lastStats)
                continue
            }
            if let error = dispatch(p, user: user).error { return error }
            refreshStatisticsIfDue(&lastStats)
        }
    }

    /// Dispatches while the descriptor has anything to read (at most 65,536 times: a flood cannot hold the
    /// thread here forever); how many packets it handed over, and the error that ends the loop, if any.
    private func drain(_ p: OpaquePointer, fd: Int32, user: UnsafeMutableRawPointer) -> (handed: Int, error: CaptureError?) {
        var handed = 0
        for _ in 0..<65_536 {
            if lock.withLock({ stopRequested }) { break }  // a stop, also from inside the handler
            var pending = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0)]
            guard poll(&pending, 1, 0) > 0, pending[0].revents & Int16(POLLIN) != 0 else { break }
            let one = dispatch(p, user: user)
            handed += one.handed
            if one.error != nil { return (handed, one.error) }
        }
        return (handed, nil)
    }

    /// Hands the packets one read returns to the handler; how many, and the error that ends the loop, if any.
    private func dispatch(_ p: OpaquePointer, user: UnsafeMutableRawPointer) -> (handed: Int, error: CaptureError?) {
        let n = pcap_dispatch(
            p, -1,
            { user, header, bytes in
                guard let user, let header, let bytes else { return }
                Unmanaged<HandlerContext>.fromOpaque(UnsafeRawPointer(user)).takeUnretainedValue().handle(header, bytes)
            }, user.assumingMemoryBound(to: UInt8.self))
        if n < 0 && n != PCAP_ERROR_BREAK {  // a break: the stop flag ends the loop
            return (0, CaptureError(.read, device: device, message: Pcap.lastError(p)))
        }
        return (Int(max(0, n)), nil)
    }

    private func refreshStatisticsIfDue(_ last: inout UInt64, force: Bool = false) {
        let now = DispatchTime.now().uptimeNanoseconds
        guard force || now &- last >= 250_000_000 else { return }
        last = now
        var s = pcap_stat()
        guard pcap_stats(pcap.raw, &s) == 0 else { return }
        statistics.withLockedValue {
            $0.droppedByKernel = UInt64(s.ps_drop)
            $0.droppedByInterface = UInt64(s.ps_ifdrop)
        }
    }

    /// On the capture thread, after the loop: final counters, then close the handle and the pipe.
    private func closeHandle(finalError: CaptureError?) {
        var last: UInt64 = 0
        refreshStatisticsIfDue(&last, force: true)
        if let finalError { failure.withLockedValue { $0 = finalError } }
        lock.withLock {
            phase = .closed
            pcap_close(pcap.raw)
            close(wakeRead)
            close(wakeWrite)
            wakeRead = -1
            wakeWrite = -1
        }
    }

    func stop() {
        if requestStop() { exit.wait() }
    }

    /// Has the capture thread read the kernel's counters, waiting at most `timeout`.
    func refreshNow(timeout: TimeInterval) {
        statsRead.lock()
        let before = statsGeneration
        statsRead.unlock()
        let asked: Bool = lock.withLock {
            guard phase == .running, !stopRequested, wakeWrite >= 0 else { return false }
            statsRequested = true
            var byte: UInt8 = 2
            _ = write(wakeWrite, &byte, 1)
            return true
        }
        guard asked else { return }
        let deadline = Date().addingTimeInterval(timeout)
        statsRead.lock()
        while statsGeneration == before && statsRead.wait(until: deadline) {}
        statsRead.unlock()
    }

    func stopAsync() async {
        if requestStop() { await exit.waitAsync() }
    }

    /// Asks the thread to stop; true if there is a thread to wait for (never when called on the
    /// capture thread itself, from `onPacket` or `onEnd`: it stops as soon as that returns).
    private func requestStop() -> Bool {
        lock.withLock {
            if let captureThread, pthread_equal(captureThread, pthread_self()) != 0 {
                if phase == .running && !stopRequested {
                    stopRequested = true
                    pcap_breakloop(pcap.raw)
                }
                return false
            }
            switch phase {
            case .ready:
                phase = .closed
                pcap_close(pcap.raw)
                return false
            case .running:
                if !stopRequested {
                    stopRequested = true
                    pcap_breakloop(pcap.raw)  // documented as safe from another thread
                    var byte: UInt8 = 1
                    _ = write(wakeWrite, &byte, 1)
                }
                return true
            case .closed:
                // Closed by the thread (a stop, or a read error): wait until it has exited, if it ran.
                return threadStarted
            }
        }
    }
}

/// Signalled once when the capture thread is done; waited on by any number of stoppers.
private final class ThreadExit: Sendable {
    private let done = ConditionLock(value: false)
    private let waiters = NIOLockedValueBox<(done: Bool, continuations: [CheckedContinuation<Void, Never>])>((false, []))

    func signal() {
        done.lock()
        done.unlock(withValue: true)
        let pending = waiters.withLockedValue { state -> [CheckedContinuation<Void, Never>] in
            state.done = true
            defer { state.continuations = [] }
            return state.continuations
        }
        for c in pending { c.resume() }
    }

    func wait() {
        done.lock(whenValue: true)
        done.unlock()
    }

    func waitAsync() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let finished = waiters.withLockedValue { state -> Bool in
                if state.done { return true }
                state.continuations.append(c)
                return false
            }
            if finished { c.resume() }
        }
    }
}
