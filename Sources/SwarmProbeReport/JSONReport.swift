import Foundation
import SwarmProbeCore

/// The `swarmprobe.results/v1` document, as scripts and CI gates consume it.
public enum JSONReport {
    /// Pretty-printed with sorted keys (stable diffs), ending in a newline.
    public static func render(_ r: Results) -> String {
        let data: Data
        do {
            data = try WireJSON.encoder(pretty: true).encode(r)
        } catch {
            // Results holds only strings, integers, booleans and enums: encoding cannot fail.
            preconditionFailure("Results could not be encoded: \(error)")
        }
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
