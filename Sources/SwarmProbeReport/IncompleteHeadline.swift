import SwarmProbeCore

/// The headline of an interrupted check: how many paths it left undecided, and what the decided ones found.
/// Undecided paths are not counted as not open: they were not found closed, only not finished.
enum IncompleteHeadline {
    /// `INCOMPLETE: interrupted: 1 of 24 paths undecided; 1 required path not open`; `count` writes a number.
    static func line(_ s: Summary, count: (Int) -> String = { "\($0)" }) -> String {
        let notOpen = s.requiredNotOpen - s.requiredUndecided
        let undecided = s.undecided == 0 ? "every path decided" : "\(count(s.undecided)) of \(counted(s.checks, "path", count)) undecided"
        let found =
            notOpen == 0
            ? "every decided required path open" : "\(counted(notOpen, "required path", count)) not open"
        return "INCOMPLETE: interrupted: \(undecided); \(found)"
    }

    private static func counted(_ n: Int, _ noun: String, _ count: (Int) -> String) -> String {
        n == 1 ? "1 \(noun)" : "\(count(n)) \(noun)s"
    }
}
