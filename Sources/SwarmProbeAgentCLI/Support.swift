import ArgumentParser
import Foundation
import SwarmProbeCore

/// One line to stderr.
public func printError(_ text: String) {
    FileHandle.standardError.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
}

/// Loads a profile from a file, or the built-in default, and applies `--data-path-port`.
public func loadProfile(path: String?, dataPathPort: Int?) throws(InputError) -> Profile {
    var profile: Profile
    if let path {
        profile = try Profile.parse(try readInputFile(path, what: "profile"), source: path)
    } else {
        profile = DefaultProfile.load()
    }
    if let dataPathPort { profile = try profile.withDataPathPort(dataPathPort) }
    return profile
}

/// Parses and runs `Root`, mapping every failure to a one-line message and an exit code (2 for bad
/// input or usage, where argument-parser alone would say 64).
public func runMain<Root: ParsableCommand>(_ root: Root.Type, name: String, _ arguments: [String]? = nil) async -> Int32 {
    // A write to a pipe whose reader is gone (an ssh session that ended) is an error to handle, not a signal that
    // kills the process. Children get SIGPIPE back at its default (`ChildProcess`).
    signal(SIGPIPE, SIG_IGN)
    do {
        var command = try root.parseAsRoot(arguments)
        if var asyncCommand = command as? any AsyncParsableCommand {
            try await asyncCommand.run()
        } else {
            try command.run()
        }
        return 0
    } catch let e as InputError {
        printError("\(name): \(e)")
        return 2
    } catch let e as ExitCode {
        return e.rawValue
    } catch {
        let code = root.exitCode(for: error)
        if code == .success {
            print(root.fullMessage(for: error))  // --help, --version
            return 0
        }
        // One line naming the flag; `--help` has the usage.
        let message = root.message(for: error).split(whereSeparator: \.isNewline).first.map(String.init) ?? "\(error)"
        printError("\(name): \(message)")
        return code == .validationFailure ? 2 : code.rawValue
    }
}
