import Foundation
import SwarmProbeCore
import SwarmProbeProcess

/// A mesh of network namespaces on one bridge, with faults injected by nftables. Every name is unique per
/// lab; `destroy()` removes all of it and is safe to call more than once, from a signal handler's path too.
public final class Lab: @unchecked Sendable {
    // Mutable state (agents, destroyed) is guarded by `lock`; the rest is set in init.
    public let id: String
    public let switchNamespace: String
    public let nodes: [LabNode]
    /// The address of the bridge in the switch namespace: where the coordinator runs.
    public let coordinatorAddress: IPAddress
    public let directory: URL
    private let lock = NSLock()
    private let agents: AgentSupervisor
    private var destroyed = false
    private var faults: [LabFault] = []
    private var ssh: LabSSH?

    public static let prefixLength = 16

    /// Is this process allowed to build labs (root, `ip netns`, nft)?
    public static func canBuild() -> String? {
        guard geteuid() == 0 else { return "needs root (network namespaces)" }
        for tool in ["ip", "nft"] {
            if (try? Program.path(tool)) == nil { return "\(tool) is not installed (apt-get install -y iproute2 nftables)" }
        }
        return nil
    }

    /// Builds the lab: a switch namespace with bridge `br0` and one namespace per node.
    /// Addresses come from 198.18.0.0/16 (RFC 2544 benchmarking space), never routed off this host.
    public init(nodes specs: [(name: String, role: Role)]) throws {
        precondition(specs.count <= 4000)
        let id = "sp" + String(format: "%04x", UInt16.random(in: 0...UInt16.max))
        self.id = id
        switchNamespace = "\(id)-sw"
        coordinatorAddress = .v4(198, 18, 0, 1)
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("swarmprobe-lab-\(id)")
        agents = AgentSupervisor(directory: directory)
        nodes = specs.enumerated().map { i, s in
            let n = i + 1
            return LabNode(
                name: s.name, role: s.role, address: .v4(198, 18, UInt8(1 + n / 250), UInt8(10 + n % 250)),
                namespace: "\(id)-\(n)", bridgePort: "\(id)p\(n)")
        }
        LabRegistry.shared.add(self)
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try build()
        } catch {
            destroy()
            throw error
        }
    }

    private func build() throws {
        try Program.run(["ip", "netns", "add", switchNamespace])
        try Program.run(["ip", "-n", switchNamespace, "link", "set", "lo", "up"])
        try Program.run(["ip", "-n", switchNamespace, "link", "add", "br0", "type", "bridge"])
        try Program.run(["ip", "-n", switchNamespace, "addr", "add", "\(coordinatorAddress)/\(Lab.prefixLength)", "dev", "br0"])
        try Program.run(["ip", "-n", switchNamespace, "link", "set", "br0", "up"])
        // The bridge family table that network faults go into (security groups, NACLs). Dropped paths are
        // elements of sets, looked up once per packet: as one rule each, a 32-node lab's 331 drops were
        // walked by every packet crossing the switch (3.5 % of the machine's CPU during a check, all of it
        // taken from the agents, which share these cores), where a real security group costs the nodes nothing.
        // The coordinator's own traffic (it runs here, on br0's address) leaves by the bridge's output hook and
        // comes back by its input hook: the same sets drop it there, so faults can name `Lab.coordinator`.
        try nft(
            switchNamespace,
            """
            table bridge spnet {
              set drops { type ipv4_addr . ipv4_addr . inet_proto . inet_service; }
              set returnDrops { type ipv4_addr . ipv4_addr . inet_proto . inet_service; }
              set espDrops { type ipv4_addr . ipv4_addr; }
              chain filt {
                type filter hook forward priority 0; policy accept;
                ip saddr . ip daddr . meta l4proto . th dport @drops drop
                ip saddr . ip daddr . meta l4proto . th sport @returnDrops drop
                ip protocol esp ip saddr . ip daddr @espDrops drop
              }
              chain fromCoordinator {
                type filter hook output priority 0; policy accept;
                ip saddr . ip daddr . meta l4proto . th dport @drops drop
              }
              chain toCoordinator {
                type filter hook input priority 0; policy accept;
                ip saddr . ip daddr . meta l4proto . th sport @returnDrops drop
              }
            }
            """)
        for (i, node) in nodes.enumerated() {
            let tmp = "\(id)n\(i + 1)"
            try Program.run(["ip", "netns", "add", node.namespace])
            try Program.run([
                "ip", "link", "add", tmp, "netns", node.namespace, "type", "veth", "peer", "name", node.bridgePort, "netns", switchNamespace,
            ])
            try Program.run(["ip", "-n", node.namespace, "link", "set", tmp, "name", "eth0"])
            try Program.run(["ip", "-n", node.namespace, "addr", "add", "\(node.address)/\(Lab.prefixLength)", "dev", "eth0"])
            try Program.run(["ip", "-n", node.namespace, "link", "set", "eth0", "up"])
            try Program.run(["ip", "-n", node.namespace, "link", "set", "lo", "up"])
            try Program.run(["ip", "-n", switchNamespace, "link", "set", node.bridgePort, "master", "br0"])
            try Program.run(["ip", "-n", switchNamespace, "link", "set", node.bridgePort, "up"])
            // As on a node where dockerd runs (it turns forwarding on): a new namespace has it off, and the
            // agents report that as a host problem (`ip-forward-off`).
            try setIPForward(node.name, true)
        }
    }

    /// The name faults use for the coordinator's end (the switch namespace, where checks run).
    public static let coordinator = "coordinator"

    /// A node's address, or the coordinator's for `Lab.coordinator`.
    func address(_ name: String) -> IPAddress {
        name == Lab.coordinator ? coordinatorAddress : node(name).address
    }

    /// Sets `net.ipv4.ip_forward` in a node's namespace (each namespace has its own).
    public func setIPForward(_ name: String, _ on: Bool) throws {
        try Program.run(["ip", "netns", "exec", node(name).namespace, "tee", "/proc/sys/net/ipv4/ip_forward"], input: on ? "1\n" : "0\n")
    }

    /// Gives a node a second address on its lab interface (eth0), as a second NIC or a secondary IP would.
    public func addAddress(_ name: String, _ address: IPAddress) throws {
        try Program.run(["ip", "-n", node(name).namespace, "addr", "add", "\(address)/\(Lab.prefixLength)", "dev", "eth0"])
    }

    /// A host route toward `peer`'s address whose source is `source` (`ip route add PEER/32 dev eth0 src SOURCE`):
    /// the kernel then sends to that peer from `source`, whatever a program advertises.
    public func addSourceRoute(_ name: String, toward peer: String, source: IPAddress) throws {
        try Program.run([
            "ip", "-n", node(name).namespace, "route", "add", "\(node(peer).address)/32", "dev", "eth0", "src", source.description,
        ])
    }

    /// Adds a route through the node's lab interface (eth0): a site's route, for the host checks.
    public func addRoute(_ name: String, _ prefix: CIDR) throws {
        try Program.run(["ip", "-n", node(name).namespace, "route", "add", prefix.description, "dev", "eth0"])
    }

    public func node(_ name: String) -> LabNode {
        guard let n = nodes.first(where: { $0.name == name }) else { preconditionFailure("no lab node \(name)") }
        return n
    }

    private func nft(_ namespace: String, _ script: String) throws {
        try Program.run(["ip", "netns", "exec", namespace, "nft", "-f", "-"], input: script)
    }

    private static func match(_ kind: KindID, port: String) -> String {
        switch kind.proto {
        case .esp: return "ip protocol esp"
        case .tcp, .udp: return "\(kind.proto.rawValue) \(port) \(kind.port!)"
        }
    }

    /// The second address `sourceNAT` gives a node.
    public func natAddress(_ name: String) -> IPAddress {
        guard case let .v4(_, _, _, d) = node(name).address else { preconditionFailure("lab nodes are IPv4") }
        return .v4(198, 18, 2, d)
    }

    public func inject(_ fault: LabFault) throws {
        lock.withLock { faults.append(fault) }
        if case let .sourceNAT(name, kind) = fault {
            let n = node(name), other = natAddress(name)
            try Program.run(["ip", "-n", n.namespace, "addr", "add", "\(other)/\(Lab.prefixLength)", "dev", "eth0"])
            try nft(
                n.namespace,
                """
                table ip spnat {
                  chain post { type nat hook postrouting priority 100; policy accept; }
                }
                add rule ip spnat post \(Lab.match(kind, port: "dport")) snat to \(other)
                """)
            return
        }
        if case let .routedHop(from, to, mtu) = fault {
            try routeThroughSwitch(from: from, to: to, mtu: mtu)
            return
        }
        let (namespace, rule) = nftRule(fault)
        try nft(namespace, Lab.preamble(namespace == switchNamespace) + rule + "\n")
    }

    /// The switch namespace becomes a router for `from -> to`: it forwards on br0 (without redirects, which
    /// would let `from` go around it) and its route to `to` carries `mtu` bytes, so it sends "fragmentation
    /// needed" for larger packets with Don't Fragment set, as a tunnel's or VPN's router does.
    private func routeThroughSwitch(from: String, to: String, mtu: Int) throws {
        let target = node(to).address
        for (key, value) in [("net.ipv4.ip_forward", "1"), ("net.ipv4.conf.all.send_redirects", "0"), ("net.ipv4.conf.br0.send_redirects", "0")] {
            try Program.run(["ip", "netns", "exec", switchNamespace, "sysctl", "-qw", "\(key)=\(value)"])
        }
        try Program.run(["ip", "-n", switchNamespace, "route", "replace", "\(target)/32", "dev", "br0", "mtu", "lock", "\(mtu)"])
        try Program.run(["ip", "-n", node(from).namespace, "route", "replace", "\(target)/32", "via", "\(coordinatorAddress)", "dev", "eth0"])
    }

    /// Takes a network drop out again (the path works from the next packet on).
    public func heal(networkDrop from: String, to: String, kind: KindID) throws {
        let element = dropElement(set: "drops", from: address(from), to: address(to), kind)
        try nft(switchNamespace, element.replacingOccurrences(of: "add element", with: "delete element") + "\n")
        lock.withLock {
            faults.removeAll { if case let .networkDrop(f, t, k) = $0 { return f == from && t == to && k == kind } else { return false } }
        }
    }

    /// Injects many faults with one `nft -f` per namespace (a thousand one-rule `nft` runs take
    /// seconds; one script per namespace takes milliseconds). Same rules, same order as `inject(_:)`.
    public func inject(_ batch: [LabFault]) throws {
        var scripts: [String: [String]] = [:]
        var order: [String] = []
        for fault in batch {
            switch fault {
            case .sourceNAT, .routedHop:
                try inject(fault)
                continue
            default: break
            }
            let (namespace, rule) = nftRule(fault)
            if scripts[namespace] == nil { order.append(namespace) }
            scripts[namespace, default: []].append(rule)
            lock.withLock { faults.append(fault) }
        }
        for namespace in order {
            try nft(namespace, Lab.preamble(namespace == switchNamespace) + scripts[namespace]!.joined(separator: "\n") + "\n")
        }
    }

    /// What must exist before a rule: the switch's bridge table is made at build; a node's firewall table here.
    private static func preamble(_ inSwitch: Bool) -> String {
        inSwitch
            ? ""
            : """
            table inet spfw {
              chain input { type filter hook input priority 0; policy accept; }
              chain output { type filter hook output priority 0; policy accept; }
            }

            """
    }

    /// A dropped path in the switch's sets (built in `build`): `set` matches the destination port, `returnDrops`
    /// the source port (the answers); ESP has no port.
    private func dropElement(set: String, from: IPAddress, to: IPAddress, _ kind: KindID) -> String {
        switch kind.proto {
        case .esp: return "add element bridge spnet espDrops { \(from) . \(to) }"
        case .tcp, .udp: return "add element bridge spnet \(set) { \(from) . \(to) . \(kind.proto.rawValue) . \(kind.port!) }"
        }
    }

    /// The namespace and the `add rule` (or set element) line of a network or host-firewall fault.
    private func nftRule(_ fault: LabFault) -> (namespace: String, rule: String) {
        switch fault {
        case let .networkDrop(from, to, kind):
            return (switchNamespace, dropElement(set: "drops", from: address(from), to: address(to), kind))
        case let .returnPathDrop(from, to, kind):
            return (switchNamespace, dropElement(set: "returnDrops", from: address(to), to: address(from), kind))
        case let .hostFirewall(name, from, kind, reject):
            let source = from.map { "ip saddr \(node($0).address) " } ?? ""
            let action = reject ? (kind.proto == .tcp ? "reject with tcp reset" : "reject") : "drop"
            return (node(name).namespace, "add rule inet spfw input \(source)\(Lab.match(kind, port: "dport")) \(action)")
        case let .randomLoss(name, percent):
            precondition((1...99).contains(percent))
            let port = node(name).bridgePort
            return (
                switchNamespace,
                """
                add rule bridge spnet filt iifname \(port) ether type ip numgen random mod 100 < \(percent) drop
                add rule bridge spnet filt oifname \(port) ether type ip numgen random mod 100 < \(percent) drop
                """
            )
        case let .answersDroppedBySender(name, from, kind):
            let source = from.map { "ip saddr \(node($0).address) " } ?? ""
            return (node(name).namespace, "add rule inet spfw input \(source)\(Lab.match(kind, port: "sport")) drop")
        case let .senderFirewall(name, to, kind):
            // New traffic only: the answers it sends to others' probes are the replies of their connections.
            let dest = to.map { "ip daddr \(node($0).address) " } ?? ""
            return (node(name).namespace, "add rule inet spfw output ct state new \(dest)\(Lab.match(kind, port: "dport")) drop")
        case let .bigPacketDrop(from, to, kind, above):
            return (
                switchNamespace,
                "add rule bridge spnet filt ip saddr \(address(from)) ip daddr \(address(to)) \(Lab.match(kind, port: "dport")) ip length > \(above) drop"
            )
        case .sourceNAT, .routedHop:
            preconditionFailure("\(fault) is not one nft rule")
        }
    }

    /// Packet counters of every node's bridge port, read in the switch namespace with one `ip -s -j link`:
    /// a port's `rx` is what its node sent, its `tx` what the node was sent. Keyed by node name.
    public func portCounters() throws -> [String: (sentPackets: UInt64, sentBytes: UInt64)] {
        let text = try Program.run(["ip", "-n", switchNamespace, "-s", "-j", "link", "show"])
        guard let links = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]] else { return [:] }
        var byPort: [String: (UInt64, UInt64)] = [:]
        for link in links {
            guard let name = link["ifname"] as? String, let stats = link["stats64"] as? [String: Any],
                let rx = stats["rx"] as? [String: Any]
            else { continue }
            let packets = (rx["packets"] as? NSNumber)?.uint64Value ?? 0
            let bytes = (rx["bytes"] as? NSNumber)?.uint64Value ?? 0
            byPort[name] = (packets, bytes)
        }
        var out: [String: (sentPackets: UInt64, sentBytes: UInt64)] = [:]
        for n in nodes { if let c = byPort[n.bridgePort] { out[n.name] = (c.0, c.1) } }
        return out
    }

    /// Pins every lab address in every lab namespace's neighbour table (`nud permanent`), so no ARP runs.
    /// The kernel's ARP table is one for all namespaces, and its `gc_thresh3` (1024 by default) caps the
    /// entries it will resolve: a 32-node lab needs 33 x 32 of them, and past the cap resolution fails
    /// ("neighbour: arp_cache: neighbor table overflow!") and whole node pairs fall silent, which a check
    /// then rightly reports as blocked. Permanent entries are exempt from that cap. Idempotent.
    public func pinNeighbours() throws {
        func mac(_ namespace: String, _ dev: String) throws -> String {
            let text = try Program.run(["ip", "-n", namespace, "-j", "link", "show", "dev", dev])
            guard let links = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]],
                let address = links.first?["address"] as? String
            else {
                throw ProgramError(command: ["ip", "-n", namespace, "link", "show", dev], status: -1, message: "no link address")
            }
            return address
        }
        var entries: [(address: IPAddress, mac: String)] = [(coordinatorAddress, try mac(switchNamespace, "br0"))]
        for n in nodes { entries.append((n.address, try mac(n.namespace, "eth0"))) }
        for (namespace, dev, own) in [(switchNamespace, "br0", coordinatorAddress)] + nodes.map({ ($0.namespace, "eth0", $0.address) }) {
            let batch =
                entries.filter { $0.address != own }
                .map { "neigh replace \($0.address) lladdr \($0.mac) dev \(dev) nud permanent" }.joined(separator: "\n") + "\n"
            try Program.run(["ip", "-n", namespace, "-batch", "-"], input: batch)
        }
    }

    public var injectedFaults: [LabFault] { lock.withLock { faults } }

    /// The inventory of this lab, as YAML a user would write.
    /// `sshUser`: each node with `ssh: USER@ADDRESS` (for `check --ssh`).
    public func inventoryYAML(sshUser: String? = nil) -> String {
        var s = "# swarmprobe lab \(id): namespaces on bridge br0 in \(switchNamespace)\nnodes:\n"
        for n in nodes {
            s += "  - name: \(n.name)\n    address: \(n.address)\n    role: \(n.role.rawValue)\n"
            if let sshUser { s += "    ssh: \(sshUser)@\(n.address)\n" }
        }
        return s
    }

    /// Writes a file into the lab's directory and returns its path.
    public func write(_ name: String, _ contents: String) throws -> String {
        let url = directory.appendingPathComponent(name)
        try contents.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    /// Starts `binary agent` in each node's namespace; returns when all are ready.
    /// `user`: run the agents as this unprivileged user (`runuser`), to see them without capture privileges.
    /// `leanBinary`: run the agent-only `swarmprobe-agent` at that path instead of `binary agent`.
    /// `clockAhead`: seconds a node's agent sees its wall clock ahead (negative: behind), through libfaketime.
    /// `addresses`: a node's agent started with this `--address` rather than the node's (one it may not hold).
    public func startAgents(
        binary: String, tokenFile: String, extraArguments: [String] = [], only: [String]? = nil,
        user: String? = nil, leanBinary: String? = nil, clockAhead: [String: Int] = [:], addresses: [String: IPAddress] = [:]
    ) throws {
        let asUser = user.map { ["runuser", "-u", $0, "--"] } ?? []
        let command = leanBinary.map { [$0] } ?? [binary, "agent"]
        let specs = nodes.filter { only?.contains($0.name) ?? true }.map { node in
            // Only the wall clock: the agent's timers run on the monotonic one, which stays true.
            let faked = clockAhead[node.name].map { ["env", "FAKETIME_DONT_FAKE_MONOTONIC=1", "faketime", "-f", String(format: "%+ds", $0)] } ?? []
            return AgentSupervisor.Spec(
                name: node.name, launcher: ["ip", "netns", "exec", node.namespace] + asUser + faked,
                arguments: command + ["--address", (addresses[node.name] ?? node.address).description, "--token-file", tokenFile]
                    + extraArguments)
        }
        try agents.start(specs)
    }

    public func agentLog(_ name: String) -> String { agents.log(name) }
    public func agentPID(_ name: String) -> Int32? { agents.pid(name) }
    /// Kills a node's agent outright (SIGKILL): "agent down".
    public func killAgent(_ name: String) { agents.kill(name) }
    public func stopAgents() { agents.stopAll() }

    /// The lab's SSH servers, made on first use.
    func sshServers() throws -> LabSSH {
        try lock.withLock {
            if let ssh { return ssh }
            let made = try LabSSH(directory: directory.appendingPathComponent("ssh").path)
            ssh = made
            return made
        }
    }

    /// The processes running in a network namespace (`ip netns pids`); none when it cannot be read.
    public static func processes(in namespace: String) -> [Int32] {
        let pids = (try? Program.run(["ip", "netns", "pids", namespace])) ?? ""
        return pids.split(whereSeparator: \.isNewline).compactMap { Int32($0) }
    }

    /// Takes a node's link down: "node down".
    public func takeDown(_ name: String) throws {
        try Program.run(["ip", "-n", node(name).namespace, "link", "set", "eth0", "down"])
    }

    /// Runs `binary args...` in the switch namespace (where the coordinator reaches every agent).
    public func runInSwitch(binary: String, _ arguments: [String], environment: [String: String]? = nil) throws -> ProgramOutput {
        try Program.capture(["ip", "netns", "exec", switchNamespace, binary] + arguments, environment: environment)
    }

    /// Removes everything: agents, namespaces (their veths and nft tables go with them), files.
    public func destroy() {
        let already = lock.withLock { () -> Bool in
            defer { destroyed = true }
            return destroyed
        }
        if already { return }
        stopAgents()
        lock.withLock { ssh }?.stopAll()
        // Whatever still runs in the lab (an SSH session's agent, a server's session, a client's shared
        // connection): a namespace deleted under a process does not end it.
        for namespace in nodes.map(\.namespace) + [switchNamespace] {
            for pid in Lab.processes(in: namespace) { kill(pid, SIGKILL) }
        }
        for n in nodes { Program.attempt(["ip", "netns", "delete", n.namespace]) }
        Program.attempt(["ip", "netns", "delete", switchNamespace])
        try? FileManager.default.removeItem(at: directory)
        LabRegistry.shared.remove(self)
    }

    deinit { destroy() }
}
