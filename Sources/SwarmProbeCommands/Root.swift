import ArgumentParser
import Foundation
import SwarmProbeAgentCLI
import SwarmProbeCore

public struct SwarmProbe: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "swarmprobe",
        abstract: "Diagnose Docker swarm connectivity: which node pairs are blocked, on which port, in which direction, and where.",
        discussion: """
        Run `swarmprobe agent` on every node, then `swarmprobe check` from anywhere that reaches the agents.
        `swarmprobe demo` shows it all on a lab of network namespaces.
        Exit codes of check: 0 every required path open, 1 findings, 2 bad input or usage.
        """,
        version: SwarmProbeVersion.current,
        subcommands: [CheckCommand.self, AgentCommand.self, TokenCommand.self, DiscoverCommand.self, DemoCommand.self, BenchCommand.self, AWSCommand.self]
    )

    public init() {}

    /// The entry point: parse, run, and map every failure to a one-line message and an exit code
    /// (2 for bad input or usage, as PRODUCT.md promises, where argument-parser alone would say 64).
    public static func main(_ arguments: [String]? = nil) async -> Int32 {
        await runMain(SwarmProbe.self, name: "swarmprobe", arguments)
    }
}

/// Progress lines for a person watching: only when stderr is a terminal.
func progressLine(_ text: String) {
    if isatty(STDERR_FILENO) == 1 { printError(text) }
}

/// A probe timeout: `2s`, `1500ms`, `1.5s` or plain seconds.
struct Duration: ExpressibleByArgument {
    var milliseconds: Int

    init?(argument: String) {
        let s = argument.trimmingCharacters(in: .whitespaces).lowercased()
        var number = s, scale = 1000.0
        if s.hasSuffix("ms") { number = String(s.dropLast(2)); scale = 1 }
        else if s.hasSuffix("s") { number = String(s.dropLast()); scale = 1000 }
        else if s.hasSuffix("m") { number = String(s.dropLast()); scale = 60_000 }
        guard let v = Double(number), v.isFinite, v > 0 else { return nil }
        milliseconds = Int((v * scale).rounded())
    }

    init(milliseconds: Int) { self.milliseconds = milliseconds }
    var defaultValueDescription: String { "\(Double(milliseconds) / 1000)s" }
}

/// `check --timeout`: `auto` (per path, from the measured round trip) or a duration.
struct TimeoutArgument: ExpressibleByArgument {
    var policy: TimeoutPolicy

    init?(argument: String) {
        if argument.trimmingCharacters(in: .whitespaces).lowercased() == "auto" {
            policy = .auto
        } else if let d = Duration(argument: argument) {
            policy = .fixed(ms: d.milliseconds)
        } else {
            return nil
        }
    }

    init(_ policy: TimeoutPolicy) { self.policy = policy }
    var defaultValueDescription: String { policy == .auto ? "auto" : "\(policy)" }
    /// The value as `check` takes it back.
    var argument: String {
        if case let .fixed(ms) = policy { return "\(ms)ms" }
        return "auto"
    }

    /// Refuses a fixed timeout outside what agents accept.
    func validate(flag: String) throws {
        if case let .fixed(ms) = policy, !RunRequest.timeoutRangeMs.contains(ms) {
            throw ValidationError("\(flag): \(ms) ms is outside 50 ms to 60 s")
        }
    }
}

/// Where this binary is, to start agents and checks in lab namespaces.
func selfExecutable() -> String {
    var buffer = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    if n > 0 { return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) }
    return CommandLine.arguments[0]
}

/// Writes `text` to `path`, or stdout for `-`.
func writeOutput(_ text: String, to path: String, what: String) throws {
    if path == "-" {
        FileHandle.standardOutput.write(Data(text.utf8))
        return
    }
    do {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    } catch {
        throw InputError(source: path, "\(what): cannot write the file (\(error.localizedDescription))")
    }
}

/// Where `check` and `aws audit` write what they found, and how the terminal summary looks.
struct OutputOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Write swarmprobe.results/v1 JSON here (- for stdout).", valueName: "file"))
    var json: String?

    @Option(help: ArgumentHelp("Write the markdown report here (- for stdout).", valueName: "file"))
    var report: String?

    @Flag(help: "Print nothing on stdout but errors (the exit code and files still tell).")
    var quiet = false

    @Flag(help: "No colours in the terminal summary.")
    var noColor = false

    /// Writes the files asked for, then the terminal summary unless stdout is taken or `--quiet`.
    func emit(json jsonText: @autoclosure () -> String, report reportText: @autoclosure () -> String,
              terminal: (_ color: Bool) -> String) throws {
        if let json { try writeOutput(jsonText(), to: json, what: "--json") }
        if let report { try writeOutput(reportText(), to: report, what: "--report") }
        if !quiet && json != "-" && report != "-" {
            let color = !noColor && isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
            print(terminal(color), terminator: "")
        }
    }
}
