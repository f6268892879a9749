import Foundation

/// A program that failed, in one line: `` `ip netns add x` exited 1: Cannot create namespace ``.
public struct ProgramError: Error, Sendable, CustomStringConvertible {
    public var command: [String]
    public var status: Int32
    public var message: String

    public init(command: [String], status: Int32, message: String) {
        self.command = command
        self.status = status
        self.message = message
    }

    public var description: String {
        let text = message.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: " / ")
        let what = status >= 0 ? "exited \(status)" : "failed"
        return "`\(command.joined(separator: " "))` \(what)" + (text.isEmpty ? "" : ": \(text)")
    }
}

/// What a program run to its end said.
public struct ProgramOutput: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    public var timedOut: Bool
}

/// Runs programs to their end (nft, ip, docker, the AWS CLI). One place for how the project starts a
/// program: `ChildProcess`, with input and output through temporary files.
public enum Program {
    /// Runs `command`; returns its stdout, or throws when it exits non-zero.
    @discardableResult
    public static func run(
        _ command: [String], input: String? = nil, environment: [String: String]? = nil,
        timeout: TimeInterval? = nil
    ) throws(ProgramError) -> String {
        let out = try capture(command, input: input, environment: environment, timeout: timeout)
        guard out.status == 0 else { throw ProgramError(command: command, status: out.status, message: out.stderr) }
        return out.stdout
    }

    /// Runs `command` and returns its status and outputs, whatever the status.
    /// `timeout`: SIGKILL after this many seconds (`timedOut` says so).
    /// `stdinFile`: the file its input is read from (instead of `input`).
    public static func capture(
        _ command: [String], input: String? = nil, stdinFile: String? = nil, environment: [String: String]? = nil,
        timeout: TimeInterval? = nil
    ) throws(ProgramError) -> ProgramOutput {
        let dir: String
        do {
            dir = try scratchDirectory()
        } catch {
            throw ProgramError(command: command, status: -1, message: "no temporary directory: \(error)")
        }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var stdin = stdinFile.map { ChildProcess.Stream.file($0) } ?? .null
        if let input {
            guard FileManager.default.createFile(atPath: dir + "/stdin", contents: Data(input.utf8), attributes: [.posixPermissions: 0o600]) else {
                throw ProgramError(command: command, status: -1, message: "cannot write its input to \(dir)")
            }
            stdin = .file(dir + "/stdin")
        }
        let child = try ChildProcess(
            command, stdin: stdin, stdout: .file(dir + "/stdout"), stderr: .file(dir + "/stderr"),
            environment: environment, timeout: timeout)
        let exit = child.wait()
        func read(_ name: String) -> String { (try? String(contentsOfFile: dir + "/" + name, encoding: .utf8)) ?? "" }
        var stderr = read("stderr")
        if exit.timedOut { stderr += "\n(killed after \(timeout ?? 0) s)" }
        return ProgramOutput(status: exit.status, stdout: read("stdout"), stderr: stderr, timedOut: exit.timedOut)
    }

    /// Runs `command` on this process's own stdin, stdout and stderr; returns its exit status.
    public static func passthrough(_ command: [String]) throws(ProgramError) -> Int32 {
        try ChildProcess(command, stdin: .inherit, stdout: .inherit, stderr: .inherit).wait().status
    }

    /// Runs `command` and ignores how it ended (cleanup that may find nothing to clean).
    public static func attempt(_ command: [String], input: String? = nil) {
        _ = try? run(command, input: input)
    }

    /// The path of `name`: itself when it holds a slash, else the first executable of that name on
    /// `PATH` or in the usual system directories (root's tools live in sbin, which a user's PATH may lack).
    public static func path(_ name: String) throws(ProgramError) -> String {
        if name.contains("/") {
            guard FileManager.default.isExecutableFile(atPath: name) else {
                throw ProgramError(command: [name], status: -1, message: "not an executable file")
            }
            return name
        }
        let searched =
            (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
            + ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        for dir in searched where !dir.isEmpty {
            let candidate = dir + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw ProgramError(command: [name], status: -1, message: "\(name) is not installed (not on PATH)")
    }

    /// `s` as a POSIX shell reads it back: as is when it holds nothing the shell would interpret, else in
    /// single quotes. For the commands a report or a benchmark prints for a person to run.
    public static func shellQuoted(_ s: String) -> String {
        let safe = s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_./:=@,+%".contains($0)) }
        return safe && !s.isEmpty ? s : "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// A fresh private directory for one program's input and output.
    private static func scratchDirectory() throws -> String {
        var template = Array((NSTemporaryDirectory() + "/swarmprobe-run.XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        return String(cString: made)
    }
}
