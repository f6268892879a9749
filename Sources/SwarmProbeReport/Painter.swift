import SwarmProbeCore

/// ANSI colours, or nothing.
struct Painter {
    let on: Bool

    private func sgr(_ code: String, _ s: String) -> String { on ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s }
    func bold(_ s: String) -> String { sgr("1", s) }
    func green(_ s: String) -> String { sgr("32", s) }
    func red(_ s: String) -> String { sgr("31", s) }
    func yellow(_ s: String) -> String { sgr("33", s) }
    func dim(_ s: String) -> String { sgr("2", s) }

    func forVerdict(_ v: Verdict, _ s: String) -> String {
        switch v {
        case .open: return green(s)
        case .blocked: return red(s)
        default: return yellow(s)
        }
    }

    /// Green open, red blocked, yellow the rest; non-required checks that are not open are dimmed.
    func cell(_ symbol: String, _ c: CheckResult?) -> String {
        guard let c else { return symbol }
        if !c.required && c.verdict != .open { return dim(symbol) }
        return forVerdict(c.verdict, symbol)
    }

    func verdict(_ s: ReportModel.Status, _ text: String) -> String {
        switch s {
        case .pass: return bold(green(text))
        case .fail: return bold(red(text))
        case .incomplete: return bold(yellow(text))
        }
    }
}

extension String {
    func padded(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
