import Yams

/// A thin layer over Yams' node tree that keeps line numbers, so every
/// validation error can name the file and line it is about.
struct YAMLNode {
    let node: Yams.Node
    let source: String

    var line: Int? { node.mark?.line }

    static func load(_ text: String, source: String) throws(InputError) -> YAMLNode {
        do {
            guard let node: Yams.Node = try Yams.compose(yaml: text) else {
                throw InputError(source: source, line: 1, "the file is empty")
            }
            return YAMLNode(node: node, source: source)
        } catch let e as InputError {
            throw e
        } catch let e as YamlError {
            throw YAMLNode.describe(e, source: source)
        } catch {
            throw InputError(source: source, "not valid YAML: \(error)")
        }
    }

    static func describe(_ e: YamlError, source: String) -> InputError {
        switch e {
        case let .scanner(_, problem, mark, _), let .parser(_, problem, mark, _), let .composer(_, problem, mark, _):
            return InputError(source: source, line: mark.line, "not valid YAML: \(problem)")
        case let .reader(problem, _, _, _):
            return InputError(source: source, "not valid YAML: \(problem)")
        case let .duplicatedKeysInMapping(duplicates, context):
            let keys = duplicates.sorted().map { "`\($0)`" }.joined(separator: ", ")
            return InputError(source: source, line: context.mark.line, "field \(keys) appears more than once")
        default:
            let firstLine = "\(e)".split(whereSeparator: \.isNewline).first.map(String.init) ?? "unknown error"
            return InputError(source: source, "not valid YAML: \(firstLine)")
        }
    }

    func error(_ message: String) -> InputError {
        InputError(source: source, line: line, message)
    }

    /// The mapping's entries in file order; throws if this is not a mapping.
    func mapping(what: String) throws(InputError) -> [(key: String, value: YAMLNode, keyLine: Int?)] {
        guard case let .mapping(m) = node else { throw error("\(what) must be a mapping of `key: value` lines") }
        var out: [(key: String, value: YAMLNode, keyLine: Int?)] = []
        var seen = Set<String>()
        for (k, v) in m {
            guard let key = k.string else {
                throw InputError(source: source, line: k.mark?.line, "\(what): keys must be plain strings")
            }
            if !seen.insert(key).inserted {
                throw InputError(source: source, line: k.mark?.line, "\(what): field `\(key)` appears twice")
            }
            out.append((key, YAMLNode(node: v, source: source), k.mark?.line))
        }
        return out
    }

    func sequence(what: String) throws(InputError) -> [YAMLNode] {
        guard case let .sequence(s) = node else { throw error("\(what) must be a list (lines starting with `- `)") }
        return s.map { YAMLNode(node: $0, source: source) }
    }

    func string(what: String) throws(InputError) -> String {
        guard case let .scalar(s) = node else { throw error("\(what) must be a single value, not a list or mapping") }
        return s.string
    }

    func int(what: String) throws(InputError) -> Int {
        let s = try string(what: what)
        guard let v = Int(s) else { throw error("\(what) must be a whole number, got \"\(s)\"") }
        return v
    }

    func bool(what: String) throws(InputError) -> Bool {
        let s = try string(what: what)
        switch s.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw error("\(what) must be true or false, got \"\(s)\"")
        }
    }

    /// A single string or a list of strings.
    func stringList(what: String) throws(InputError) -> [String] {
        if case .scalar = node { return [try string(what: what)] }
        return try sequence(what: what).map { (n: YAMLNode) throws(InputError) -> String in try n.string(what: what) }
    }
}

/// Rejects unknown fields, so a typo (`adress:`) is an error, not a silent default.
func rejectUnknown(_ entries: [(key: String, value: YAMLNode, keyLine: Int?)], allowed: Set<String>, what: String, source: String) throws(InputError)
{
    for e in entries where !allowed.contains(e.key) {
        let list = allowed.sorted().joined(separator: ", ")
        throw InputError(source: source, line: e.keyLine, "\(what): unknown field `\(e.key)` (expected one of: \(list))")
    }
}
