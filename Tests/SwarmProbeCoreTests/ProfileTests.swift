import Foundation
import Testing

@testable import SwarmProbeCore

@Suite("Profiles in probes/")
struct ShippedProfileTests {
    @Test("probes/ holds the shipped profiles")
    func shippedProfilesExist() {
        let files = Repo.profileFiles()
        #expect(files.contains("swarm.yaml"))
        #expect(files.contains("swarm-encrypted.yaml"))
    }

    @Test("every probes/*.yaml parses and declares at least one enabled kind", arguments: Repo.profileFiles())
    func everyProfileParses(file: String) throws {
        let text = try Repo.readProfile(file)
        let profile = try Profile.parse(text, source: "probes/\(file)")
        #expect(!profile.name.isEmpty)
        #expect(!profile.description.isEmpty)
        #expect(!profile.enabledKinds.isEmpty)
        for kind in profile.kinds {
            #expect(!kind.description.isEmpty, "kind \(kind.name) has no description")
            if kind.proto == .esp { #expect(kind.port == nil) } else { #expect(kind.port != nil) }
        }
    }

    @Test("swarm.yaml encodes what swarm mode needs")
    func swarmProfile() throws {
        let p = try Profile.parse(try Repo.readProfile("swarm.yaml"), source: "probes/swarm.yaml")
        #expect(p.name == "swarm")
        #expect(p.kinds.map(\.name) == ["cluster-management", "gossip-tcp", "gossip-udp", "overlay-data", "encrypted-overlay"])
        #expect(p.kinds.map(\.id) == ["2377/tcp", "7946/tcp", "7946/udp", "4789/udp", "esp"])
        #expect(p.enabledKinds.map(\.id) == ["2377/tcp", "7946/tcp", "7946/udp", "4789/udp"])
        let all = Set(Role.allCases)

        let mgmt = try #require(p.kind(.tcp2377))
        #expect(mgmt.from == all)
        #expect(mgmt.to == [.manager])
        #expect(mgmt.required && mgmt.enabled && !mgmt.dataPath && mgmt.sourcePort == nil)
        #expect(mgmt.isRequired(from: .worker, to: .manager))
        #expect(mgmt.isRequired(from: .manager, to: .manager))
        #expect(!mgmt.isRequired(from: .manager, to: .worker))
        #expect(!mgmt.isRequired(from: .worker, to: .worker))

        let gossipTCP = try #require(p.kind(.tcp7946))
        #expect(gossipTCP.from == all && gossipTCP.to == all && gossipTCP.required && gossipTCP.sourcePort == nil)

        let gossipUDP = try #require(p.kind(.udp7946))
        #expect(gossipUDP.from == all && gossipUDP.to == all && gossipUDP.required)
        #expect(gossipUDP.sourcePort == 7946)
        #expect(!gossipUDP.dataPath)

        let vxlan = try #require(p.kind(.udp4789))
        #expect(vxlan.dataPath)
        #expect(vxlan.from == all && vxlan.to == all && vxlan.required)
        #expect(p.kinds.filter(\.dataPath).map(\.name) == ["overlay-data"])

        let esp = try #require(p.kinds.first { $0.proto == .esp })
        #expect(esp.port == nil)
        #expect(!esp.enabled)
        #expect(p.kind(.esp) == nil, "a disabled kind is not looked up")
        for r in Role.allCases {
            for s in Role.allCases {
                #expect(gossipTCP.isRequired(from: r, to: s) && gossipUDP.isRequired(from: r, to: s) && vxlan.isRequired(from: r, to: s))
            }
        }
    }

    @Test("swarm-encrypted.yaml is swarm.yaml with ESP enabled")
    func encryptedProfile() throws {
        let plain = try Profile.parse(try Repo.readProfile("swarm.yaml"), source: "swarm.yaml")
        let enc = try Profile.parse(try Repo.readProfile("swarm-encrypted.yaml"), source: "swarm-encrypted.yaml")
        #expect(enc.name == "swarm-encrypted")
        #expect(enc.enabledKinds.map(\.id) == ["2377/tcp", "7946/tcp", "7946/udp", "4789/udp", "esp"])
        let esp = try #require(enc.kind(.esp))
        #expect(esp.enabled && esp.required && esp.port == nil)
        #expect(esp.from == Set(Role.allCases) && esp.to == Set(Role.allCases))
        var expected = plain.kinds
        expected[4].enabled = true
        #expect(enc.kinds == expected)
    }

    @Test("DefaultProfile.yaml equals probes/swarm.yaml byte for byte")
    func defaultProfileMatchesFile() throws {
        let file = try Data(contentsOf: Repo.probesDirectory.appendingPathComponent("swarm.yaml"))
        let embedded = Data(DefaultProfile.yaml.utf8)
        #expect(embedded == file, "copy probes/swarm.yaml into DefaultProfile.swift")
        let parsedFile = try Profile.parse(String(decoding: file, as: UTF8.self), source: DefaultProfile.source)
        #expect(DefaultProfile.load() == parsedFile)
    }
}

@Suite("Profile.withDataPathPort")
struct DataPathPortTests {
    @Test("moves 4789/udp and nothing else")
    func moves() throws {
        let p = DefaultProfile.load()
        let moved = try p.withDataPathPort(7789)
        #expect(moved.kind(.udp4789) == nil)
        let vxlan = try #require(moved.kind(KindID(proto: .udp, port: 7789)))
        #expect(vxlan.name == "overlay-data" && vxlan.dataPath)
        #expect(moved.kinds.map(\.id) == ["2377/tcp", "7946/tcp", "7946/udp", "7789/udp", "esp"])
        var expected = p.kinds
        expected[3].port = 7789
        #expect(moved.kinds == expected)
        #expect(moved.name == p.name)
        #expect(p.kind(.udp4789) != nil, "the original is unchanged")
    }

    @Test("the same port, or a port only another protocol uses, is accepted", arguments: [4789, 2377, 1, 65535])
    func accepts(port: Int) throws {
        let moved = try DefaultProfile.load().withDataPathPort(port)
        #expect(moved.kinds[3].port == port)
    }

    @Test(
        "refuses a port that is no port, or that another kind already is",
        arguments: [
            (0, "--data-path-port: 0 is not a port number (1-65535)"),
            (-1, "--data-path-port: -1 is not a port number (1-65535)"),
            (65536, "--data-path-port: 65536 is not a port number (1-65535)"),
            (70000, "--data-path-port: 70000 is not a port number (1-65535)"),
            (7946, "--data-path-port: 7946/udp is already the profile's kind \"gossip-udp\""),
        ])
    func refuses(port: Int, message: String) {
        let p = DefaultProfile.load()
        let e = inputError { () throws(InputError) in try p.withDataPathPort(port) }
        #expect(e?.description == message)
        #expect(e?.line == nil)
    }

    @Test("a profile without a data-path kind cannot be moved")
    func noDataPath() throws {
        let p = try Profile.parse("name: tiny\nkinds:\n  - name: g\n    protocol: udp\n    port: 7946\n", source: "tiny.yaml")
        let e = inputError { () throws(InputError) in try p.withDataPathPort(7789) }
        #expect(e?.description == "--data-path-port: profile \"tiny\" has no kind marked `data-path: true` to move")
    }
}

@Suite("Invalid profiles")
struct InvalidProfileTests {
    static let fixtures = Fixture.names("profiles", prefix: "invalid-")

    /// The cases the brief asks for; each must have a fixture so none is lost silently.
    @Test("a fixture exists for every kind of mistake")
    func coverage() {
        let required = [
            "invalid-yaml-syntax.yaml", "invalid-empty.yaml", "invalid-not-a-mapping.yaml", "invalid-missing-name.yaml",
            "invalid-missing-kinds.yaml", "invalid-empty-kinds.yaml", "invalid-unknown-field.yaml",
            "invalid-kind-field-typo.yaml", "invalid-missing-protocol.yaml", "invalid-unknown-protocol.yaml",
            "invalid-missing-port.yaml", "invalid-port-on-esp.yaml", "invalid-port-range.yaml",
            "invalid-port-not-a-number.yaml", "invalid-unknown-role.yaml", "invalid-duplicate-kind.yaml",
            "invalid-duplicate-kind-name.yaml", "invalid-two-data-paths.yaml", "invalid-data-path-tcp.yaml",
            "invalid-source-port-range.yaml", "invalid-required-not-bool.yaml", "invalid-all-disabled.yaml",
        ]
        let present = Set(Self.fixtures)
        for name in required { #expect(present.contains(name), "missing fixture \(name)") }
    }

    @Test("each invalid profile fails with its exact one-line message", arguments: fixtures)
    func rejects(fixture: String) throws {
        let text = try Fixture.text("profiles", fixture)
        let expected = try #require(Fixture.expectedMessage(in: text), "\(fixture) has no `# expect:` first line")
        let e = try #require(
            inputError { () throws(InputError) in try Profile.parse(text, source: fixture) },
            "\(fixture) parsed without error")
        #expect(e.description == expected)
        #expect(e.source == fixture)
        #expect(e.line != nil, "every profile error names a line")
        #expect(!e.description.contains("\n"), "errors are one line")
    }

    @Test("empty and comment-only texts", arguments: ["", "\n", "   \n\n", "# only a comment\n# and another\n"])
    func empty(text: String) {
        let e = inputError { () throws(InputError) in try Profile.parse(text, source: "p.yaml") }
        #expect(e?.description == "p.yaml:1: the file is empty")
    }

    /// Regression (fixed): Yams rejects a repeated key itself (`YamlError.duplicatedKeysInMapping`), and
    /// `YAMLNode.describe` falls into `default:`, printing the whole YAML text on several lines
    /// with no line number. Core's own "field `x` appears twice" check is never reached.
    @Test("a repeated top-level key is a one-line error naming its line and key")
    func repeatedKey() {
        let text = "name: swarm\nname: again\nkinds:\n  - name: g\n    protocol: udp\n    port: 7946\n"
        let e = inputError { () throws(InputError) in try Profile.parse(text, source: "dup.yaml") }
        #expect(e != nil)
        #expect(e?.description.contains("\n") == false, "one line, got: \(e?.description ?? "")")
        #expect(e?.line != nil)
        #expect(e?.description.contains("name") == true)
    }
}

@Suite("Profile parsing details")
struct ProfileParsingTests {
    static let base = "name: t\nkinds:\n  - name: k\n    protocol: udp\n    port: 4789\n"

    @Test("defaults: from/to any, required, enabled, no data path, no source port")
    func defaults() throws {
        let p = try Profile.parse(Self.base, source: "t.yaml")
        #expect(p.description == "")
        let k = try #require(p.kinds.first)
        #expect(k.from == Set(Role.allCases) && k.to == Set(Role.allCases))
        #expect(k.required && k.enabled && !k.dataPath && k.sourcePort == nil && k.description == "")
    }

    @Test(
        "roles: a single value, a list, any, all",
        arguments: [
            ("manager", [Role.manager]),
            ("worker", [.worker]),
            ("[manager, worker]", [.manager, .worker]),
            ("[worker]", [.worker]),
            ("any", [.manager, .worker]),
            ("all", [.manager, .worker]),
        ])
    func roles(text: String, expected: [Role]) throws {
        let p = try Profile.parse(Self.base + "    from: \(text)\n    to: \(text)\n", source: "t.yaml")
        #expect(p.kinds[0].from == Set(expected))
        #expect(p.kinds[0].to == Set(expected))
    }

    @Test(
        "booleans: true/false, yes/no, on/off in any case",
        arguments: [
            ("true", true), ("false", false), ("yes", true), ("no", false), ("on", true), ("off", false), ("True", true), ("NO", false),
        ])
    func booleans(text: String, value: Bool) throws {
        let p = try Profile.parse(Self.base + "    required: \(text)\n    data-path: \(text)\n", source: "t.yaml")
        #expect(p.kinds[0].required == value)
        #expect(p.kinds[0].dataPath == value)
    }

    @Test("protocol names are case-insensitive")
    func protocolCase() throws {
        let p = try Profile.parse("name: t\nkinds:\n  - name: k\n    protocol: TCP\n    port: 2377\n", source: "t.yaml")
        #expect(p.kinds[0].proto == .tcp)
    }

    @Test("the same port on tcp and udp is two kinds, not a duplicate")
    func samePortTwoProtocols() throws {
        let p = try Profile.parse(
            "name: t\nkinds:\n  - name: a\n    protocol: tcp\n    port: 7946\n  - name: b\n    protocol: udp\n    port: 7946\n", source: "t.yaml")
        #expect(p.kinds.map(\.id) == ["7946/tcp", "7946/udp"])
    }
}

@Suite("KindID")
struct KindIDTests {
    @Test(
        "parses and prints",
        arguments: [
            ("2377/tcp", KindID(proto: .tcp, port: 2377)),
            ("7946/udp", KindID(proto: .udp, port: 7946)),
            ("1/udp", KindID(proto: .udp, port: 1)),
            ("65535/tcp", KindID(proto: .tcp, port: 65535)),
            ("esp", KindID(proto: .esp, port: nil)),
        ])
    func valid(text: String, id: KindID) {
        #expect(KindID(text) == id)
        #expect(id.description == text)
    }

    @Test("refuses", arguments: ["", "tcp", "2377", "0/tcp", "65536/udp", "-1/tcp", "80/sctp", "50/esp", "esp/50", "2377/TCP", "2377/tcp/x", "ESP"])
    func invalid(text: String) {
        #expect(KindID(text) == nil)
    }

    @Test("ESP never carries a port")
    func espHasNoPort() {
        #expect(KindID(proto: .esp, port: 50).port == nil)
        #expect(KindID(proto: .esp, port: 50) == .esp)
    }

    @Test("sorts by port, then protocol, ESP last")
    func order() {
        let ids: [KindID] = [.esp, .udp7946, .tcp2377, .udp4789, .tcp7946]
        #expect(ids.sorted().map(\.description) == ["2377/tcp", "4789/udp", "7946/tcp", "7946/udp", "esp"])
    }

    @Test("JSON is the text form; bad text is a decoding error")
    func json() throws {
        let data = try JSONEncoder().encode([KindID.tcp2377, .esp])
        #expect(String(decoding: data, as: UTF8.self) == #"["2377\/tcp","esp"]"# || String(decoding: data, as: UTF8.self) == #"["2377/tcp","esp"]"#)
        #expect(try JSONDecoder().decode([KindID].self, from: data) == [.tcp2377, .esp])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([KindID].self, from: Data(#"["80/sctp"]"#.utf8)) }
    }
}
