import Foundation
import SwarmProbeCore

/// What a live swarm's overlay networks need of the data path (`GET /networks`): each carries packets as large as
/// its `com.docker.network.driver.mtu` option (1500 when unset; Docker gives its containers that minus VXLAN's
/// 50 bytes, and minus ESP's overhead when encrypted), so the largest option is what every data path must carry.
public enum OverlayNetworks {
    public static func neededPacketSize(_ endpoint: DockerDiscovery.Endpoint) async throws(InputError) -> Int {
        let (status, body) = try await DockerEngine.request(endpoint, "GET", "/networks")
        guard status == 200 else { throw DockerDiscovery.apiError(endpoint, status: status, body: body, request: "GET /networks") }
        return neededPacketSize(networks: body)
    }

    /// The same from the body; a network whose option is unreadable counts as Docker's default.
    public static func neededPacketSize(networks: [UInt8]) -> Int {
        struct Network: Decodable {
            var Driver: String?
            var Options: [String: String]?
        }
        let list = (try? JSONDecoder().decode([Network].self, from: Data(networks))) ?? []
        let sizes = list.filter { $0.Driver == "overlay" }.map { n in
            n.Options?["com.docker.network.driver.mtu"].flatMap { Int($0) } ?? defaultOption
        }
        return sizes.max() ?? defaultOption
    }

    /// The option's value when a network is created without it.
    public static let defaultOption = PathMTU.needed(overlayMTU: PathMTU.defaultOverlayMTU, encrypted: false)
}
