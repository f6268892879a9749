import AsyncHTTPClient
import Foundation
import NIOCore
import NIOPosix
import SwarmProbeCore

/// Builds an inventory from a live swarm: `GET /nodes` of the Docker Engine API on a manager.
///
/// Where the API is: `--docker-host` (`unix:///path`, `tcp://host:port`, `http://host:port`,
/// `https://...`), else `DOCKER_HOST`, else `unix:///var/run/docker.sock`. Every failure is one
/// `InputError` line naming where it came from (`--docker-host`, `DOCKER_HOST` or the socket path).
public enum DockerDiscovery {
    public static let defaultSocket = "/var/run/docker.sock"

    /// Where the Engine API is, and what to name in errors.
    public struct Endpoint: Sendable, Equatable, CustomStringConvertible {
        public enum Kind: Sendable, Equatable {
            case unix(path: String)
            /// `http://host:port` or `https://host:port`, without a trailing slash.
            case http(base: String)
        }
        public var kind: Kind
        /// `--docker-host`, `DOCKER_HOST`, or the default socket's path.
        public var source: String
        public init(kind: Kind, source: String) {
            self.kind = kind
            self.source = source
        }
        public var description: String {
            switch kind {
            case let .unix(path): return "unix://\(path)"
            case let .http(base): return base
            }
        }
    }

    /// One node as the API describes it, beyond what the inventory keeps.
    public struct DiscoveredNode: Sendable, Equatable {
        public var node: Node
        public var id: String
        public var hostname: String
        /// `ready`, `down`, `unknown`, `disconnected`.
        public var state: String
        /// `active`, `pause`, `drain`.
        public var availability: String
        public var leader: Bool
        /// Managers: `reachable`, `unreachable`, `unknown`.
        public var reachability: String?
        public var engineVersion: String?
    }

    public struct Discovery: Sendable {
        public var endpoint: Endpoint
        public var nodes: [DiscoveredNode]
        /// Nodes the API listed that are not in the inventory, and why (one line each).
        public var skipped: [String]
        public var inventory: Inventory { Inventory(nodes: nodes.map(\.node)) }
    }

    /// The swarm's nodes as an inventory (in the API's order: managers and workers as listed).
    public static func discover(dockerHost: String?) async throws -> Inventory {
        try await discoverDetails(dockerHost: dockerHost).inventory
    }

    /// Like `discover`, with each node's state and what was left out.
    public static func discoverDetails(
        dockerHost: String?, environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws -> Discovery {
        let endpoint = try resolve(dockerHost: dockerHost, environment: environment)
        let (status, body) = try await get(endpoint, path: "/nodes")
        guard status == 200 else { throw apiError(endpoint, status: status, body: body) }
        return try parseNodes(body, endpoint: endpoint)
    }

    // MARK: - Endpoint

    /// Which API to ask: the flag, else DOCKER_HOST, else the default socket.
    public static func resolve(dockerHost: String?, environment: [String: String]) throws(InputError) -> Endpoint {
        if let dockerHost { return try parse(dockerHost, source: "--docker-host") }
        if let env = environment["DOCKER_HOST"], !env.isEmpty { return try parse(env, source: "DOCKER_HOST") }
        return Endpoint(kind: .unix(path: defaultSocket), source: defaultSocket)
    }

    static func parse(_ text: String, source: String) throws(InputError) -> Endpoint {
        let t = text.trimmingCharacters(in: .whitespaces)
        func hostPort(_ rest: Substring, scheme: String) throws(InputError) -> Endpoint {
            var hp = rest
            if let slash = hp.firstIndex(of: "/") {
                guard hp[slash...].allSatisfy({ $0 == "/" }) else {
                    throw InputError(source: source, "\"\(text)\": a path after host:port is not supported")
                }
                hp = hp[..<slash]
            }
            guard !hp.isEmpty, !hp.contains(where: { $0 == " " || $0 == "@" }) else {
                throw InputError(source: source, "\"\(text)\" has no host (expected \(scheme)://host:port)")
            }
            // tcp:// without a port means 2375 to the docker CLI.
            let hasPort = hp.hasPrefix("[") ? hp.contains("]:") : hp.contains(":")
            if hasPort, let port = hp.split(separator: ":").last, Int(port).map({ !(1...65535).contains($0) }) ?? true {
                throw InputError(source: source, "\"\(text)\": the port must be a number from 1 to 65535")
            }
            let scheme2 = scheme == "tcp" ? "http" : scheme
            return Endpoint(kind: .http(base: "\(scheme2)://\(hp)\(hasPort ? "" : (scheme2 == "https" ? ":2376" : ":2375"))"), source: source)
        }
        if t.hasPrefix("unix://") {
            let path = String(t.dropFirst("unix://".count))
            guard path.hasPrefix("/") else {
                throw InputError(source: source, "\"\(text)\": expected unix:///absolute/path/to/docker.sock")
            }
            return Endpoint(kind: .unix(path: path), source: source)
        }
        if t.hasPrefix("/") { return Endpoint(kind: .unix(path: t), source: source) }
        for scheme in ["tcp", "http", "https"] where t.hasPrefix(scheme + "://") {
            return try hostPort(t.dropFirst(scheme.count + 3), scheme: scheme)
        }
        if t.hasPrefix("ssh://") || t.hasPrefix("npipe://") || t.hasPrefix("fd://") {
            throw InputError(
                source: source,
                "\"\(text)\": \(t.prefix(while: { $0 != ":" })):// is not supported; use unix:///path, tcp://host:port or http(s)://host:port")
        }
        throw InputError(
            source: source, "\"\(text)\" is not a Docker host (expected unix:///var/run/docker.sock, tcp://host:port or http(s)://host:port)")
    }

    // MARK: - HTTP

    static func get(_ endpoint: Endpoint, path: String) async throws(InputError) -> (status: Int, body: [UInt8]) {
        try await DockerEngine.request(endpoint, "GET", path)
    }

    /// Missing, not a socket, or not ours to open: say so before connecting.
    static func checkSocket(_ path: String, source: String) throws(InputError) {
        var st = stat()
        guard stat(path, &st) == 0 else {
            let e = errno
            if e == ENOENT {
                throw InputError(source: source, "no Docker socket at \(path) (is dockerd running on this host? point --docker-host at a manager)")
            }
            if e == EACCES {
                throw InputError(source: source, "permission denied reaching \(path) (run as root or as a member of the docker group)")
            }
            throw InputError(source: source, "cannot reach \(path): \(String(cString: strerror(e)))")
        }
        guard (st.st_mode & S_IFMT) == S_IFSOCK else {
            throw InputError(source: source, "\(path) is not a socket (expected the Docker daemon's unix socket)")
        }
        if access(path, R_OK | W_OK) != 0 {
            let e = errno
            if e == EACCES || e == EPERM {
                throw InputError(source: source, "permission denied on \(path) (run as root or as a member of the docker group)")
            }
        }
    }

    static func describe(_ error: any Error, where endpoint: String) -> String {
        func errnoText(_ code: Int32) -> String {
            switch code {
            case ECONNREFUSED, ENOENT: return "connection refused at \(endpoint): is dockerd running and listening there?"
            case EACCES, EPERM: return "permission denied at \(endpoint) (run as root or as a member of the docker group)"
            default: return "cannot connect to \(endpoint): \(String(cString: strerror(code)))"
            }
        }
        if let io = error as? IOError { return errnoText(io.errnoCode) }
        if let c = error as? NIOConnectionError, let first = c.connectionErrors.first?.error {
            if let io = first as? IOError { return errnoText(io.errnoCode) }
            return "cannot connect to \(endpoint): \(first)"
        }
        if let e = error as? HTTPClientError {
            switch e {
            case .connectTimeout: return "no connection to \(endpoint) within 5 s"
            case .deadlineExceeded, .readTimeout: return "no answer from \(endpoint) within the time limit"
            case .remoteConnectionClosed: return "\(endpoint) closed the connection without an answer (is it the Docker API?)"
            default: break
            }
        }
        let text = "\(error)".replacingOccurrences(of: "\n", with: " ")
        if text.contains("Connection refused") || text.contains("connectionRefused") {
            return "connection refused at \(endpoint): is dockerd running and listening there?"
        }
        return "cannot talk to \(endpoint): \(text)"
    }

    /// The one-line error for a non-200 answer (503 "not a swarm manager" gets its own words).
    public static func apiError(_ endpoint: Endpoint, status: Int, body: [UInt8], request: String = "GET /nodes") -> InputError {
        struct Message: Decodable { var message: String }
        let raw =
            (try? JSONDecoder().decode(Message.self, from: Data(body)))?.message
            ?? String(decoding: body.prefix(300), as: UTF8.self)
        let message = oneLine(raw)
        if status == 503 && message.lowercased().contains("not a swarm manager") {
            let hint =
                message.contains("swarm init") || message.contains("swarm join")
                ? "this daemon is not part of a swarm" : "this node is a worker; point --docker-host at a manager"
            return InputError(source: endpoint.source, "\(endpoint): \(hint) (Docker says: \(message))")
        }
        return InputError(source: endpoint.source, "\(endpoint): \(request) answered \(status): \(message.isEmpty ? "no detail" : message)")
    }

    /// `s` on one line: its lines joined with spaces, trimmed.
    public static func oneLine(_ s: String) -> String {
        s.split(whereSeparator: \.isNewline).joined(separator: " ").trimmingCharacters(in: .whitespaces)
    }

    // MARK: - Mapping

    private struct APINode: Decodable {
        struct Spec: Decodable {
            var Role: String?
            var Availability: String?
        }
        struct Description: Decodable {
            struct Engine: Decodable { var EngineVersion: String? }
            var Hostname: String?
            var Engine: Engine?
        }
        struct Status: Decodable {
            var State: String?
            var Addr: String?
        }
        struct ManagerStatus: Decodable {
            var Leader: Bool?
            var Reachability: String?
            var Addr: String?
        }
        var ID: String
        var Spec: Spec?
        var Description: Description?
        var Status: Status?
        var ManagerStatus: ManagerStatus?
        var UpdatedAt: String?
    }

    /// Maps the body of `GET /nodes` to nodes. Names are the hostnames, made valid (1-63 of
    /// letters, digits, `-_.`) and unique (a clash gets the node ID's first characters appended).
    /// Two entries with one address (a node that left and joined again leaves a `down` entry behind):
    /// the live one is kept, the other is listed in `skipped`.
    public static func parseNodes(_ body: [UInt8], endpoint: Endpoint) throws(InputError) -> Discovery {
        let api: [APINode]
        do { api = try JSONDecoder().decode([APINode].self, from: Data(body)) } catch {
            throw InputError(source: endpoint.source, "\(endpoint): GET /nodes did not answer a list of nodes: \(oneLine("\(error)"))")
        }
        var skipped: [String] = []
        struct Candidate { var api: APINode; var role: Role; var address: IPAddress }
        var candidates: [Candidate] = []
        for n in api {
            let host = n.Description?.Hostname ?? n.ID
            guard let roleText = n.Spec?.Role, let role = Role(rawValue: roleText) else {
                skipped.append("\(host) (\(n.ID)): unknown role \"\(n.Spec?.Role ?? "")\"")
                continue
            }
            // Managers: ManagerStatus.Addr is the advertise address (Status.Addr can be 0.0.0.0 there).
            let managerAddr = n.ManagerStatus?.Addr.flatMap(stripPort).flatMap(IPAddress.init)
            let statusAddr = n.Status?.Addr.flatMap(stripPort).flatMap(IPAddress.init).flatMap { isUnspecified($0) ? nil : $0 }
            guard let address = (role == .manager ? managerAddr ?? statusAddr : statusAddr ?? managerAddr) else {
                skipped.append("\(host) (\(n.ID)): no usable address (Status.Addr \"\(n.Status?.Addr ?? "")\")")
                continue
            }
            candidates.append(Candidate(api: n, role: role, address: address))
        }
        // One entry per address: the live one wins, then a manager, then the latest update.
        func rank(_ c: Candidate) -> (Int, Int, String) {
            let state = c.api.Status?.State ?? ""
            return (state == "ready" ? 2 : state == "down" ? 0 : 1, c.role == .manager ? 1 : 0, c.api.UpdatedAt ?? "")
        }
        var keep: [IPAddress: Int] = [:]
        for (i, c) in candidates.enumerated() {
            if let j = keep[c.address] {
                let (winner, loser) = rank(c) > rank(candidates[j]) ? (i, j) : (j, i)
                keep[c.address] = winner
                let l = candidates[loser]
                skipped.append(
                    "\(l.api.Description?.Hostname ?? l.api.ID) (\(l.api.ID), \(l.api.Status?.State ?? "unknown")): same address \(l.address) as \(candidates[winner].api.Description?.Hostname ?? candidates[winner].api.ID) (\(candidates[winner].api.ID))"
                )
            } else {
                keep[c.address] = i
            }
        }
        // Managers first, then by hostname: the order a person reads a report in, stable between runs.
        let kept = candidates.indices.filter { keep[candidates[$0].address] == $0 }.map { candidates[$0] }
            .sorted { a, b in
                let ka = (a.role == .manager ? 0 : 1, a.api.Description?.Hostname ?? a.api.ID)
                let kb = (b.role == .manager ? 0 : 1, b.api.Description?.Hostname ?? b.api.ID)
                return ka < kb
            }

        // Names: valid, then unique.
        let bases = kept.map { sanitize($0.api.Description?.Hostname ?? "", id: $0.api.ID) }
        var counts: [String: Int] = [:]
        for b in bases { counts[b, default: 0] += 1 }
        var used: Set<String> = []
        var out: [DiscoveredNode] = []
        for (c, base) in zip(kept, bases) {
            var name = base
            if counts[base]! > 1 || used.contains(name) {
                let id = c.api.ID.lowercased().filter { $0.isLetter || $0.isNumber }
                var length = 6
                repeat {
                    let suffix = "-" + String(id.prefix(length))
                    name = String(base.prefix(63 - suffix.count)) + suffix
                    length += 1
                } while used.contains(name) && length <= id.count
                var k = 2
                while used.contains(name) {
                    let suffix = "-\(k)"
                    name = String(base.prefix(63 - suffix.count)) + suffix
                    k += 1
                }
            }
            used.insert(name)
            out.append(
                DiscoveredNode(
                    node: Node(name: name, address: c.address, role: c.role),
                    id: c.api.ID, hostname: c.api.Description?.Hostname ?? "",
                    state: c.api.Status?.State ?? "unknown", availability: c.api.Spec?.Availability ?? "unknown",
                    leader: c.api.ManagerStatus?.Leader ?? false, reachability: c.api.ManagerStatus?.Reachability,
                    engineVersion: c.api.Description?.Engine?.EngineVersion))
        }
        if out.isEmpty {
            throw InputError(
                source: endpoint.source,
                "\(endpoint): the swarm lists no usable nodes\(skipped.isEmpty ? "" : ": " + skipped.joined(separator: "; "))")
        }
        return Discovery(endpoint: endpoint, nodes: out, skipped: skipped)
    }

    /// `10.0.0.1:2377` -> `10.0.0.1`, `[fd00::1]:2377` -> `fd00::1`; a bare address stays.
    static func stripPort(_ s: String) -> String? {
        let t = s.trimmingCharacters(in: .whitespaces)
        if t.hasPrefix("["), let close = t.firstIndex(of: "]") {
            return String(t[t.index(after: t.startIndex)..<close])
        }
        if t.filter({ $0 == ":" }).count == 1, let colon = t.firstIndex(of: ":") { return String(t[..<colon]) }
        return t.isEmpty ? nil : t
    }

    static func isUnspecified(_ a: IPAddress) -> Bool {
        switch a {
        case .v4(0, 0, 0, 0): return true
        case let .v6(g): return g.allSatisfy { $0 == 0 }
        default: return false
        }
    }

    /// A hostname as an inventory name: the first label if the whole does not fit, other characters as `-`.
    static func sanitize(_ hostname: String, id: String) -> String {
        var s = String(
            hostname.map { c -> Character in
                c.isASCII && (c.isLetter || c.isNumber || c == "-" || c == "_" || c == ".") ? c : "-"
            })
        if s.count > 63, let dot = s.firstIndex(of: "."), s.distance(from: s.startIndex, to: dot) > 0 { s = String(s[..<dot]) }
        s = String(s.prefix(63))
        if s.isEmpty { s = "node-" + String(id.lowercased().prefix(12)) }
        return s
    }

    // MARK: - YAML

    /// The inventory in the README's format.
    public static func inventoryYAML(_ inv: Inventory) -> String {
        inventoryYAML(inv, header: [], comments: [:])
    }

    /// With `# ` header lines, and a trailing comment per node name (e.g. its state).
    public static func inventoryYAML(_ inv: Inventory, header: [String], comments: [String: String]) -> String {
        var s = header.map { "# " + oneLine($0) + "\n" }.joined()
        s += "nodes:\n"
        for n in inv.nodes {
            let comment = comments[n.name].map { "  # " + oneLine($0) } ?? ""
            s += "  - name: \(scalar(n.name))\(comment)\n"
            s += "    address: \(scalar(n.address.description))\n"
            s += "    role: \(n.role.rawValue)\n"
            if n.control != ControlEndpoint(host: n.address.description, port: Defaults.controlPort) {
                s += "    control: \(scalar(n.control.description))\n"
            }
        }
        return s
    }

    /// The YAML rendering of a discovery, with each node's state and what was skipped.
    public static func inventoryYAML(_ d: Discovery, generatedAt: Date = Date()) -> String {
        let stamp = ISO8601DateFormatter().string(from: generatedAt)
        var header = ["discovered by swarmprobe from \(d.endpoint) (GET /nodes) at \(stamp): \(d.nodes.count) nodes"]
        header += d.skipped.map { "left out: \($0)" }
        var comments: [String: String] = [:]
        for n in d.nodes {
            var parts: [String] = []
            if n.hostname != n.node.name { parts.append("hostname \(n.hostname)") }
            if n.state != "ready" { parts.append("state: \(n.state)") }
            if n.availability != "active" { parts.append("availability: \(n.availability)") }
            if n.leader { parts.append("leader") }
            if let r = n.reachability, r != "reachable" { parts.append("reachability: \(r)") }
            if !parts.isEmpty { comments[n.node.name] = parts.joined(separator: ", ") }
        }
        return inventoryYAML(d.inventory, header: header, comments: comments)
    }

    /// Plain when safe, else double-quoted.
    static func scalar(_ s: String) -> String {
        let plain =
            s.first.map { $0.isLetter || $0.isNumber } ?? false
            && s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") }
        if plain { return s }
        return "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
