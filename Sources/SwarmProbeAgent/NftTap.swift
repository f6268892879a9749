import Foundation
import Logging
import NIOConcurrencyHelpers
import SwarmProbeCapture
import SwarmProbeCore
import SwarmProbeProcess

/// The nftables side of the nflog tap: one table of our own, never touching anyone else's.
enum NftTap {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func script(table: String, group: Int, address: IPAddress, kinds: [KindID]) -> String {
        let family = address.isIPv4 ? "ip" : "ip6"
        var rules: [String] = []
        let tcp = kinds.filter { $0.proto == .tcp }.compactMap(\.port)
        let udp = kinds.filter { $0.proto == .udp }.compactMap(\.port)
        if !udp.isEmpty {
            rules.append(
                "\(family) daddr \(address) udp dport { \(udp.map(String.init).joined(separator: ", ")) } log group \(group) queue-threshold 1")
        }
        if !tcp.isEmpty {
            rules.append(
                "\(family) daddr \(address) tcp dport { \(tcp.map(String.init).joined(separator: ", ")) } tcp flags & (syn | ack) == syn log group \(group) queue-threshold 1"
            )
        }
        if kinds.contains(where: { $0.proto == .esp }) {
            rules.append("\(family) daddr \(address) meta l4proto esp log group \(group) queue-threshold 1")
        }
        // Declaring then deleting makes the delete safe when no stale table exists.
        // `queue-threshold 1`: without it the kernel batches log events for up to a second.
        return """
            table inet \(table) {}
            delete table inet \(table)
            table inet \(table) {
              chain input {
                type filter hook input priority 100; policy accept;
            \(rules.map { "    " + $0 }.joined(separator: "\n"))
              }
            }

            """
    }

    static func install(table: String, group: Int, address: IPAddress, kinds: [KindID]) throws {
        try run(["-f", "-"], input: script(table: table, group: group, address: address, kinds: kinds))
    }

    static func remove(table: String) {
        _ = try? run(["delete", "table", "inet", table], input: nil)
    }

    private static func run(_ args: [String], input: String?) throws {
        do {
            try Program.run(["nft"] + args, input: input)
        } catch  where error.status < 0 {
            throw Failure(description: "\(error.message) (apt-get install nftables)")
        } catch {
            // nft's first line says what it refused; the rest repeats the script.
            let first = error.message.split(whereSeparator: \.isNewline).first.map(String.init)
            throw Failure(description: "nft: \(first ?? "exit \(error.status)")")
        }
    }

}
