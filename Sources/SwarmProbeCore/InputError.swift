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

    public var description: String {
        if let line { return "\(source):\(line): \(message)" }
        return "\(source): \(message)"
    }
}
