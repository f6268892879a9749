import ArgumentParser
import Foundation
import SwarmProbeCore

/// Writes `text` to `path`, or stdout for `-`.
package func writeOutput(_ text: String, to path: String, what: String) throws {
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

    /// The terminal summary goes to stdout unless `--quiet` or a file took stdout.
    var terminalWanted: Bool { !quiet && json != "-" && report != "-" }

    /// Writes the files asked for, then the terminal summary when it is wanted.
    func emit(
        json jsonText: @autoclosure () -> String, report reportText: @autoclosure () -> String,
        terminal: (_ color: Bool) -> String
    ) throws {
        if let json { try writeOutput(jsonText(), to: json, what: "--json") }
        if let report { try writeOutput(reportText(), to: report, what: "--report") }
        if terminalWanted { print(terminal(colorOnStdout(noColor: noColor)), terminator: "") }
    }
}
