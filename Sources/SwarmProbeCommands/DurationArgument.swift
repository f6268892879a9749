import ArgumentParser
import Foundation
import SwarmProbeCore

/// A duration on the command line: `2s`, `1500ms`, `1.5s`, `2m` or plain seconds.
package struct DurationArgument: ExpressibleByArgument {
    package var milliseconds: Int

    package init?(argument: String) {
        let s = argument.trimmingCharacters(in: .whitespaces).lowercased()
        var number = s, scale = 1000.0
        if s.hasSuffix("ms") {
            number = String(s.dropLast(2))
            scale = 1
        } else if s.hasSuffix("s") {
            number = String(s.dropLast())
        } else if s.hasSuffix("m") {
            number = String(s.dropLast())
            scale = 60_000
        }
        guard let v = Double(number), v.isFinite, v > 0 else { return nil }
        milliseconds = Int((v * scale).rounded())
    }

    package init(milliseconds: Int) { self.milliseconds = milliseconds }
    package var defaultValueDescription: String { "\(Double(milliseconds) / 1000)s" }
}

/// `check --timeout`: `auto` (per path, from the measured round trip) or a duration.
package struct TimeoutArgument: ExpressibleByArgument {
    package var policy: TimeoutPolicy

    package init?(argument: String) {
        if argument.trimmingCharacters(in: .whitespaces).lowercased() == "auto" {
            policy = .auto
        } else if let d = DurationArgument(argument: argument) {
            policy = .fixed(ms: d.milliseconds)
        } else {
            return nil
        }
    }

    package init(_ policy: TimeoutPolicy) { self.policy = policy }
    package var defaultValueDescription: String { policy == .auto ? "auto" : "\(policy)" }

    /// The value as `check` takes it back.
    package var argument: String {
        if case let .fixed(ms) = policy { return "\(ms)ms" }
        return "auto"
    }

    /// Refuses a fixed timeout outside what agents accept.
    package func validate(flag: String) throws {
        if case let .fixed(ms) = policy, !RunRequest.timeoutRangeMs.contains(ms) {
            throw ValidationError("\(flag): \(ms) ms is outside 50 ms to 60 s")
        }
    }
}
