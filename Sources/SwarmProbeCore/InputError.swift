/// A problem with something the user gave us: a file, a flag, a request.
///
/// `description` is always one line and names where the problem is
/// (`inventory.yaml:7: node "w2": address ...`), so the CLI can print it as is.
public struct InputError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Where: a file path, a flag (`--timeout`), or a request field.
    public var source: String
    /// 1-based line in `source`, when it is a file and the line is known.
    public var line: Int?
    public var message: String

    public init(source: String, line: Int? = nil, _ message: String) {
        self.source = source
        self.line = line
        self.message = message
    }

    /// Always one line: control characters that came from the input (a name with a newline in it)
    /// are shown escaped, never printed.
    public var description: String {
        let text = InputError.escaped(message), where_ = InputError.escaped(source)
        if let line { return "\(where_):\(line): \(text)" }
        return "\(where_): \(text)"
    }

    static func escaped(_ s: String) -> String {
        var out = ""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.properties.generalCategory == .control || scalar == "\u{2028}" || scalar == "\u{2029}" || scalar == "\u{85}" {
                    out += "\\u{\(String(scalar.value, radix: 16))}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }
}
