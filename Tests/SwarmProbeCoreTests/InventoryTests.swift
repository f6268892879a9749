import Foundation
import Testing

@testable import SwarmProbeCore

@Suite("Invalid inventories")
struct InvalidInventoryTests {
    static let fixtures = Fixture.names("inventories", prefix: "invalid-")

    @Test("a fixture exists for every kind of mistake")
    func coverage() {
        let required = [
            "invalid-yaml-syntax.yaml", "invalid-empty.yaml", "invalid-missing-nodes.yaml", "invalid-nodes-not-a-list.yaml",
            "invalid-empty-nodes.yaml", "invalid-missing-name.yaml", "invalid-missing-address.yaml", "invalid-missing-role.yaml",
            "invalid-unknown-field.yaml", "invalid-bad-name.yaml", "invalid-duplicate-name.yaml", "invalid-bad-address.yaml",
            "invalid-duplicate-address.yaml", "invalid-unknown-role.yaml", "invalid-no-manager.yaml",
            "invalid-control-port-zero.yaml", "invalid-control-junk.yaml", "invalid-ssh-port.yaml", "invalid-ssh-option.yaml",
            "invalid-ssh-space.yaml",
        ]
        let present = Set(Self.fixtures)
        for name in required { #expect(present.contains(name), "missing fixture \(name)") }
    }

    @Test("each invalid inventory fails with its exact one-line message", arguments: fixtures)
    func rejects(fixture: String) throws {
        let text = try Fixture.text("inventories", fixture)
        let expected = try #require(Fixture.expectedMessage(in: text), "\(fixture) has no `# expect:` first line")
        let e = try #require(
            inputError { () throws(InputError) in try Inventory.parse(text, source: fixture) },
            "\(fixture) parsed without error")
        #expect(e.description == expected)
        #expect(e.source == fixture)
        #expect(e.line != nil, "every inventory error names a line")
        #expect(!e.description.contains("\n"), "errors are one line")
    }

    @Test("the bad-address message is exactly as documented")
    func badAddressMessage() {
        let text = "nodes:\n  - name: m1\n    address: 10.0.0.300\n    role: manager\n"
        let e = inputError { () throws(InputError) in try Inventory.parse(text, source: "inventory.yaml") }
        #expect(e?.description == #"inventory.yaml:3: node "m1": address "10.0.0.300" is not an IPv4 or IPv6 address"#)
    }

    /// Regression (IPAddress, fixed): `::ffff:10.0.0.1` is the IPv4 address 10.0.0.1 (it is how the wire
    /// carries it), but parses to a distinct `.v6` value, so the duplicate check misses it.
    @Test("an IPv4 address and its IPv4-mapped IPv6 spelling are the same node address")
    func mappedDuplicate() {
        let text =
            "nodes:\n  - name: m1\n    address: 10.0.0.1\n    role: manager\n  - name: w1\n    address: \"::ffff:10.0.0.1\"\n    role: worker\n"
        let e = inputError { () throws(InputError) in try Inventory.parse(text, source: "inventory.yaml") }
        #expect(e != nil, "10.0.0.1 and ::ffff:10.0.0.1 were accepted as two nodes")
    }
}

@Suite("Valid inventories")
struct ValidInventoryTests {
    @Test("IPv4 nodes with default, host:port and hostname:port control endpoints")
    func ipv4() throws {
        let inv = try Inventory.parse(try Fixture.text("inventories", "valid-ipv4.yaml"), source: "valid-ipv4.yaml")
        #expect(inv.nodes.map(\.name) == ["manager-1", "worker_1", "worker.2"])
        #expect(inv.nodes.map(\.address) == [.v4(10, 0, 0, 1), .v4(10, 0, 0, 2), .v4(10, 0, 0, 3)])
        #expect(inv.nodes.map(\.role) == [.manager, .worker, .worker])
        #expect(
            inv.nodes.map(\.control) == [
                ControlEndpoint(host: "10.0.0.1", port: 7950),
                ControlEndpoint(host: "10.0.0.2", port: 8000),
                ControlEndpoint(host: "agent-3.internal", port: 7951),
            ])
        #expect(inv.managers.map(\.name) == ["manager-1"])
        #expect(inv.node(named: "worker.2")?.address == ip("10.0.0.3"))
        #expect(inv.node(named: "nobody") == nil)
    }

    @Test("an optional group per node")
    func groups() throws {
        let inv = try Inventory.parse(try Fixture.text("inventories", "valid-groups.yaml"), source: "valid-groups.yaml")
        #expect(inv.nodes.map(\.group) == ["eu-west-1a", "eu-west-1b", nil])
        let r = NodeResult(node: inv.nodes[0], agent: .up)
        #expect(r.group == "eu-west-1a")
    }

    @Test("IPv6 nodes with [v6]:port, bare v6 control and the default port")
    func ipv6() throws {
        let inv = try Inventory.parse(try Fixture.text("inventories", "valid-ipv6.yaml"), source: "valid-ipv6.yaml")
        #expect(inv.nodes.map(\.address.description) == ["2001:db8::1", "2001:db8::2", "::1", "fe80::1:2"])
        #expect(
            inv.nodes.map(\.control) == [
                ControlEndpoint(host: "2001:db8::1", port: 7960),
                ControlEndpoint(host: "fd00::2", port: 7950),
                ControlEndpoint(host: "::1", port: 7950),
                ControlEndpoint(host: "192.168.1.20", port: 7950),
            ])
        #expect(inv.nodes.map(\.control.description) == ["[2001:db8::1]:7960", "[fd00::2]:7950", "[::1]:7950", "192.168.1.20:7950"])
        #expect(inv.managers.map(\.name) == ["m1", "m2"])
    }

    @Test("where check --ssh logs in: user, host, port as given, else the node's address and the user's defaults")
    func ssh() throws {
        let inv = try Inventory.parse(try Fixture.text("inventories", "valid-ssh.yaml"), source: "valid-ssh.yaml")
        #expect(
            inv.nodes.map(\.sshTarget) == [
                SSHTarget(user: "admin", host: "10.0.1.11", port: 2222), SSHTarget(host: "w1.example.internal"),
                SSHTarget(user: "ops", host: "fd00::22", port: 22), SSHTarget(host: "10.0.1.23"),
            ])
        #expect(inv.nodes.map(\.sshTarget.description) == ["admin@10.0.1.11:2222", "w1.example.internal", "ops@[fd00::22]:22", "10.0.1.23"])
        #expect(inv.nodes[0].sshTarget.destination == "admin@10.0.1.11")
        for bad in ["", "@h", "a b@h", "h:0", "h:x", "[fd00::1", "[not-v6]:22", "-oProxyCommand=x", "h;rm", "u@h@", "h/x"] {
            #expect(SSHTarget.parse(bad) == nil, "\(bad)")
        }
        #expect(SSHTarget.parse("fd00::9") == SSHTarget(host: "fd00::9"))
    }

    @Test("the default control port is 7950 at the node's address")
    func defaultControl() throws {
        #expect(Defaults.controlPort == 7950)
        let n = Node(name: "a", address: ip("fd00::5"), role: .worker)
        #expect(n.control == ControlEndpoint(host: "fd00::5", port: 7950))
        #expect(n.control.description == "[fd00::5]:7950")
    }

    @Test("a single manager is a valid inventory")
    func singleManager() throws {
        let inv = try Inventory.parse("nodes:\n  - {name: m1, address: 10.0.0.1, role: manager}\n", source: "i.yaml")
        #expect(inv.nodes.count == 1)
    }
}

@Suite("ControlEndpoint.parse")
struct ControlEndpointTests {
    @Test(
        "accepts",
        arguments: [
            ("10.0.0.1:8000", "10.0.0.1", 8000),
            ("10.0.0.1", "10.0.0.1", 7950),
            ("agent.local:1", "agent.local", 1),
            ("agent.local:65535", "agent.local", 65535),
            ("[fd00::1]:7951", "fd00::1", 7951),
            ("[fd00::1]", "fd00::1", 7950),
            ("fd00::1", "fd00::1", 7950),
            ("::1", "::1", 7950),
        ])
    func accepts(text: String, host: String, port: Int) {
        #expect(ControlEndpoint.parse(text, defaultPort: 7950) == ControlEndpoint(host: host, port: port))
    }

    @Test(
        "refuses",
        arguments: [
            "", "host:0", "host:65536", "host:", ":8000", "host:abc", "[fd00::1]:", "[fd00::1]x", "[fd00::1", "[]:80",
            "http://host:80/", "a b:80", "host:-1",
        ])
    func refuses(text: String) {
        #expect(ControlEndpoint.parse(text, defaultPort: 7950) == nil)
    }
}
