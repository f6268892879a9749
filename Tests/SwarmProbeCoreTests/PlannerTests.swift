import Testing

@testable import SwarmProbeCore

@Suite("Planner.checks")
struct PlannerTests {
    static let inventory = Inventory(nodes: [
        Node(name: "m1", address: ip("10.0.0.1"), role: .manager),
        Node(name: "m2", address: ip("10.0.0.2"), role: .manager),
        Node(name: "w1", address: ip("10.0.0.3"), role: .worker),
        Node(name: "w2", address: ip("10.0.0.4"), role: .worker),
    ])

    @Test("4 nodes x default profile: 4*3 ordered pairs x 4 kinds = 48 checks")
    func count() {
        let checks = Planner.checks(inventory: Self.inventory, profile: DefaultProfile.load())
        #expect(checks.count == 48)
        #expect(Set(checks.map(\.kind.id)) == ["2377/tcp", "7946/tcp", "7946/udp", "4789/udp"])
        #expect(!checks.contains { $0.kind.proto == .esp })
        #expect(!checks.contains { $0.from.name == $0.to.name })
        #expect(Set(checks.map { "\($0.from.name)>\($0.to.name)>\($0.kind.id)" }).count == 48, "no check twice")
        for kind in ["2377/tcp", "7946/tcp", "7946/udp", "4789/udp"] {
            #expect(checks.filter { $0.kind.id == kind }.count == 12)
        }
    }

    @Test("required is false exactly for X -> worker on 2377/tcp")
    func required() {
        let checks = Planner.checks(inventory: Self.inventory, profile: DefaultProfile.load())
        let optional = checks.filter { !$0.required }
        #expect(optional.count == 6)
        for c in checks {
            let expectOptional = c.kind.id == "2377/tcp" && c.to.role == .worker
            #expect(c.required == !expectOptional, "\(c.from.name) -> \(c.to.name) \(c.kind.id)")
        }
    }

    @Test("ESP is checked only with the encrypted profile, between every pair, required")
    func esp() throws {
        let enc = try Profile.parse(try Repo.readProfile("swarm-encrypted.yaml"), source: "swarm-encrypted.yaml")
        let checks = Planner.checks(inventory: Self.inventory, profile: enc)
        #expect(checks.count == 60)
        let esp = checks.filter { $0.kind.proto == .esp }
        #expect(esp.count == 12)
        #expect(esp.allSatisfy { $0.required && $0.kind.port == nil })
    }

    @Test("order: kind in profile order, then sender, then target in inventory order")
    func order() {
        let checks = Planner.checks(inventory: Self.inventory, profile: DefaultProfile.load())
        let first = checks.prefix(3).map { "\($0.kind.id) \($0.from.name)>\($0.to.name)" }
        #expect(first == ["2377/tcp m1>m2", "2377/tcp m1>w1", "2377/tcp m1>w2"])
        #expect(checks[3].from.name == "m2" && checks[3].to.name == "m1")
        #expect(checks[12].kind.id == "7946/tcp")
        #expect(checks.last.map { "\($0.kind.id) \($0.from.name)>\($0.to.name)" } == "4789/udp w2>w1")
    }

    @Test("a single node has nothing to check; two nodes have one check per direction and kind")
    func small() {
        let one = Inventory(nodes: [Node(name: "m1", address: ip("10.0.0.1"), role: .manager)])
        #expect(Planner.checks(inventory: one, profile: DefaultProfile.load()).isEmpty)
        let two = Inventory(nodes: Array(Self.inventory.nodes.prefix(2)))
        #expect(Planner.checks(inventory: two, profile: DefaultProfile.load()).count == 8)
    }

    @Test("a kind restricted by `from` is optional from other roles")
    func fromRestriction() throws {
        let p = try Profile.parse(
            "name: t\nkinds:\n  - name: k\n    protocol: udp\n    port: 9000\n    from: worker\n    required: true\n",
            source: "t.yaml")
        let checks = Planner.checks(inventory: Self.inventory, profile: p)
        for c in checks { #expect(c.required == (c.from.role == .worker)) }
        let q = try Profile.parse("name: t\nkinds:\n  - name: k\n    protocol: udp\n    port: 9000\n    required: false\n", source: "t.yaml")
        #expect(Planner.checks(inventory: Self.inventory, profile: q).allSatisfy { !$0.required })
    }
}
