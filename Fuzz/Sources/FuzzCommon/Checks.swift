import Crypto
import Foundation
import SwarmProbeCore

/// What every fuzzer asserts beyond "does not crash". A failed check traps, so libFuzzer keeps the input.
/// Tests/SwarmProbe{Core,Capture}Tests/FuzzRegressionTests.swift repeat these few lines (a test target
/// cannot depend on this package): change both together.
public enum FuzzCheck {
    /// The fixed test key of the corpus (`Fuzz/make-corpus.py`): 32 bytes of 0x42, as in ProbePacketTests.
    public static let keyBytes = [UInt8](repeating: 0x42, count: 32)
    public static var key: SymmetricKey { SymmetricKey(data: keyBytes) }

    /// The address an agent under fuzz has, and the kinds of the built-in profile.
    public static let selfAddress = IPAddress.v4(10, 0, 0, 1)
    public static let kinds = Set(DefaultProfile.load().enabledKinds.map(\.kindID))

    /// The receiver's clock for replay checks: 2023-11-14T22:13:20Z, what the corpus' timestamps are near.
    public static let now: UInt64 = 1_700_000_000_000

    /// `FUZZ_ALLOW_MULTILINE=1` turns the one-line check off, to look past messages already known to
    /// span lines (see FuzzRegressionTests) for crashes.
    public static let allowMultiline = ProcessInfo.processInfo.environment["FUZZ_ALLOW_MULTILINE"] == "1"

    /// `InputError.description` is one line naming where (the CLI prints it as is, the agent returns it).
    public static func requireOneLine(_ error: InputError, _ what: StaticString) {
        requireOneLine(error.description, what)
    }

    /// An error message is one line: it is logged and returned as is, and may quote what it refuses.
    public static func requireOneLine(_ message: String, _ what: StaticString) {
        if !allowMultiline && message.contains(where: \.isNewline) {
            fatalError("\(what): message spans lines: \(String(reflecting: message))")
        }
    }

    /// An address parses back from its text: JSON and reports carry addresses as text.
    public static func requireRoundTrip(_ address: IPAddress, _ what: StaticString) {
        guard IPAddress(address.description) == address else {
            fatalError("\(what): address \(address) (\(address.bytes16)) does not parse back from its description")
        }
        guard IPAddress(bytes16: address.bytes16) == address else {
            fatalError("\(what): address \(address) does not come back from its 16 wire bytes")
        }
    }
}

extension UnsafeRawPointer {
    /// The fuzzer's input as bytes (an exact-size copy: ASan sees a read past the end).
    public func fuzzBytes(_ count: Int) -> [UInt8] {
        [UInt8](UnsafeRawBufferPointer(start: self, count: count))
    }
}
