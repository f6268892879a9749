import Foundation
import SwarmProbeCore
import SwarmProbeLab
import SwarmProbeProcess
import Testing

/// The built `swarmprobe` binary: $SWARMPROBE_BIN, or beside the test bundle.
func swarmprobeBinary() -> String {
    ProcessInfo.processInfo.environment["SWARMPROBE_BIN"] ?? builtBinary("swarmprobe")
}

/// A binary of this build: .../debug/swarmprobePackageTests.xctest (a file on Linux) -> .../debug/NAME.
func builtBinary(_ name: String) -> String {
    var buffer = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    let me = n > 0 ? String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : CommandLine.arguments[0]
    let dir = URL(fileURLWithPath: ProcessInfo.processInfo.environment["SWARMPROBE_BIN"] ?? me).deletingLastPathComponent()
    return dir.appendingPathComponent(name).path
}

/// Why lab tests cannot run here, or nil when they can.
let labUnavailable: String? = {
    if let why = Lab.canBuild() { return why }
    if !FileManager.default.isExecutableFile(atPath: swarmprobeBinary()) {
        return "swarmprobe binary not built at \(swarmprobeBinary()) (run `swift build` first)"
    }
    return nil
}()

struct CheckRun {
    var status: Int32
    var stdout: String
    var stderr: String
    var results: Results
    var markdown: String
}

/// Runs `swarmprobe check` in the lab's switch namespace and parses what it wrote.
/// `inventory`: YAML in place of the lab's own.
func runCheck(_ lab: Lab, token: String, extra: [String] = [], timeout: String = "1000ms", inventory yaml: String? = nil) throws -> CheckRun {
    let inventory = try lab.write("inventory.yaml", yaml ?? lab.inventoryYAML())
    let json = lab.directory.appendingPathComponent("results-\(UUID().uuidString).json").path
    let report = lab.directory.appendingPathComponent("report-\(UUID().uuidString).md").path
    let r = try lab.runInSwitch(
        binary: swarmprobeBinary(),
        [
            "check", "--inventory", inventory, "--token-file", token,
            "--timeout", timeout, "--json", json, "--report", report, "--no-color",
        ] + extra)
    guard let data = FileManager.default.contents(atPath: json) else {
        throw ProgramError(command: ["swarmprobe", "check"], status: r.status, message: r.stderr + r.stdout)
    }
    let results = try JSONDecoder().decode(Results.self, from: data)
    let md = (try? String(contentsOfFile: report, encoding: .utf8)) ?? ""
    return CheckRun(status: r.status, stdout: r.stdout, stderr: r.stderr, results: results, markdown: md)
}

/// Starts `swarmprobe check` in the lab's switch namespace without waiting for it; JSON and the markdown
/// report go to `name`.json and `name`.md in the lab's directory.
func startCheck(_ lab: Lab, token: String, timeout: String, name: String = "faults") throws -> (ChildProcess, json: String, report: String) {
    let inventory = try lab.write("inventory.yaml", lab.inventoryYAML())
    let json = lab.directory.appendingPathComponent("\(name).json").path
    let report = lab.directory.appendingPathComponent("\(name).md").path
    let p = try ChildProcess([
        "ip", "netns", "exec", lab.switchNamespace, swarmprobeBinary(), "check", "--inventory", inventory,
        "--token-file", token, "--timeout", timeout, "--json", json, "--report", report, "--quiet",
    ])
    return (p, json, report)
}

/// Builds a lab for `scenario`, starts agents, injects faults, runs `body`, and always tears down.
func withLab<T>(
    _ scenario: LabScenario, agentArguments: [String] = [], startAgents: Bool = true,
    _ body: (Lab, String) throws -> T
) throws -> T {
    let lab = try Lab(nodes: scenario.nodes)
    defer { lab.destroy() }
    let token = try lab.write("token", ClusterToken.generate() + "\n")
    if startAgents { try lab.startAgents(binary: swarmprobeBinary(), tokenFile: token, extraArguments: agentArguments) }
    for f in scenario.faults { try lab.inject(f) }
    return try body(lab, token)
}

/// Every check's verdict and `where` against the scenario's ground truth.
func expectMatches(
    _ results: Results, _ scenario: LabScenario, capture: Bool = false,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    for c in results.checks {
        let (v, w) = scenario.expected(from: c.from, to: c.to, kind: c.kindID, capture: capture)
        #expect(
            c.verdict == v && c.location == w,
            "\(c.from) -> \(c.to) \(c.kindID): expected \(v)/\(w.map(\.rawValue) ?? "-"), got \(c.verdict)/\(c.location.map(\.rawValue) ?? "-"): \(c.detail)",
            sourceLocation: sourceLocation)
    }
}
