import Foundation
import SwarmProbeCoordinator
import SwarmProbeCore

/// `check --swarm`: on a live swarm, an agent on every node as a global service, for one check.
///
/// A secret holds a token made for this run; the service runs the agent image with host networking and the
/// capabilities capture needs, each task binding the one advertise address its node holds (the agent is handed
/// them all). Names carry the run, so two checks never collide. `stop` removes service, secret and profile.
public final class SwarmDeployment: AgentDeployment, @unchecked Sendable {
    public let token: ClusterToken
    private let tokenLine: String
    private let endpoint: DockerDiscovery.Endpoint
    private let discovery: DockerDiscovery.Discovery
    private let image: String
    private let profile: String?
    private let dataPathPort: Int?
    private let published: [PublishedTarget]
    private let waitLimit: TimeInterval
    /// `swarmprobe-<random>`: the service's name, and the prefix of the secret's and the profile's.
    public let run: String
    // Guarded by `lock`: the IDs of what was created, for `stop`.
    private let lock = NSLock()
    private var created: [(kind: String, id: String)] = []

    /// The API version that has `CapabilityAdd` on services (Docker 20.10).
    static let apiVersion = "1.41"

    public init(
        endpoint: DockerDiscovery.Endpoint, discovery: DockerDiscovery.Discovery, image: String, profile: String?,
        dataPathPort: Int?, published: [PublishedTarget] = [], waitLimit: TimeInterval = 90
    ) throws(InputError) {
        self.published = published
        self.endpoint = endpoint
        self.discovery = discovery
        self.image = image
        self.profile = profile
        self.dataPathPort = dataPathPort
        self.waitLimit = waitLimit
        tokenLine = ClusterToken.generate()
        token = try ClusterToken.parse(tokenLine, source: "the run's token")
        run = "swarmprobe-" + String(UInt64.random(in: 0..<(1 << 40)), radix: 16)
    }

    /// Refuses an engine older than 20.10, which cannot give a service's tasks capabilities.
    public static func checkEngine(_ endpoint: DockerDiscovery.Endpoint) async throws(InputError) {
        let (status, body) = try await DockerEngine.request(endpoint, "GET", "/version")
        struct Version: Decodable {
            var Version: String?
            var ApiVersion: String?
        }
        guard status == 200, let v = try? JSONDecoder().decode(Version.self, from: Data(body)), let api = v.ApiVersion else {
            throw DockerDiscovery.apiError(endpoint, status: status, body: body, request: "GET /version")
        }
        func parts(_ s: String) -> [Int] { s.split(separator: ".").map { Int($0) ?? 0 } }
        if parts(api).lexicographicallyPrecedes(parts(apiVersion)) {
            throw InputError(
                source: endpoint.source,
                "\(endpoint) is Docker \(v.Version ?? "?") (API \(api)); check --swarm needs Docker 20.10 or later (API \(apiVersion)) to give the agents the capabilities they capture with"
            )
        }
    }

    public func start(progress: @escaping @Sendable (DeployEvent) -> Void) async -> [String: String] {
        do {
            try await createService()
        } catch {
            var failed: [String: String] = [:]
            for n in discovery.nodes {
                progress(DeployEvent(n.node.name, .failed, error.message))
                failed[n.node.name] = error.message
            }
            return failed
        }
        return await waitForTasks(progress: progress)
    }

    /// Secret, profile (when one is given) and the global service.
    private func createService() async throws(InputError) {
        let secret = try await create(
            "secrets", ["Name": "\(run)-token", "Data": Data((tokenLine + "\n").utf8).base64EncodedString(), "Labels": labels])
        var args = [
            "--address", discovery.nodes.map(\.node.address.description).joined(separator: ","),
            "--control-port", String(discovery.nodes.first?.node.control.port ?? Defaults.controlPort),
            "--token-file", "/run/secrets/swarmprobe-token",
        ]
        var configs: [[String: Any]] = []
        if let profile {
            let text: String
            do { text = try String(contentsOfFile: profile, encoding: .utf8) } catch {
                throw InputError(source: profile, "cannot read the profile: \(error.localizedDescription)")
            }
            let config = try await create("configs", ["Name": "\(run)-profile", "Data": Data(text.utf8).base64EncodedString(), "Labels": labels])
            configs.append([
                "ConfigID": config, "ConfigName": "\(run)-profile",
                "File": ["Name": "/swarmprobe-profile.yaml", "UID": "0", "GID": "0", "Mode": 0o444],
            ])
            args += ["--profile", "/swarmprobe-profile.yaml"]
        }
        if let dataPathPort { args += ["--data-path-port", String(dataPathPort)] }
        args += PublishedTarget.agentArguments(published)
        let (status, body) = try await DockerEngine.request(endpoint, "GET", "/v\(Self.apiVersion)/networks/host")
        struct Network: Decodable { var Id: String }
        guard status == 200, let host = try? JSONDecoder().decode(Network.self, from: Data(body)) else {
            throw DockerDiscovery.apiError(endpoint, status: status, body: body, request: "GET /networks/host")
        }
        let service: [String: Any] = [
            "Name": run,
            "Labels": labels,
            "Mode": ["Global": [String: Any]()],
            "TaskTemplate": [
                "ContainerSpec": [
                    "Image": image,
                    "Args": args,
                    "CapabilityAdd": ["CAP_NET_ADMIN", "CAP_NET_RAW"],
                    "Secrets": [
                        [
                            "SecretID": secret, "SecretName": "\(run)-token",
                            "File": ["Name": "swarmprobe-token", "UID": "0", "GID": "0", "Mode": 0o400],
                        ]
                    ],
                    "Configs": configs,
                    "StopGracePeriod": 10_000_000_000,
                ] as [String: Any],
                "Networks": [["Target": host.Id]],
                // One try per node: a task that cannot start says why, and is not retried for the whole check.
                "RestartPolicy": ["Condition": "none"],
            ] as [String: Any],
        ]
        _ = try await create("services", service)
    }

    private var labels: [String: String] { ["io.swarmprobe.run": run] }

    /// `POST /<kind>/create`; remembers the ID for `stop`.
    private func create(_ kind: String, _ spec: [String: Any]) async throws(InputError) -> String {
        let json = (try? JSONSerialization.data(withJSONObject: spec)).map { [UInt8]($0) } ?? []
        let (status, body) = try await DockerEngine.request(endpoint, "POST", "/v\(Self.apiVersion)/\(kind)/create", json: json)
        struct Created: Decodable { var ID: String }
        guard status == 201 || status == 200, let id = try? JSONDecoder().decode(Created.self, from: Data(body)).ID else {
            throw DockerDiscovery.apiError(endpoint, status: status, body: body, request: "POST /\(kind)/create")
        }
        lock.withLock { created.append((kind, id)) }
        return id
    }

    /// Until every node's task runs and its agent listens, or cannot, or `waitLimit` passes.
    private func waitForTasks(progress: @escaping @Sendable (DeployEvent) -> Void) async -> [String: String] {
        let nodes = discovery.nodes
        let filter = "{\"service\":[\"\(run)\"]}".addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        let deadline = Date().addingTimeInterval(waitLimit)
        var settled: [String: String?] = [:]  // node name -> nil (started) or why not
        var shown: [String: String] = [:]
        while settled.count < nodes.count {
            if Task.isCancelled {
                for n in nodes where settled[n.node.name] == nil { settled[n.node.name] = .some("interrupted") }
                break
            }
            var states: [String: SwarmTaskState] = [:]
            if let (status, body) = try? await DockerEngine.request(endpoint, "GET", "/v\(Self.apiVersion)/tasks?filters=\(filter)"), status == 200 {
                states = (try? SwarmTaskState.of(tasks: body, nodes: nodes)) ?? [:]
            }
            let timedOut = Date() >= deadline
            for n in nodes where settled[n.node.name] == nil {
                let name = n.node.name
                switch states[n.id] ?? .waiting("no answer from the manager") {
                case .running:
                    if await Self.listening(n.node.control) {
                        settled[name] = .some(nil)
                        progress(DeployEvent(name, .started))
                    } else if timedOut {
                        settled[name] = .some("the agent's task runs but nothing listens on \(n.node.control)")
                    }
                case let .failed(why, task):
                    settled[name] = .some(why + (await lastLogLine(task: task).map { ": \($0)" } ?? ""))
                case let .waiting(why):
                    if timedOut {
                        settled[name] = .some("no running task after \(Int(waitLimit)) s (\(why))")
                    } else if shown[name] != why {
                        shown[name] = why
                        progress(DeployEvent(name, .waiting, why))
                    }
                }
                if case let .some(.some(why)) = settled[name] { progress(DeployEvent(name, .failed, why)) }
            }
            if settled.count < nodes.count { try? await Task.sleep(for: .milliseconds(300)) }
        }
        return settled.compactMapValues { $0 }
    }

    /// What a failed task's agent said last (why it exited), when the engine keeps its log.
    private func lastLogLine(task: String?) async -> String? {
        guard let task,
            let (status, body) = try? await DockerEngine.request(endpoint, "GET", "/v\(Self.apiVersion)/tasks/\(task)/logs?stdout=1&stderr=1&tail=5"),
            status == 200
        else { return nil }
        return SwarmTaskState.lastLogLine(body)
    }

    /// Whether the agent's control port accepts a connection (its task may run a moment before it listens).
    static func listening(_ control: ControlEndpoint) async -> Bool {
        await blocking {
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var list: UnsafeMutablePointer<addrinfo>?
            guard getaddrinfo(control.host, String(control.port), &hints, &list) == 0, let first = list else { return false }
            defer { freeaddrinfo(list) }
            let fd = socket(first.pointee.ai_family, first.pointee.ai_socktype, 0)
            guard fd >= 0 else { return false }
            defer { close(fd) }
            var timeout = timeval(tv_sec: 1, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            return connect(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0
        }
    }

    public func stop(progress: @escaping @Sendable (DeployEvent) -> Void) async {
        let made = lock.withLock { () -> [(kind: String, id: String)] in
            defer { created = [] }
            return created
        }
        // The service first (its tasks get SIGTERM and remove their tables), then what it used.
        for (kind, id) in made.reversed() {
            var gone = false
            for _ in 0..<20 {
                if let (status, _) = try? await DockerEngine.request(endpoint, "DELETE", "/v\(Self.apiVersion)/\(kind)/\(id)"),
                    status == 200 || status == 204 || status == 404
                {
                    gone = true
                    break
                }
                try? await Task.sleep(for: .milliseconds(500))
            }
            let what = kind == "services" ? "service \(run)" : "\(kind.dropLast()) \(run)-\(kind == "secrets" ? "token" : "profile")"
            progress(
                DeployEvent(
                    "swarm", gone ? .cleaned : .failed, gone ? "removed \(what)" : "could not remove \(what): `docker \(kind.dropLast()) rm \(id)`"))
            if kind == "services" && gone { await waitAgentsGone(progress: progress) }
        }
    }

    /// Until no agent of this run listens any more: none outlives the check.
    private func waitAgentsGone(progress: @escaping @Sendable (DeployEvent) -> Void) async {
        await withTaskGroup(of: Void.self) { group in
            for n in discovery.nodes {
                group.addTask {
                    progress(DeployEvent(n.node.name, .stopping))
                    let deadline = Date().addingTimeInterval(30)
                    while await Self.listening(n.node.control) {
                        if Date() >= deadline {
                            progress(
                                DeployEvent(n.node.name, .failed, "its agent still listens on \(n.node.control) 30 s after the service was removed"))
                            return
                        }
                        try? await Task.sleep(for: .milliseconds(200))
                    }
                    progress(DeployEvent(n.node.name, .cleaned))
                }
            }
        }
    }
}
