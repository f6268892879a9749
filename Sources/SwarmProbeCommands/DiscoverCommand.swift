import ArgumentParser
import Foundation
import SwarmProbeCoordinator
import SwarmProbeCore

struct DiscoverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "discover",
        abstract: "Write the inventory of a live swarm, from a manager's Docker Engine API (GET /nodes).",
        discussion: """
            Names are the nodes' hostnames (made unique with their node ID if two are alike), addresses the \
            advertise addresses (ManagerStatus.Addr for managers, Status.Addr for workers), roles as the swarm \
            has them. Nodes that are down are included, with a comment saying so. Run it on a manager, or \
            point --docker-host at one. Exit code 2 with one line on stderr when the API cannot be asked.
            """
    )

    @Option(
        help: ArgumentHelp(
            "The Docker API of a manager: unix:///path, tcp://host:port or http(s)://host:port (default: $DOCKER_HOST, else unix:///var/run/docker.sock).",
            valueName: "url"))
    var dockerHost: String?

    @Option(
        name: [.customShort("o"), .customLong("output")],
        help: ArgumentHelp("Write the inventory here instead of stdout (- for stdout).", valueName: "file"))
    var output: String = "-"

    func run() async throws {
        let discovery = try await DockerDiscovery.discoverDetails(dockerHost: dockerHost)
        let yaml = DockerDiscovery.inventoryYAML(discovery)
        // What we print must be what `check --inventory` accepts.
        _ = try Inventory.parse(yaml, source: "discovered inventory")
        try writeOutput(yaml, to: output, what: "--output")
        if output != "-" {
            progressLine("wrote \(discovery.nodes.count) nodes to \(output)")
        }
    }
}
