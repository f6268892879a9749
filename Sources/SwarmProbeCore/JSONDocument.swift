import Foundation

/// JSON documents read and written with Foundation's coders: the results file's small parts, saved AWS
/// describe-* output. (The control wire has its own codec, `WireCodec`.)
public enum JSONDocument {
    public static func encoder(pretty: Bool = false) -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return e
    }

    /// Decodes, turning Foundation's error into one line naming the field.
    public static func decode<T: Decodable>(_ type: T.Type, from data: [UInt8], source: String) throws(InputError) -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(data))
        } catch let DecodingError.keyNotFound(key, ctx) {
            throw InputError(source: source, "field `\(path(ctx.codingPath + [key]))` is missing")
        } catch let DecodingError.typeMismatch(_, ctx), let DecodingError.valueNotFound(_, ctx) {
            throw InputError(source: source, "field `\(path(ctx.codingPath))` has the wrong type")
        } catch let DecodingError.dataCorrupted(ctx) {
            let at = ctx.codingPath.isEmpty ? "" : "field `\(path(ctx.codingPath))`: "
            throw InputError(source: source, "\(at)\(ctx.debugDescription)")
        } catch {
            throw InputError(source: source, "not valid JSON")
        }
    }

    static func path(_ keys: [any CodingKey]) -> String {
        keys.map { k in k.intValue.map { "[\($0)]" } ?? ".\(k.stringValue)" }.joined().trimmingCharacters(in: CharacterSet(charactersIn: "."))
    }
}
