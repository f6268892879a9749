import Testing

@testable import SwarmProbeCore

struct PublishedTests {
    @Test("--published lists: ports and protocols, each error naming the flag and the word")
    func parsePorts() throws {
        #expect(try PublishedTarget.parsePorts("8080/tcp,53/udp", source: "--published") == [KindID("8080/tcp")!, KindID("53/udp")!])
        #expect(try PublishedTarget.parsePorts(" 443/tcp ", source: "--published") == [KindID("443/tcp")!])
        for bad in ["8080", "8080/sctp", "esp", "0/tcp", "70000/udp", "8080/tcp,", "tcp/8080"] {
            let e = #expect(throws: InputError.self, "\(bad)") { try PublishedTarget.parsePorts(bad, source: "--published") }
            let word = bad == "8080/tcp," ? "" : bad
            #expect(e?.description == "--published: \"\(word)\" is not a published port (PORT/tcp or PORT/udp, e.g. 8080/tcp)")
        }
        do {
            _ = try PublishedTarget.parsePorts("8080/tcp,8080/tcp", source: "--published")
            Issue.record("a port listed twice was accepted")
        } catch {
            #expect(error.description == "--published: 8080/tcp is listed twice")
        }
    }

    @Test("an agent's profile with published ports: held ones, watched-only ones, and no swarm port")
    func withPublished() throws {
        let base = DefaultProfile.load()
        let p = try base.withPublished([KindID("8080/tcp")!], live: [KindID("9053/udp")!])
        let added = p.enabledKinds.filter(\.published)
        #expect(added.map(\.kindID) == [KindID("8080/tcp")!, KindID("9053/udp")!])
        #expect(added.map(\.observeOnly) == [false, true])
        #expect(added.allSatisfy { $0.from.isEmpty && !$0.isRequired(from: .manager, to: .worker) })
        do {
            _ = try base.withPublished([KindID("7946/tcp")!])
            Issue.record("a swarm port was accepted as a published one")
        } catch {
            #expect(error.description.contains("7946/tcp is the profile's kind"))
        }
    }

    @Test("the agent's flags for each kind of target")
    func agentArguments() {
        let targets = [
            PublishedTarget(port: KindID("8080/tcp")!), PublishedTarget(port: KindID("53/udp")!),
            PublishedTarget(port: KindID("443/tcp")!, service: "api"),
        ]
        #expect(PublishedTarget.agentArguments(targets) == ["--published", "8080/tcp,53/udp", "--published-live", "443/tcp"])
        #expect(PublishedTarget.agentArguments([]).isEmpty)
    }

    @Test("host mode answers only where a task runs; ingress everywhere")
    func expects() {
        let host = PublishedTarget(port: KindID("9053/udp")!, mode: .host, service: "dns", nodes: ["n1"], taskNodes: ["n1"])
        #expect(host.expects("n1") && !host.expects("n2") && host.live)
        let ingress = PublishedTarget(port: KindID("8080/tcp")!)
        #expect(ingress.expects("anything") && !ingress.live && ingress.kind.name == "published 8080/tcp")
    }
}
