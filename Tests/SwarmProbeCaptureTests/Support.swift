import Foundation
import SwarmProbeCapture
import SwarmProbeCore
import Testing

/// The path of a committed capture in `Fixtures/` (regenerate with `Fixtures/make-fixtures.sh`).
func fixture(_ name: String) throws -> String {
    let url = try #require(
        Bundle.module.url(forResource: name, withExtension: "pcap", subdirectory: "Fixtures"),
        "missing fixture \(name).pcap")
    return url.path
}

/// A packet as the tests write it down: `"198.18.200.1:40001 > 198.18.200.2:2377 tcp [S] 0 bytes"` plus payload.
struct Expected: CustomStringConvertible, Equatable {
    var description: String
    var payload: [UInt8]

    init(_ description: String, _ payload: [UInt8] = []) {
        self.description = description
        self.payload = payload
    }

    init(_ description: String, _ text: String) {
        self.init(description, Array(text.utf8))
    }

    init(_ packet: CapturedPacket) {
        self.init(packet.description, packet.payload)
    }
}

let labA = "198.18.200.1"
let labB = "198.18.200.2"

/// Which process privileges a live test needs, or why it is skipped.
enum Privilege {
    static var isRoot: Bool { geteuid() == 0 }
}

/// Runs a program to completion; returns its exit status and combined output.
@discardableResult
func run(_ path: String, _ arguments: [String], input: String? = nil) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let out = Pipe()
    process.standardOutput = out
    process.standardError = out
    let inPipe = Pipe()
    if input != nil { process.standardInput = inPipe }
    try process.run()
    if let input {
        inPipe.fileHandleForWriting.write(Data(input.utf8))
        try inPipe.fileHandleForWriting.close()
    }
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}
