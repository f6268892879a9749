/// `probes/swarm.yaml`, embedded so the binary works from anywhere.
/// A test keeps this byte-for-byte equal to the file.
public enum DefaultProfile {
    public static let source = "probes/swarm.yaml (built in)"
    public static let yaml = #"""
# What Docker swarm mode needs between its nodes (docs.docker.com/engine/swarm/swarm-tutorial/#open-protocols-and-ports-between-the-hosts).
# Every enabled kind is probed between every ordered pair of nodes; `from`/`to`
# say between which roles swarm requires it. A probe outside those roles is
# still made and reported, but it is information, not a finding.
name: swarm
description: Docker swarm mode (managers, gossip, VXLAN overlay; ESP for encrypted overlays)
kinds:
  - name: cluster-management
    protocol: tcp
    port: 2377
    from: any
    to: manager
    description: Raft and the swarm API over mTLS; every node dials every manager, and joining managers need it both ways.
  - name: gossip-tcp
    protocol: tcp
    port: 7946
    from: any
    to: any
    description: Memberlist gossip (full state sync) for container network discovery.
  - name: gossip-udp
    protocol: udp
    port: 7946
    source-port: 7946
    from: any
    to: any
    description: Memberlist gossip (probes and updates), sent from 7946 to 7946.
  - name: overlay-data
    protocol: udp
    port: 4789
    data-path: true
    from: any
    to: any
    description: VXLAN data path of overlay networks and the ingress routing mesh; moved by `docker swarm init --data-path-port`.
  - name: encrypted-overlay
    protocol: esp
    enabled: false
    from: any
    to: any
    description: IPsec ESP (IP protocol 50) for overlays created with `--opt encrypted`; set `enabled: true` if you use them.

"""#

    public static func load() -> Profile {
        // The embedded text is tested; failing here is a build defect, not bad input.
        do { return try Profile.parse(yaml, source: source) } catch { fatalError("built-in profile is invalid: \(error)") }
    }
}
