import Foundation
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import SwarmProbeCore
import Testing

@testable import SwarmProbeAgent

/// A control service as the agent builds one (`Agent.run`), for the agent at `Fixture.agent`, with no capture
/// taps and a logger that prints nothing. Its prober is never asked to run a plan here.
func controlService(loop: any EventLoop) -> ControlService {
    ControlService(
        address: Fixture.agent, controlPort: 7950, profile: DefaultProfile.load(), token: Fixture.token, listeners: { [] }, taps: nil,
        responder: Responder(address: Fixture.agent, token: Fixture.token),
        prober: Prober(group: loop, address: Fixture.agent, token: Fixture.token, esp: nil, framedKinds: []),
        logger: Logger(label: "control-test", factory: { _ in SwiftLogNoOpLogHandler() }))
}

/// Plays the socket's part where the testing channel does not: a write after the connection closed fails and
/// never reaches the wire (as in `BaseSocketChannel`), so the outbound buffer holds only what a peer can read.
/// (A connection closed mid-request makes the HTTP decoder report the early end of stream; `ControlHTTPHandler`
/// answers that with a 400 that only a closed socket can take.)
final class ClosedSocket: ChannelOutboundHandler {
    typealias OutboundIn = Any

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard context.channel.isActive else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        context.write(data, promise: promise)
    }
}

/// One HTTP response as it left the channel.
struct WireResponse {
    var status: Int
    var headers: [(name: String, value: String)]
    var body: [UInt8]

    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// Parses a response from the start of `bytes`; nil until its head and `content-length` bytes of body are in.
    static func parse(_ bytes: [UInt8]) -> (WireResponse, rest: [UInt8])? {
        let separator = Array("\r\n\r\n".utf8)
        guard let end = bytes.indices.dropLast(3).first(where: { bytes[$0..<($0 + 4)].elementsEqual(separator) }) else { return nil }
        let lines = String(decoding: bytes[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let statusLine = lines[0].split(separator: " ", maxSplits: 2)
        guard statusLine.count >= 2, statusLine[0] == "HTTP/1.1", let status = Int(statusLine[1]) else { return nil }
        let headers = lines.dropFirst().map { line -> (name: String, value: String) in
            let parts = line.split(separator: ":", maxSplits: 1)
            return (String(parts[0]), parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : "")
        }
        let response = WireResponse(status: status, headers: headers, body: [])
        let length = Int(response.header("content-length") ?? "0") ?? 0
        let bodyStart = end + 4
        guard bytes.count >= bodyStart + length else { return nil }
        var complete = response
        complete.body = Array(bytes[bodyStart..<(bodyStart + length)])
        return (complete, Array(bytes[(bodyStart + length)...]))
    }
}

/// `ControlHTTPHandler` behind NIO's HTTP/1.1 server pipeline as `Agent.run` builds a control connection (plus
/// `ClosedSocket`), on an async testing channel: the handler answers from a task. Raw bytes in, raw bytes out.
@Suite("ControlHTTPHandler: the signed control endpoint, byte for byte", .timeLimit(.minutes(1)))
struct ControlHTTPHandlerTests {
    /// An accepted control connection to `service` on `loop` (one the test made for it).
    func connection(_ service: ControlService, loop: NIOAsyncTestingEventLoop) async throws -> NIOAsyncTestingChannel {
        let tracker = ControlConnections(limit: 128)
        let channel = try await NIOAsyncTestingChannel(loop: loop) { channel in
            try channel.pipeline.syncOperations.addHandler(ClosedSocket())
            // Our own handler answers malformed HTTP (as the agent does: NIO's error handler stays out).
            try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: false)
            try channel.pipeline.syncOperations.addHandler(ControlHTTPHandler(service: service, tracker: tracker))
        }
        try await channel.connect(to: Fixture.address(Fixture.peer, 50_000)).get()
        return channel
    }

    /// A request's bytes; `contentLength` overrides the body's own length (a head announcing more than is sent).
    func request(
        _ method: String, _ path: String, body: [UInt8] = [], authorization: String?,
        contentLength: Int? = nil
    ) -> ByteBuffer {
        var head = "\(method) \(path) HTTP/1.1\r\nhost: 10.0.0.1:7947\r\n"
        if let authorization { head += "authorization: \(authorization)\r\n" }
        if method == "POST" || contentLength != nil { head += "content-length: \(contentLength ?? body.count)\r\n" }
        var buffer = ByteBuffer(string: head + "\r\n")
        buffer.writeBytes(body)
        return buffer
    }

    /// A request signed with the cluster's control key, as the coordinator signs one; with its nonce.
    func signed(_ method: String, _ path: String, body: [UInt8] = WireCodec.encode(HelloRequest())) -> (bytes: ByteBuffer, nonce: String) {
        let auth = ControlAuth.sign(key: Fixture.token.controlKey, method: method, path: path, body: body, timeMs: nowMs())
        return (request(method, path, body: body, authorization: auth.header), auth.nonce)
    }

    /// The next response on the channel, waiting for it when the handler answers from a task.
    func response(_ channel: NIOAsyncTestingChannel) async throws -> WireResponse {
        var bytes: [UInt8] = []
        while true {
            let buffer = try await channel.waitForOutboundWrite(as: ByteBuffer.self)
            bytes += buffer.readableBytesView
            if let (response, rest) = WireResponse.parse(bytes) {
                #expect(rest.isEmpty)
                return response
            }
        }
    }

    /// What else the channel has written (empty writes, such as the end of a response, add nothing).
    func moreBytes(_ channel: NIOAsyncTestingChannel) async throws -> [UInt8] {
        var bytes: [UInt8] = []
        while let buffer = try await channel.readOutbound(as: ByteBuffer.self) { bytes += buffer.readableBytesView }
        return bytes
    }

    /// Whether the connection is still open, once the loop has run what is due.
    func isOpen(_ channel: NIOAsyncTestingChannel) async -> Bool {
        await channel.testingEventLoop.run()
        return channel.isActive
    }

    /// An error body: one line of JSON with an "error" string (no other key is pinned: the wire's key style may change).
    func expectErrorLine(_ response: WireResponse, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!response.body.contains(UInt8(ascii: "\n")), sourceLocation: sourceLocation)
        let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        #expect(object?["error"] is String, "body: \(String(decoding: response.body, as: UTF8.self))", sourceLocation: sourceLocation)
        #expect(response.header("content-type") == "application/json", sourceLocation: sourceLocation)
        #expect(response.header("content-length") == String(response.body.count), sourceLocation: sourceLocation)
    }

    /// The answer's `X-Swarmprobe-Mac` signs its status and body under the request's nonce.
    func expectSigned(_ response: WireResponse, nonce: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let mac = response.header(ControlAuth.responseHeader)
        #expect(
            ControlAuth.verifyResponse(
                key: Fixture.token.controlKey, requestNonce: nonce, status: response.status,
                body: response.body, mac: mac), sourceLocation: sourceLocation)
        #expect(
            !ControlAuth.verifyResponse(
                key: Fixture.otherToken.controlKey, requestNonce: nonce, status: response.status,
                body: response.body, mac: mac), sourceLocation: sourceLocation)
    }

    /// Authorization headers refused at the head, before any body is read.
    enum Refused: String, CaseIterable, CustomTestStringConvertible {
        case missing = "no Authorization header"
        case scheme = "another scheme"
        case noMAC = "SWP1 without a mac"
        case stale = "signed two minutes ago"
        case future = "signed two minutes ahead"

        var testDescription: String { rawValue }

        func header(body: [UInt8]) -> String? {
            let key = Fixture.token.controlKey
            switch self {
            case .missing: return nil
            case .scheme: return "Bearer abc"
            case .noMAC: return "SWP1 ts=\(nowMs()),nonce=\(Hex.encode(randomBytes(16)))"
            case .stale: return ControlAuth.sign(key: key, method: "POST", path: ControlPath.hello, body: body, timeMs: nowMs() - 120_000).header
            case .future: return ControlAuth.sign(key: key, method: "POST", path: ControlPath.hello, body: body, timeMs: nowMs() + 120_000).header
            }
        }
    }

    @Test(
        "a request that cannot authenticate: 401 at its head, unsigned, and the connection closes; no body is buffered",
        arguments: Refused.allCases)
    func unauthorizedAtHead(_ refused: Refused) async throws {
        let loop = NIOAsyncTestingEventLoop()
        let service = controlService(loop: loop)
        let channel = try await connection(service, loop: loop)
        // The head and only part of the body it announces: the answer does not wait for the rest.
        let body = [UInt8](repeating: UInt8(ascii: "x"), count: 1000)
        try await channel.writeInbound(
            request(
                "POST", ControlPath.hello, body: Array(body.prefix(500)),
                authorization: refused.header(body: body), contentLength: 1000))
        let response = try await response(channel)
        #expect(response.status == 401)
        #expect(response.header("connection") == "close")
        #expect(response.header(ControlAuth.responseHeader) == nil)
        expectErrorLine(response)
        #expect(await !isOpen(channel))
        #expect(try await moreBytes(channel).isEmpty)
        // Nothing of the body was held: the whole budget is still free.
        #expect(service.reserve(ControlService.bodyBudget))
        service.release(ControlService.bodyBudget)
        _ = try await channel.finish(acceptAlreadyClosed: true)
    }

    @Test("a valid signed POST /v1/hello: 200, signed with the request's nonce; the connection stays open")
    func hello() async throws {
        let loop = NIOAsyncTestingEventLoop()
        let service = controlService(loop: loop)
        let channel = try await connection(service, loop: loop)
        await loop.advanceTime(by: .seconds(1))
        let request = signed("POST", ControlPath.hello)
        try await channel.writeInbound(request.bytes)
        let response = try await response(channel)
        #expect(response.status == 200)
        #expect(response.header("content-type") == "application/json")
        #expect(response.header("content-length") == String(response.body.count))
        #expect(response.header("connection") == nil)
        expectSigned(response, nonce: request.nonce)
        #expect(!response.body.contains(UInt8(ascii: "\n")))
        let hello = try WireCodec.decode(HelloResponse.self, from: response.body, source: "hello")
        #expect(hello.protocolVersion == ControlProtocol.version && hello.address == Fixture.agent)
        #expect(try await moreBytes(channel).isEmpty)
        // Kept alive, until it sends no new head for 2 s after the answer (given at 1 s).
        await loop.advanceTime(to: .uptimeNanoseconds(0) + .seconds(3) - .nanoseconds(1))
        #expect(await isOpen(channel))
        await loop.advanceTime(by: .nanoseconds(1))
        #expect(await !isOpen(channel))
        _ = try await channel.finish(acceptAlreadyClosed: true)
    }

    @Test(
        "a hello of another protocol version (0.1's coordinators sent {}): 409, signed, naming both versions and which to upgrade",
        arguments: [Array("{}".utf8), WireCodec.encode(HelloRequest(protocolVersion: ControlProtocol.version + 1, toolVersion: "9.9"))])
    func helloOfAnotherVersion(body: [UInt8]) async throws {
        let loop = NIOAsyncTestingEventLoop()
        let channel = try await connection(controlService(loop: loop), loop: loop)
        let request = signed("POST", ControlPath.hello, body: body)
        try await channel.writeInbound(request.bytes)
        let response = try await response(channel)
        #expect(response.status == 409)
        expectSigned(response, nonce: request.nonce)
        let refusal = try WireCodec.decode(ErrorResponse.self, from: response.body, source: "hello")
        #expect(refusal.protocolVersion == ControlProtocol.version)
        let newer = body.count > 2
        #expect(
            refusal.error
                == "the agent at \(Fixture.agent):7950 speaks control protocol \(ControlProtocol.version) (swarmprobe \(SwarmProbeVersion.current)), "
                + (newer
                    ? "this coordinator protocol \(ControlProtocol.version + 1) (swarmprobe 9.9): upgrade the agent"
                    : "this coordinator protocol 1: upgrade the coordinator (swarmprobe where the check runs)"))
        _ = try await channel.finish(acceptAlreadyClosed: true)
    }

    @Test("the same signed request again, on a new connection: 401 at the head (a replay), and closed")
    func replay() async throws {
        let loop = NIOAsyncTestingEventLoop()
        let service = controlService(loop: loop)
        let request = signed("POST", ControlPath.hello)
        let first = try await connection(service, loop: loop)
        try await first.writeInbound(request.bytes)
        #expect(try await response(first).status == 200)

        let second = try await connection(service, loop: loop)
        try await second.writeInbound(request.bytes)
        let response = try await response(second)
        #expect(response.status == 401)
        #expect(response.header("connection") == "close")
        #expect(response.header(ControlAuth.responseHeader) == nil)
        expectErrorLine(response)
        #expect(await !isOpen(second))
        #expect(await isOpen(first))
        _ = try await first.finish(acceptAlreadyClosed: true)
        _ = try await second.finish(acceptAlreadyClosed: true)
    }

    @Test("a well-formed header with a wrong MAC passes the head check: 401 once the body is in, unsigned, kept open")
    func badMAC() async throws {
        let loop = NIOAsyncTestingEventLoop()
        let service = controlService(loop: loop)
        let channel = try await connection(service, loop: loop)
        let body = Array("{}".utf8)
        let forged = ControlAuth.sign(
            key: Fixture.otherToken.controlKey, method: "POST", path: ControlPath.hello, body: body,
            timeMs: nowMs())
        // The head alone: nothing yet (the MAC covers the body, so it is checked once the body is in).
        var bytes = request("POST", ControlPath.hello, body: body, authorization: forged.header)
        let head = bytes.readSlice(length: bytes.readableBytes - body.count)!
        try await channel.writeInbound(head)
        #expect(try await moreBytes(channel).isEmpty)
        try await channel.writeInbound(bytes)
        let response = try await response(channel)
        #expect(response.status == 401)
        #expect(response.header(ControlAuth.responseHeader) == nil)
        #expect(response.header("connection") == nil)
        expectErrorLine(response)
        #expect(await isOpen(channel))
        _ = try await channel.finish(acceptAlreadyClosed: true)
    }

    @Test("signed, but a GET: 405, signed")
    func get() async throws {
        let loop = NIOAsyncTestingEventLoop()
        let channel = try await connection(controlService(loop: loop), loop: loop)
        let auth = ControlAuth.sign(key: Fixture.token.controlKey, method: "GET", path: ControlPath.hello, body: [], timeMs: nowMs())
        try await channel.writeInbound(request("GET", ControlPath.hello, authorization: auth.header))
        let response = try await response(channel)
        #expect(response.status == 405)
        expectErrorLine(response)
        expectSigned(response, nonce: auth.nonce)
        #expect(await isOpen(channel))
        _ = try await channel.finish(acceptAlreadyClosed: true)
    }

    @Test("signed, but an unknown path: 404, signed")
    func unknownPath() async throws {
        let loop = NIOAsyncTestingEventLoop()
        let channel = try await connection(controlService(loop: loop), loop: loop)
        let request = signed("POST", "/v1/nothing-here")
        try await channel.writeInbound(request.bytes)
        let response = try await response(channel)
        #expect(response.status == 404)
        expectErrorLine(response)
        expectSigned(response, nonce: request.nonce)
        #expect(await isOpen(channel))
        _ = try await channel.finish(acceptAlreadyClosed: true)
    }

    @Test("a signed stop for a run this agent never carried out: 404 in one line, signed; the connection stays")
    func stopOfAnUnknownRun() async throws {
        let loop = NIOAsyncTestingEventLoop()
        let channel = try await connection(controlService(loop: loop), loop: loop)
        let request = signed("POST", ControlPath.stop, body: WireCodec.encode(StopRequest(runID: String(repeating: "ab", count: 16))))
        try await channel.writeInbound(request.bytes)
        let response = try await response(channel)
        #expect(response.status == 404)
        expectErrorLine(response)
        #expect(String(decoding: response.body, as: UTF8.self).contains("no such run on this agent"))
        expectSigned(response, nonce: request.nonce)
        #expect(await isOpen(channel))
        _ = try await channel.finish(acceptAlreadyClosed: true)
    }

    @Test("a content-length over 4 MiB: 413 at the head, and closed; exactly 4 MiB waits for its body")
    func tooLargeAnnounced() async throws {
        let loop = NIOAsyncTestingEventLoop()
        let service = controlService(loop: loop)
        let channel = try await connection(service, loop: loop)
        try await channel.writeInbound(request("POST", ControlPath.run, authorization: nil, contentLength: ControlAuth.maximumBodyBytes + 1))
        let response = try await response(channel)
        #expect(response.status == 413)
        #expect(response.header("connection") == "close")
        expectErrorLine(response)
        #expect(await !isOpen(channel))
        _ = try await channel.finish(acceptAlreadyClosed: true)

        let atLimit = try await connection(service, loop: loop)
        let auth = ControlAuth.sign(key: Fixture.token.controlKey, method: "POST", path: ControlPath.run, body: [], timeMs: nowMs())
        try await atLimit.writeInbound(request("POST", ControlPath.run, authorization: auth.header, contentLength: ControlAuth.maximumBodyBytes))
        #expect(try await moreBytes(atLimit).isEmpty)
        #expect(await isOpen(atLimit))
        _ = try await atLimit.finish(acceptAlreadyClosed: true)
    }

    @Test("a chunked body that grows past 4 MiB: 413 at the byte over, closed, and its buffer released")
    func tooLargeStreamed() async throws {
        let loop = NIOAsyncTestingEventLoop()
        let service = controlService(loop: loop)
        let channel = try await connection(service, loop: loop)
        let auth = ControlAuth.sign(key: Fixture.token.controlKey, method: "POST", path: ControlPath.run, body: [], timeMs: nowMs())
        try await channel.writeInbound(
            ByteBuffer(
                string: "POST \(ControlPath.run) HTTP/1.1\r\nhost: a\r\nauthorization: \(auth.header)\r\n"
                    + "transfer-encoding: chunked\r\n\r\n"))
        var chunk = ByteBuffer(string: String(ControlAuth.maximumBodyBytes, radix: 16) + "\r\n")
        chunk.writeRepeatingByte(UInt8(ascii: "x"), count: ControlAuth.maximumBodyBytes)
        chunk.writeString("\r\n")
        try await channel.writeInbound(chunk)
        #expect(try await moreBytes(channel).isEmpty)
        #expect(!service.reserve(ControlService.bodyBudget))  // 4 MiB held
        try await channel.writeInbound(ByteBuffer(string: "1\r\nx\r\n"))
        let response = try await response(channel)
        #expect(response.status == 413)
        #expect(response.header("connection") == "close")
        expectErrorLine(response)
        #expect(await !isOpen(channel))
        #expect(service.reserve(ControlService.bodyBudget))
        service.release(ControlService.bodyBudget)
        _ = try await channel.finish(acceptAlreadyClosed: true)
    }

    @Test("the agent's buffered bodies at their budget: a new body gets 503, and the connection closes")
    func overBudget() async throws {
        let loop = NIOAsyncTestingEventLoop()
        let service = controlService(loop: loop)
        #expect(service.reserve(ControlService.bodyBudget - 1))
        let channel = try await connection(service, loop: loop)
        try await channel.writeInbound(signed("POST", ControlPath.hello).bytes)
        let response = try await response(channel)
        #expect(response.status == 503)
        #expect(response.header("connection") == "close")
        expectErrorLine(response)
        #expect(await !isOpen(channel))
        service.release(ControlService.bodyBudget - 1)
        _ = try await channel.finish(acceptAlreadyClosed: true)
    }

    @Test("bytes that are not HTTP: one 400 with a one-line error, then closed")
    func notHTTP() async throws {
        let loop = NIOAsyncTestingEventLoop()
        let channel = try await connection(controlService(loop: loop), loop: loop)
        // A TLS ClientHello's first bytes, then more junk.
        try await channel.writeInbound(
            ByteBuffer(
                bytes: [0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03]
                    + Array("\r\n\r\nGARBAGE\r\n\r\n".utf8)))
        let response = try await response(channel)
        #expect(response.status == 400)
        #expect(response.header("connection") == "close")
        expectErrorLine(response)
        #expect(try await moreBytes(channel).isEmpty)
        #expect(await !isOpen(channel))
        _ = try await channel.finish(acceptAlreadyClosed: true)
    }

    @Test("no request head within 2 s: closed, nothing written")
    func headDeadline() async throws {
        let loop = NIOAsyncTestingEventLoop()
        let channel = try await connection(controlService(loop: loop), loop: loop)
        await loop.advanceTime(by: .seconds(2) - .nanoseconds(1))
        #expect(await isOpen(channel))
        await loop.advanceTime(by: .nanoseconds(1))
        #expect(await !isOpen(channel))
        #expect(try await moreBytes(channel).isEmpty)
        _ = try await channel.finish(acceptAlreadyClosed: true)
    }

    @Test("a head but not the rest of the request within 10 s: closed, nothing written")
    func requestDeadline() async throws {
        let loop = NIOAsyncTestingEventLoop()
        let channel = try await connection(controlService(loop: loop), loop: loop)
        let auth = ControlAuth.sign(key: Fixture.token.controlKey, method: "POST", path: ControlPath.hello, body: [], timeMs: nowMs())
        try await channel.writeInbound(request("POST", ControlPath.hello, authorization: auth.header, contentLength: 100))
        await loop.advanceTime(by: .seconds(10) - .nanoseconds(1))
        #expect(await isOpen(channel))
        await loop.advanceTime(by: .nanoseconds(1))
        #expect(await !isOpen(channel))
        #expect(try await moreBytes(channel).isEmpty)
        _ = try await channel.finish(acceptAlreadyClosed: true)
    }
}

@Suite("ControlConnections: the control endpoint's connection slots")
struct ControlConnectionsTests {
    /// Accepts `child` on `server` (the listener's pipeline); whether it was passed on to its own pipeline.
    func accept(_ child: EmbeddedChannel, on server: EmbeddedChannel) throws -> Bool {
        try child.connect(to: Fixture.address(Fixture.peer, 50_000)).wait()
        try server.writeInbound(child as any Channel)
        return try server.readInbound(as: (any Channel).self).map { $0 === child } ?? false
    }

    @Test("full: a newcomer evicts the oldest connection without a request head; with none, the newcomer is closed")
    func eviction() throws {
        let loop = EmbeddedEventLoop()
        let tracker = ControlConnections(limit: 3)
        let server = EmbeddedChannel(handler: tracker, loop: loop)
        let a = EmbeddedChannel(loop: loop), b = EmbeddedChannel(loop: loop), c = EmbeddedChannel(loop: loop)
        for child in [a, b, c] { #expect(try accept(child, on: server)) }
        #expect(tracker.count == 3)
        // `a` is the oldest but busy with a request: `b`, the oldest idle one, goes.
        tracker.sawHead(a)
        let d = EmbeddedChannel(loop: loop)
        #expect(try accept(d, on: server))
        #expect(a.isActive && !b.isActive && c.isActive && d.isActive)
        #expect(tracker.count == 3)
        // Every slot busy: the newcomer is refused.
        tracker.sawHead(c)
        tracker.sawHead(d)
        let e = EmbeddedChannel(loop: loop)
        #expect(try !accept(e, on: server))
        #expect(!e.isActive && a.isActive && c.isActive && d.isActive)
        // A closed connection frees its slot once its close completes.
        try c.close().wait()
        loop.run()
        #expect(tracker.count == 2)
        let f = EmbeddedChannel(loop: loop)
        #expect(try accept(f, on: server))
        #expect(a.isActive && d.isActive && f.isActive)
        for child in [a, b, c, d, e, f] { _ = try child.finish(acceptAlreadyClosed: true) }
        #expect(try server.finish().isClean)
    }

    @Test("ControlHTTPHandler tells the tracker when a request head arrives, which spares that connection")
    func headMarksBusy() throws {
        let loop = EmbeddedEventLoop()
        let tracker = ControlConnections(limit: 2)
        let server = EmbeddedChannel(handler: tracker, loop: loop)
        let busy = EmbeddedChannel(handler: ControlHTTPHandler(service: controlService(loop: loop), tracker: tracker), loop: loop)
        let idle = EmbeddedChannel(loop: loop)
        #expect(try accept(busy, on: server))
        #expect(try accept(idle, on: server))
        // A signed head whose body has not come yet: no answer, but the connection is in a request now.
        let auth = ControlAuth.sign(
            key: Fixture.token.controlKey, method: "POST", path: ControlPath.hello, body: Array("{}".utf8),
            timeMs: nowMs())
        let head = HTTPRequestHead(
            version: .http1_1, method: .POST, uri: ControlPath.hello,
            headers: ["authorization": auth.header, "content-length": "2"])
        try busy.writeInbound(HTTPServerRequestPart.head(head))
        #expect(try busy.readOutbound(as: HTTPServerResponsePart.self) == nil)
        let newcomer = EmbeddedChannel(loop: loop)
        #expect(try accept(newcomer, on: server))
        #expect(busy.isActive && !idle.isActive && newcomer.isActive)
        for child in [busy, idle, newcomer] { _ = try child.finish(acceptAlreadyClosed: true) }
        #expect(try server.finish().isClean)
    }
}
