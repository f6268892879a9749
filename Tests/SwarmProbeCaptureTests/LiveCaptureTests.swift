import Foundation
import NIOConcurrencyHelpers
import SwarmProbeCore
import Testing

@testable import SwarmProbeCapture

#if canImport(Glibc)
    import Glibc
#endif

/// Sends `count` UDP datagrams from an ephemeral port to 127.0.0.1:`port`. Nothing listens there;
/// the kernel's ICMP errors stay on loopback too.
private func sendUDP(toLoopbackPort port: UInt16, _ payload: String, count: Int = 3) throws {
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    try #require(fd >= 0, "socket: \(errno)")
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    let bytes = Array(payload.utf8)
    for _ in 0..<count {
        let sent = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        try #require(sent == bytes.count, "sendto: \(errno)")
    }
}

private func randomPort() -> UInt16 { UInt16.random(in: 40_000...60_000) }

/// Waits up to `seconds` until `condition` holds.
private func eventually(_ seconds: Double = 3, _ condition: () -> Bool) async throws -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        try await Task.sleep(for: .milliseconds(20))
    }
    return condition()
}

private func elapsed(_ body: () -> Void) -> Double {
    let start = Date()
    body()
    return Date().timeIntervalSince(start)
}

@Suite("live capture (root)", .serialized, .enabled(if: Privilege.isRoot, "live capture needs root (CAP_NET_RAW, CAP_NET_ADMIN for nflog)"))
struct LiveCaptureTests {
    @Test("a session on lo sees its own UDP to 127.0.0.1, then stops and joins within a second")
    func loopback() async throws {
        let port = randomPort()
        let session = try CaptureSession(device: "lo", filter: "udp port \(port)")
        #expect(session.linkType == LinkType.ethernet)  // Linux loopback frames carry a zeroed Ethernet header
        let seen = NIOLockedValueBox<[CapturedPacket]>([])
        let ended = NIOLockedValueBox<Int>(0)
        try session.start(onEnd: { error in
            ended.withLockedValue { $0 += 1 }; #expect(error == nil)
        }) { packet in
            seen.withLockedValue { $0.append(packet) }
        }
        try await Task.sleep(for: .milliseconds(50))
        try sendUDP(toLoopbackPort: port, "live-probe")
        #expect(try await eventually { seen.withLockedValue { $0.count } >= 3 })
        let stopTime = elapsed { session.stop() }
        #expect(stopTime < 1.0)
        #expect(ended.withLockedValue { $0 } == 1)
        let packets = seen.withLockedValue { $0 }
        #expect(packets.count == 3)
        for p in packets {
            #expect(p.source == IPAddress("127.0.0.1") && p.destination == IPAddress("127.0.0.1"))
            #expect(p.proto == .udp && p.destinationPort == Int(port) && p.payload == Array("live-probe".utf8))
            #expect(abs(p.timestamp - Int64(Date().timeIntervalSince1970 * 1_000_000)) < 10_000_000)
        }
        let stats = session.statistics
        #expect(stats.received == 3 && stats.dissected == 3 && stats.droppedByKernel == 0)
        // Idempotent, blocking or not (in async code plain `stop()` resolves to the async overload).
        #expect(elapsed { session.stop() } < 0.1)
        await session.stop()
        #expect(throws: CaptureError.self) { try session.start { _ in } }
    }

    @Test("coalescing: packets wait in the buffer, a request for the counters hands every one over at once, stop is not delayed")
    func coalescing() async throws {
        let port = randomPort()
        // A wait far longer than the test: only the counters' request can have the second burst handed over.
        let options = CaptureOptions(coalesceMilliseconds: 30_000)
        let session = try CaptureSession(device: "lo", filter: "udp port \(port)", options: options)
        let seen = NIOLockedValueBox<Int>(0)
        try session.start { _ in seen.withLockedValue { $0 += 1 } }
        try await Task.sleep(for: .milliseconds(50))
        try sendUDP(toLoopbackPort: port, "first", count: 1)
        #expect(try await eventually { seen.withLockedValue { $0 } == 1 })
        // The thread now waits out its 30 s; these gather in the buffer.
        try sendUDP(toLoopbackPort: port, "second", count: 5)
        try await Task.sleep(for: .milliseconds(200))
        #expect(seen.withLockedValue { $0 } == 1)
        let stats = session.currentStatistics(timeout: 2)
        #expect(seen.withLockedValue { $0 } == 6)
        #expect(stats.received == 6 && stats.droppedByKernel == 0)
        // A stop while the thread sits in its 30 s wait ends it at once.
        try sendUDP(toLoopbackPort: port, "third", count: 1)
        #expect(try await eventually { seen.withLockedValue { $0 } == 7 })
        #expect(elapsed { session.stop() } < 1.0)
    }

    @Test("coalescing: a stop from inside the handler does not wait out the coalescing")
    func coalescingStopFromHandler() async throws {
        let port = randomPort()
        let session = try CaptureSession(device: "lo", filter: "udp port \(port)", options: CaptureOptions(coalesceMilliseconds: 30_000))
        let ended = NIOLockedValueBox<Date?>(nil)
        let seen = NIOLockedValueBox<Int>(0)
        try session.start(onEnd: { _ in ended.withLockedValue { $0 = Date() } }) { [session] _ in
            seen.withLockedValue { $0 += 1 }
            session.stop()
        }
        try await Task.sleep(for: .milliseconds(50))
        let sent = Date()
        try sendUDP(toLoopbackPort: port, "stop", count: 3)
        #expect(try await eventually(3) { ended.withLockedValue { $0 } != nil })
        #expect((ended.withLockedValue { $0 } ?? .distantFuture).timeIntervalSince(sent) < 1.0)
        #expect(seen.withLockedValue { $0 } >= 1)
    }

    @Test("stop with no traffic at all returns within a second; a session never started just closes")
    func idleStop() throws {
        let session = try CaptureSession(device: "lo", filter: "udp port \(randomPort())")
        try session.start { _ in }
        Thread.sleep(forTimeInterval: 0.2)
        #expect(elapsed { session.stop() } < 1.0)
        let unused = try CaptureSession(device: "lo")
        unused.stop()
        unused.stop()
    }

    @Test("dropping the last reference stops the capture; stop from inside onPacket does not deadlock")
    func lifetimes() async throws {
        let port = randomPort()
        do {
            let session = try CaptureSession(device: "lo", filter: "udp port \(port)")
            try session.start { _ in }
        }  // deinit: stop + join
        let inner = try CaptureSession(device: "lo", filter: "udp port \(port)")
        let ended = NIOLockedValueBox(false)
        try inner.start(onEnd: { _ in ended.withLockedValue { $0 = true } }) { [inner] _ in inner.stop() }
        try await Task.sleep(for: .milliseconds(50))
        try sendUDP(toLoopbackPort: port, "stop-me")
        #expect(try await eventually { ended.withLockedValue { $0 } })
        await inner.stop()
    }

    @Test("withCapture feeds a stream and always stops, also when the body throws")
    func scoped() async throws {
        let port = randomPort()
        let payloads = try await withCapture(device: "lo", filter: "udp dst port \(port)", bufferLimit: 16) { stream in
            try sendUDP(toLoopbackPort: port, "scoped", count: 2)
            var got: [String] = []
            for await packet in stream {
                got.append(String(decoding: packet.payload, as: UTF8.self))
                if got.count == 2 { break }
            }
            return got
        }
        #expect(payloads == ["scoped", "scoped"])

        struct Boom: Error {}
        await #expect(throws: Boom.self) {
            try await withCapture(device: "lo", filter: "udp port \(port)") { _ in throw Boom() }
        }
        await #expect(throws: CaptureError.self) {
            try await withCapture(device: "lo", filter: "udp port nope") { _ in }
        }
    }

    @Test("open errors name the device and say what went wrong")
    func openErrors() throws {
        let missing = try #require(throws: CaptureError.self) { try CaptureSession(device: "spnodev0") }
        #expect(missing.code == .noSuchDevice && !missing.isPermissionDenied)
        #expect(missing.description.hasPrefix("capture on spnodev0: "))
        let badFilter = try #require(throws: CaptureError.self) { try CaptureSession(device: "lo", filter: "tcp port 99999") }
        #expect(badFilter.code == .filter)
        #expect(badFilter.description.hasPrefix("capture on lo: filter \"tcp port 99999\": "))
        let badGroup = try #require(throws: CaptureError.self) { try CaptureSession(device: "nflog:70000") }
        #expect(badGroup.description == "capture on nflog:70000: Netfilter group range from 0 to 65535 (got 70000)")
    }

    @Test("nflog:N sees what an nft `log group N` rule at input priority 100 logs; stop returns though libpcap blocks in recv")
    func nflog() async throws {
        let port = randomPort()
        let group = Int.random(in: 20_000...60_000)
        let table = "sptest\(UInt32.random(in: 0...UInt32.max))"
        let rules = """
            table inet \(table) {
                chain input {
                    type filter hook input priority 100; policy accept;
                    ip daddr 127.0.0.1 udp dport \(port) log group \(group) queue-threshold 1
                }
            }
            """
        let added = try run("/usr/sbin/nft", ["-f", "-"], input: rules)
        try #require(added.status == 0, "nft: \(added.output)")
        defer { _ = try? run("/usr/sbin/nft", ["delete", "table", "inet", table]) }

        // Unfiltered: NFLOG records, dissected through NFULA_PAYLOAD.
        let session = try CaptureSession(device: "nflog:\(group)")
        #expect(session.linkType == LinkType.nflog)
        let seen = NIOLockedValueBox<[CapturedPacket]>([])
        try session.start { packet in seen.withLockedValue { $0.append(packet) } }
        try await Task.sleep(for: .milliseconds(50))
        try sendUDP(toLoopbackPort: port, "nflog-probe", count: 2)
        #expect(try await eventually { seen.withLockedValue { $0.count } >= 2 })
        #expect(elapsed { session.stop() } < 1.0)
        let packets = seen.withLockedValue { $0 }
        #expect(packets.count == 2)
        #expect(packets.allSatisfy { $0.destinationPort == Int(port) && $0.payload == Array("nflog-probe".utf8) })
        #expect(session.statistics.received == 2)

        // Filtered: the session switches the device to raw IPv4, where filters compile.
        let filtered = try CaptureSession(device: "nflog:\(group)", filter: "udp dst port \(port) and udp[8] = 0x6b")
        #expect(filtered.linkType == LinkType.ipv4)
        let kept = NIOLockedValueBox<[CapturedPacket]>([])
        try filtered.start { packet in kept.withLockedValue { $0.append(packet) } }
        try await Task.sleep(for: .milliseconds(50))
        try sendUDP(toLoopbackPort: port, "nflog-not-me", count: 1)
        try sendUDP(toLoopbackPort: port, "kept", count: 1)
        #expect(try await eventually { kept.withLockedValue { $0.count } >= 1 })
        try await Task.sleep(for: .milliseconds(100))
        await filtered.stop()
        #expect(kept.withLockedValue { $0.map { String(decoding: $0.payload, as: UTF8.self) } } == ["kept"])
        #expect(filtered.statistics.received == 1)
    }

    @Test("NetworkInterfaces finds the device holding an address")
    func interfaces() throws {
        #expect(NetworkInterfaces.device(for: try #require(IPAddress("127.0.0.1"))) == "lo")
        #expect(NetworkInterfaces.device(for: try #require(IPAddress("198.19.255.254"))) == nil)
        #expect(
            NetworkInterfaces.addresses().contains { $0.device == "lo" && $0.address == IPAddress("::1") }
                || !FileManager.default.fileExists(atPath: "/proc/net/if_inet6"))
    }
}

@Suite("capture errors")
struct CaptureErrorTests {
    @Test("no privilege is told apart, also on nflog where libpcap says it only in words")
    func permission() {
        #expect(
            CaptureError.code(
                activateStatus: -8, message: "lo: You don't have permission to capture on that device (socket: Operation not permitted)")
                == .permissionDenied)
        #expect(CaptureError.code(activateStatus: -1, message: "NFULNL_CFG_CMD_PF_UNBIND: Operation not permitted") == .permissionDenied)
        #expect(CaptureError.code(activateStatus: -5, message: "spnodev0: No such device exists") == .noSuchDevice)
        #expect(CaptureError.code(activateStatus: -1, message: "Netfilter group range from 0 to 65535 (got 70000)") == .open)
        let e = CaptureError(.permissionDenied, device: "nflog:7", message: "NFULNL_CFG_CMD_PF_UNBIND: Operation not permitted")
        #expect(e.isPermissionDenied && e.description == "capture on nflog:7: NFULNL_CFG_CMD_PF_UNBIND: Operation not permitted")
    }

    @Test("without root, opening a device is a permission error", .enabled(if: !Privilege.isRoot, "running as root"))
    func unprivileged() throws {
        let error = try #require(throws: CaptureError.self) { try CaptureSession(device: "lo") }
        #expect(error.isPermissionDenied)
    }
}
