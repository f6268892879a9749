import Foundation
import SwarmProbeCore

/// A live swarm's own address ranges, from the Engine API: the ingress network's subnet (`GET /networks`), the
/// manager's docker_gwbridge, and the default address pool (`GET /swarm`). What is not there keeps Docker's default.
public enum SwarmSubnets {
    public static func read(_ endpoint: DockerDiscovery.Endpoint) async throws(InputError) -> MeshSubnets {
        let (status, networks) = try await DockerEngine.request(endpoint, "GET", "/networks")
        guard status == 200 else { throw DockerDiscovery.apiError(endpoint, status: status, body: networks, request: "GET /networks") }
        let (swarmStatus, swarm) = try await DockerEngine.request(endpoint, "GET", "/swarm")
        guard swarmStatus == 200 else { throw DockerDiscovery.apiError(endpoint, status: swarmStatus, body: swarm, request: "GET /swarm") }
        return parse(networks: networks, swarm: swarm)
    }

    /// The same from the two bodies; anything unreadable keeps Docker's default.
    public static func parse(networks: [UInt8], swarm: [UInt8]) -> MeshSubnets {
        struct AddressConfig: Decodable { var Subnet: String? }
        struct AddressManagement: Decodable { var Config: [AddressConfig]? }
        struct Network: Decodable {
            var Name: String?
            var Ingress: Bool?
            var IPAM: AddressManagement?
            var firstSubnet: CIDR? { IPAM?.Config?.lazy.compactMap { $0.Subnet.flatMap(CIDR.init) }.first { $0.address.isIPv4 } }
        }
        struct Swarm: Decodable { var DefaultAddrPool: [String]? }
        var subnets = MeshSubnets.docker
        let list = (try? JSONDecoder().decode([Network].self, from: Data(networks))) ?? []
        if let ingress = list.first(where: { $0.Ingress == true })?.firstSubnet { subnets.ingress = ingress }
        if let bridge = list.first(where: { $0.Name == "docker_gwbridge" })?.firstSubnet { subnets.gatewayBridge = bridge }
        if let pools = (try? JSONDecoder().decode(Swarm.self, from: Data(swarm)))?.DefaultAddrPool?.compactMap(CIDR.init), !pools.isEmpty {
            subnets.addressPools = pools
        }
        return subnets
    }
}
