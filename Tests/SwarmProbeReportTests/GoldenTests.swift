import Foundation
import SwarmProbeCore
import SwarmProbeReport
import Testing

/// Every fixture through every renderer, compared byte for byte with `Golden/`.
/// To regenerate after an intended change: `SWARMPROBE_UPDATE_GOLDEN=1 swift test --filter SwarmProbeReportTests`,
/// review the diff of `Tests/SwarmProbeReportTests/Golden/`, then run again without the variable.
@Suite("Golden reports")
struct GoldenTests {
    enum Format: String, CaseIterable, Sendable, CustomStringConvertible {
        case terminal = "txt"
        case markdown = "md"
        case json = "json"

        var description: String { rawValue }

        func render(_ r: Results) -> String {
            switch self {
            case .terminal: return TerminalReport.render(r, color: false)
            case .markdown: return MarkdownReport.render(r)
            case .json: return JSONReport.render(r)
            }
        }
    }

    static let updating = ProcessInfo.processInfo.environment["SWARMPROBE_UPDATE_GOLDEN"] == "1"

    /// The source tree's golden directory, which the update mode writes.
    static let sourceGoldenDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")

    @Test(arguments: Fixture.allCases, Format.allCases)
    func matchesGolden(_ fixture: Fixture, _ format: Format) throws {
        let name = "\(fixture.rawValue).\(format.rawValue)"
        // 6,240 checks of JSON (3 MiB) make no useful golden; ScaleTests checks that document.
        if fixture == .grouped && format == .json { return }
        let rendered = format.render(fixture.results)

        if Self.updating {
            let url = Self.sourceGoldenDirectory.appendingPathComponent(name)
            try Data(rendered.utf8).write(to: url)
            Issue.record("SWARMPROBE_UPDATE_GOLDEN=1: wrote \(url.path); review it and run again without the variable")
            return
        }
        guard let url = Bundle.module.url(forResource: fixture.rawValue, withExtension: format.rawValue, subdirectory: "Golden") else {
            Issue.record("Golden/\(name) is missing: run with SWARMPROBE_UPDATE_GOLDEN=1 to create it")
            return
        }
        let golden = String(decoding: try Data(contentsOf: url), as: UTF8.self)
        if let difference = firstDifference(golden, rendered) {
            Issue.record("\(name) differs from its golden file (SWARMPROBE_UPDATE_GOLDEN=1 regenerates it): \(difference)")
        }
    }

    /// `line 12: expected "..." got "..."`, or nil when equal.
    func firstDifference(_ expected: String, _ actual: String) -> String? {
        guard expected != actual else { return nil }
        let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
        let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
        for i in 0..<max(e.count, a.count) {
            let el = i < e.count ? String(e[i]) : "<end of file>"
            let al = i < a.count ? String(a[i]) : "<end of file>"
            if el != al { return "line \(i + 1): expected \"\(el)\", got \"\(al)\"" }
        }
        return "the files differ in their line endings"
    }
}
