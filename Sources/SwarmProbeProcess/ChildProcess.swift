import CGlibc
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A program this process started with `posix_spawn` and reaps itself with `wait4`, so the exit status,
/// CPU time and peak memory are the program's own. Its output goes to files, /dev/null or this process's own
/// (never a pipe, which would stall the program once nobody drains it); its input may be a pipe this process
/// writes (`input`), which the program sees end when this process closes it, or dies.
public final class ChildProcess: @unchecked Sendable {
    // `exit` is guarded by `lock`; everything else is set in init.
    public let pid: pid_t
    public let command: [String]
    private let started = Date()
    private let lock = NSLock()
    private var exit: Exit?
    private let watchdog: DispatchWorkItem?
    /// The write end of the child's stdin, when it is `.pipe`.
    public let input: FileHandle?

    /// Where one standard stream of the child goes.
    public enum Stream: Sendable, Equatable {
        case null
        /// This process's own.
        case inherit
        /// A file, read (stdin) or created and truncated (stdout, stderr; the same file for both appends
        /// one to the other).
        case file(String)
        /// stdin only: a pipe this process writes through `input`.
        case pipe
    }

    /// How a child ended.
    public struct Exit: Sendable {
        /// The exit code, or 128 + the signal that killed it.
        public var status: Int32
        public var wallSeconds: Double
        public var userSeconds: Double
        public var systemSeconds: Double
        /// `ru_maxrss`, KiB (see `ProcessMemory` for why a benchmark samples instead).
        public var maxRSSKiB: Int
        /// Killed by the `timeout` watchdog.
        public var timedOut: Bool
    }

    /// Starts `command` (its first element a name found by `Program.path`, or a path).
    /// `environment` replaces this process's environment when given; `timeout`: SIGKILL after this many seconds.
    public init(
        _ command: [String], stdin: Stream = .null, stdout: Stream = .null, stderr: Stream = .null,
        environment: [String: String]? = nil, timeout: TimeInterval? = nil
    ) throws(ProgramError) {
        guard let name = command.first else { throw ProgramError(command: command, status: -1, message: "no program given") }
        let path = try Program.path(name)
        self.command = command
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        func open(_ fd: Int32, _ stream: Stream, _ flags: Int32) {
            switch stream {
            case .inherit, .pipe: break
            case .null: posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", flags, 0)
            case let .file(path): posix_spawn_file_actions_addopen(&actions, fd, path, flags, 0o644)
            }
        }
        var pipe: [Int32] = [-1, -1]
        if stdin == .pipe {
            guard pipe2(&pipe, O_CLOEXEC) == 0 else {
                throw ProgramError(command: command, status: -1, message: "no pipe for its input: \(String(cString: strerror(errno)))")
            }
            posix_spawn_file_actions_adddup2(&actions, pipe[0], 0)
        }
        // Nothing else of this process's: not its sockets, not its files (glibc 2.34+).
        posix_spawn_file_actions_addclosefrom_np(&actions, 3)
        open(0, stdin, O_RDONLY)
        open(1, stdout, O_WRONLY | O_CREAT | O_TRUNC)
        if case .file = stderr, stderr == stdout {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        } else {
            open(2, stderr, O_WRONLY | O_CREAT | O_TRUNC)
        }
        // Default SIGINT, SIGTERM and SIGPIPE in the child, and none blocked, whatever this process ignores or
        // blocks (a child would inherit both, and then never hear a SIGTERM).
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGINT, SIGTERM, SIGPIPE] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        var argv: [UnsafeMutablePointer<CChar>?] = ([path] + command.dropFirst()).map { strdup($0) }
        argv.append(nil)
        defer { for p in argv { free(p) } }
        var envp: [UnsafeMutablePointer<CChar>?]? = environment.map { env in env.map { strdup("\($0.key)=\($0.value)") } + [nil] }
        defer { envp?.forEach { free($0) } }
        var child: pid_t = 0
        let rc =
            envp == nil
            ? posix_spawn(&child, path, &actions, &attributes, argv, environ)
            : posix_spawn(&child, path, &actions, &attributes, argv, &envp!)
        if stdin == .pipe { close(pipe[0]) }
        guard rc == 0 else {
            if stdin == .pipe { close(pipe[1]) }
            throw ProgramError(command: command, status: -1, message: "cannot start: \(String(cString: strerror(rc)))")
        }
        pid = child
        input = stdin == .pipe ? FileHandle(fileDescriptor: pipe[1], closeOnDealloc: true) : nil
        if let timeout {
            let item = DispatchWorkItem { _ = kill(child, SIGKILL) }
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: item)
            watchdog = item
        } else {
            watchdog = nil
        }
    }

    /// How it ended, if it has (reaps it then); never blocks.
    public func poll() -> Exit? { reap(block: false) }

    public var isRunning: Bool { poll() == nil }

    /// Blocks until it ends.
    @discardableResult
    public func wait() -> Exit { reap(block: true)! }

    public func signal(_ sig: Int32) {
        guard poll() == nil else { return }
        kill(pid, sig)
    }

    /// SIGTERM, then SIGKILL if it is still running after `grace` seconds; waits for it.
    @discardableResult
    public func terminate(grace: TimeInterval = 3) -> Exit {
        signal(SIGTERM)
        let deadline = Date().addingTimeInterval(grace)
        while Date() < deadline {
            if let e = poll() { return e }
            usleep(10_000)
        }
        signal(SIGKILL)
        return wait()
    }

    private func reap(block: Bool) -> Exit? {
        lock.lock()
        defer { lock.unlock() }
        if let exit { return exit }
        var status: Int32 = 0
        var usage = rusage()
        while true {
            let r = wait4(pid, &status, block ? 0 : WNOHANG, &usage)
            if r == pid { break }
            if r == 0 { return nil }
            if errno == EINTR { continue }
            // Already reaped elsewhere (it should not be): nothing more is known.
            exit = Exit(
                status: -1, wallSeconds: Date().timeIntervalSince(started), userSeconds: 0, systemSeconds: 0,
                maxRSSKiB: 0, timedOut: false)
            return exit
        }
        watchdog?.cancel()
        let signal = status & 0x7f
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        exit = Exit(
            status: signal != 0 ? 128 + signal : (status >> 8) & 0xff, wallSeconds: Date().timeIntervalSince(started),
            userSeconds: seconds(usage.ru_utime), systemSeconds: seconds(usage.ru_stime),
            maxRSSKiB: Int(usage.ru_maxrss), timedOut: signal == SIGKILL && watchdog != nil)
        return exit
    }
}
