import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import SwarmProbeAgent
import SwarmProbeCore

/// The agent's command line, shared by `swarmprobe agent` and the lean `swarmprobe-agent` binary
/// (which links only the agent: no HTTP client, TLS, AWS or report code on production nodes).
public struct AgentOptions: ParsableArguments {
    public static let abstract = "Run the probe agent on this node: listeners on the profile's ports and the control endpoint."
    public static let discussion = """
        Binds each traffic kind of the profile on ADDR (2377/tcp, 7946/tcp+udp, 4789/udp; ESP when the profile \
        enables it and the agent may open a raw socket), answers only authenticated probes, and serves the signed \
        control endpoint on ADDR:\(Defaults.controlPort) (--control-port). Stops cleanly on SIGTERM or SIGINT.
        """

    public init() {}

    @Option(
        help: ArgumentHelp(
            "This node's advertise address (the one in the inventory); or a comma-separated list of addresses and prefixes of which this host holds exactly one (one command line for every node).",
            valueName: "addr"))
    var address: String

    @Option(
        help: ArgumentHelp("File holding the cluster token (see `swarmprobe token`); - reads it from the first line of stdin.", valueName: "file"))
    var tokenFile: String

    @Option(help: ArgumentHelp("Port of the control endpoint.", valueName: "port"))
    var controlPort: Int = Defaults.controlPort

    @Option(help: ArgumentHelp("Profile YAML (default: the built-in probes/swarm.yaml).", valueName: "file"))
    var profile: String?

    @Option(help: ArgumentHelp("The VXLAN port the swarm was created with (`docker swarm init --data-path-port`).", valueName: "port"))
    var dataPathPort: Int?

    @Option(
        help: ArgumentHelp(
            "Ports services will publish (`check --published`): listen on them too wherever nothing else holds them, and watch them in the capture taps.",
            valueName: "port/proto,..."))
    var published: String?

    @Option(
        help: ArgumentHelp(
            "Ports live services publish (`check --swarm`): watched in the capture taps, never bound, so the agent cannot answer for a routing mesh that does not.",
            valueName: "port/proto,..."))
    var publishedLive: String?

    @Flag(help: "Do not open the capture taps (libpcap on the interface, nflog after the firewall); silent drops then get where: unknown.")
    var noCapture = false

    @Option(help: ArgumentHelp("Log level: trace, debug, info, notice, warning, error.", valueName: "level"))
    var logLevel: String = "info"

    @Flag(help: "Stop when stdin ends: an agent started over SSH (`check --ssh`) stops with its session, whatever ended it.")
    var exitOnStdinEOF = false

    public func validate() throws {
        do { _ = try ListenAddress.parse(address) } catch { throw ValidationError(error.description) }
        guard (1...65535).contains(controlPort) else {
            throw ValidationError("--control-port: \(controlPort) is not a port number (1-65535)")
        }
        for (flag, value) in [("--published", published), ("--published-live", publishedLive)] {
            guard let value else { continue }
            do { _ = try PublishedTarget.parsePorts(value, source: flag) } catch { throw ValidationError(error.description) }
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level: \"\(logLevel)\" is not one of trace, debug, info, notice, warning, error")
        }
    }

    /// Runs the agent until SIGTERM or SIGINT.
    public func run() async throws {
        Heap.returnLargeBlocksAtOnce()  // before the agent allocates anything large
        let addr = try ListenAddress.resolve(address)
        let token = try tokenFile == "-" ? ClusterToken.parse(readLine() ?? "", source: "stdin") : ClusterToken.load(path: tokenFile)
        let base = try loadProfile(path: profile, dataPathPort: dataPathPort)
        let profile = try base.withPublished(
            published.map { try PublishedTarget.parsePorts($0, source: "--published") } ?? [],
            live: publishedLive.map { try PublishedTarget.parsePorts($0, source: "--published-live") } ?? [])
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = level
            return h
        }
        let logger = Logger(label: "swarmprobe.agent")
        var configuration = AgentConfiguration(address: addr, controlPort: controlPort, profile: profile, token: token)
        configuration.capture = !noCapture
        let agent = Agent(
            configuration: configuration,
            logger: logger
        ) { states, port in
            let kinds = states.map { s in "\(s.kind) \(s.mode.rawValue)\(s.detail.map { " (\($0))" } ?? "")" }
            printError("swarmprobe agent ready on \(addr), control port \(port), profile \(profile.name): " + kinds.joined(separator: ", "))
        }
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: agent)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        if exitOnStdinEOF { StdinWatch.start { Task { await group.triggerGracefulShutdown() } } }
        do {
            try await group.run()
        } catch let e as AgentStartupError {
            printError("swarmprobe agent: \(e)")
            throw ExitCode(1)
        }
    }
}
