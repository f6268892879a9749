import ArgumentParser
import Foundation
import SwarmProbeCore

struct TokenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Print a new random cluster token (copy it to every node and the coordinator).",
        discussion: "Example: swarmprobe token > swarmprobe.token && chmod 600 swarmprobe.token"
    )

    @Option(name: .shortAndLong, help: ArgumentHelp("Write the token to this file (mode 0600) instead of stdout.", valueName: "file"))
    var output: String?

    func run() throws {
        let token = ClusterToken.generate() + "\n"
        guard let output else {
            print(token, terminator: "")
            return
        }
        guard FileManager.default.createFile(atPath: output, contents: Data(token.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw InputError(source: output, "token: cannot create the file")
        }
    }
}
