import SwarmProbeCapture
import SwarmProbeCore

/// Which address the agent binds, from `--address`: one address as given, or a comma-separated list of
/// addresses and prefixes of which this host holds exactly one. The list is what lets one command line
/// serve every node: a swarm service handed all advertise addresses, a stack file handed the nodes' subnet.
public enum ListenAddress {
    /// Checks the spelling only (what `validate` can say before the agent starts).
    public static func parse(_ spec: String) throws(InputError) -> [CIDR] {
        let entries = spec.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        var out: [CIDR] = []
        for entry in entries {
            if let a = IPAddress(entry) {
                out.append(CIDR(host: a))
            } else if entry.contains("/"), let prefix = CIDR(entry) {
                out.append(prefix)
            } else {
                throw InputError(source: "--address", "\"\(entry)\" is not an IPv4 or IPv6 address or prefix (ADDR, ADDR,ADDR... or PREFIX/LEN)")
            }
        }
        return out
    }

    /// The address to bind: a single address as given; otherwise the one address of `interfaces` that an entry
    /// names or contains (loopback and link-local count only when named exactly).
    public static func resolve(
        _ spec: String, interfaces: [(device: String, address: IPAddress)] = NetworkInterfaces.addresses()
    ) throws(InputError) -> IPAddress {
        let entries = try parse(spec)
        if entries.count == 1, entries[0].prefixLength == (entries[0].address.isIPv4 ? 32 : 128) { return entries[0].address }
        var matches: [(device: String, address: IPAddress)] = []
        for i in interfaces where !matches.contains(where: { $0.address == i.address }) {
            let exact = entries.contains { $0 == CIDR(host: i.address) }
            if exact || (!isLoopbackOrLinkLocal(i.address) && entries.contains { $0.contains(i.address) }) { matches.append(i) }
        }
        if matches.count == 1 { return matches[0].address }
        let listed = matches.isEmpty ? interfaces : matches
        let held = listed.map { "\($0.address) (\($0.device))" }.joined(separator: ", ")
        if matches.isEmpty {
            throw InputError(source: "--address", "none of this host's addresses is in \(spec) (it has \(held.isEmpty ? "none" : held))")
        }
        throw InputError(source: "--address", "several of this host's addresses are in \(spec): \(held); name one")
    }

    static func isLoopbackOrLinkLocal(_ a: IPAddress) -> Bool {
        ["127.0.0.0/8", "169.254.0.0/16", "::1/128", "fe80::/10"].contains { CIDR($0)!.contains(a) }
    }
}
