import Foundation

/// What a process really costs in memory, from /proc/PID/smaps_rollup. RSS counts every page mapped,
/// including the binary's clean pages that every process running it shares with the page cache; PSS
/// divides each shared page among the processes mapping it; private (USS) is what only this process maps,
/// what the machine gets back when it exits.
public struct ProcessMemory: Codable, Sendable, Equatable {
    public var rssKiB: Int
    public var pssKiB: Int
    /// Private_Clean + Private_Dirty.
    public var privateKiB: Int

    public init(rssKiB: Int, pssKiB: Int, privateKiB: Int) {
        self.rssKiB = rssKiB
        self.pssKiB = pssKiB
        self.privateKiB = privateKiB
    }

    /// nil when the process is gone (or the kernel has no smaps_rollup, before 4.14).
    public static func read(pid: Int32) -> ProcessMemory? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/smaps_rollup", encoding: .utf8) else { return nil }
        return parse(text)
    }

    /// The totals of an smaps_rollup text (`Rss:    1234 kB` lines).
    public static func parse(_ text: String) -> ProcessMemory? {
        var fields: [Substring: Int] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count >= 2, parts[0].hasSuffix(":"), let kib = Int(parts[1]) else { continue }
            fields[parts[0].dropLast()] = kib
        }
        guard let rss = fields["Rss"], let pss = fields["Pss"], let clean = fields["Private_Clean"],
            let dirty = fields["Private_Dirty"]
        else { return nil }
        return ProcessMemory(rssKiB: rss, pssKiB: pss, privateKiB: clean + dirty)
    }
}
