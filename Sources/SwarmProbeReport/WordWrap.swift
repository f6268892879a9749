import SwarmProbeCore

/// Greedy word wrap. A `code span` is never broken, so a command stays copyable;
/// a token longer than the width gets a line of its own.
func wrap(_ text: String, width: Int, indent: String, firstIndent: String? = nil) -> [String] {
    wrap(tokens: words(text), width: width, indent: indent, firstIndent: firstIndent)
}

func wrap(tokens: [String], width: Int, indent: String, firstIndent: String? = nil) -> [String] {
    var lines: [String] = []
    var line = firstIndent ?? indent
    var lineHasWord = false
    for token in tokens {
        if lineHasWord && line.count + 1 + token.count > width {
            lines.append(line)
            line = indent
            lineHasWord = false
        }
        line += (lineHasWord ? " " : "") + token
        lineHasWord = true
    }
    if lineHasWord || lines.isEmpty { lines.append(line) }
    return lines
}

/// Words split at spaces, except inside backticks.
func words(_ text: String) -> [String] {
    var out: [String] = []
    var current = ""
    var inCode = false
    for ch in text {
        if ch == "`" { inCode.toggle() }
        if ch == " " && !inCode {
            if !current.isEmpty { out.append(current) }
            current = ""
        } else {
            current.append(ch)
        }
    }
    if !current.isEmpty { out.append(current) }
    return out
}
