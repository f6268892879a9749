import Foundation
@_exported import SwarmProbeTestSupport
import Testing

@testable import SwarmProbeCore

/// Where the repository and the test fixtures are.
enum Repo {
    /// The package root, found from this file's path (Tests/SwarmProbeCoreTests/Support.swift).
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // SwarmProbeCoreTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()  // package root

    static var probesDirectory: URL { root.appendingPathComponent("probes") }

    /// The `*.yaml` files in `probes/`, sorted.
    static func profileFiles() -> [String] {
        fixtureNames(probesDirectory) { $0.hasSuffix(".yaml") }
    }

    static func readProfile(_ name: String) throws -> String {
        try String(contentsOf: probesDirectory.appendingPathComponent(name), encoding: .utf8)
    }
}

/// The copied `Fixtures` resource folder.
enum Fixture {
    static var directory: URL {
        guard let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
            fatalError("the Fixtures resource folder is missing from the test bundle")
        }
        return url
    }

    /// File names in `Fixtures/<folder>` that start with `prefix` and end in `.yaml`, sorted.
    static func names(_ folder: String, prefix: String) -> [String] {
        fixtureNames(directory.appendingPathComponent(folder)) { $0.hasPrefix(prefix) && $0.hasSuffix(".yaml") }
    }

    static func text(_ folder: String, _ name: String) throws -> String {
        try String(contentsOf: directory.appendingPathComponent(folder).appendingPathComponent(name), encoding: .utf8)
    }

    /// The message a fixture declares on its first line: `# expect: <exact message>`.
    static func expectedMessage(in text: String) -> String? {
        let prefix = "# expect: "
        guard let first = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first,
            first.hasPrefix(prefix)
        else { return nil }
        return String(first.dropFirst(prefix.count))
    }
}

/// Runs a throwing-`InputError` closure and returns the error, or nil if it did not throw.
func inputError<T>(_ body: () throws(InputError) -> T) -> InputError? {
    do {
        _ = try body()
        return nil
    } catch {
        return error
    }
}

/// The names in `dir` that `keep` takes, sorted. A missing or empty folder gives one name no file has, so a
/// test taking these as arguments fails on it, naming the folder, instead of running zero cases.
func fixtureNames(_ dir: URL, _ keep: (String) -> Bool = { !$0.hasPrefix(".") }) -> [String] {
    let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter(keep).sorted()
    return names.isEmpty ? ["(no fixtures in \(dir.path))"] : names
}
