import Foundation

/// Runs a program to completion and returns its output; throws with its stderr on failure.
public struct ShellError: Error, CustomStringConvertible {
    public var command: [String]
    public var status: Int32
    public var stderr: String
    public init(command: [String], status: Int32, stderr: String) {
        self.command = command
        self.status = status
        self.stderr = stderr
    }
    public var description: String {
        "`\(command.joined(separator: " "))` exited \(status): \(stderr.trimmingCharacters(in: .whitespacesAndNewlines))"
    }
}

public enum Shell {
    @discardableResult
    public static func run(_ args: [String], input: String? = nil) throws -> String {
        let r = try capture(args, input: input)
        guard r.status == 0 else { throw ShellError(command: args, status: r.status, stderr: r.stderr) }
        return r.stdout
    }

    /// Runs a program to completion and returns its exit status and both outputs.
    /// `timeout`: SIGKILL it after this long (stderr then ends with a line saying so).
    public static func capture(_ args: [String], input: String? = nil, environment: [String: String]? = nil,
                               timeout: TimeInterval? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try resolve(args[0]))
        p.arguments = Array(args.dropFirst())
        if let environment { p.environment = environment }
        let out = Pipe(), err = Pipe(), inPipe = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = input == nil ? FileHandle.nullDevice : inPipe
        try p.run()
        let pid = p.processIdentifier
        let watchdog = DispatchWorkItem { kill(pid, SIGKILL) }
        if let timeout { DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog) }
        if let input {
            inPipe.fileHandleForWriting.write(Data(input.utf8))
            try? inPipe.fileHandleForWriting.close()
        }
        // Drain stderr on another thread while reading stdout, so neither pipe can fill and stall.
        let errData = ReadBox()
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            errData.set(err.fileHandleForReading.readDataToEndOfFile())
            done.signal()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        watchdog.cancel()
        done.wait()
        var stderr = String(decoding: errData.get(), as: UTF8.self)
        if let timeout, p.terminationReason == .uncaughtSignal && p.terminationStatus == SIGKILL {
            stderr += "\n(killed after \(timeout) s)"
        }
        return (p.terminationStatus, String(decoding: outData, as: UTF8.self), stderr)
    }

    /// Like `run`, but failures are ignored (for cleanup).
    public static func attempt(_ args: [String]) {
        _ = try? run(args)
    }

    public static func resolve(_ name: String) throws -> String {
        if name.hasPrefix("/") { return name }
        for dir in ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/bin", "/usr/local/sbin"] {
            let path = dir + "/" + name
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw ShellError(command: [name], status: 127, stderr: "\(name) not found; install it (apt-get install -y iproute2 nftables)")
    }
}

final class ReadBox: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var data = Data()
    func set(_ d: Data) { lock.lock(); data = d; lock.unlock() }
    func get() -> Data { lock.lock(); defer { lock.unlock() }; return data }
}
