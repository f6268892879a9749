import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One child process run to completion, with what the kernel accounted to it (`wait4`).
public struct MeasuredRun: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    public var wallSeconds: Double
    public var userSeconds: Double
    public var systemSeconds: Double
    /// Peak resident set of the child (`ru_maxrss`), KiB.
    public var maxRSSKiB: Int
    /// The child was killed by the watchdog.
    public var timedOut: Bool
}

extension Shell {
    /// Runs `args` to completion and measures it (see `SpawnedProcess`).
    public static func measure(_ args: [String], directory: URL, label: String, timeout: TimeInterval? = nil) throws -> MeasuredRun {
        try SpawnedProcess(args, directory: directory, label: label, timeout: timeout).wait()
    }
}

/// A child started with `posix_spawn`, stdout and stderr into files under `directory`, reaped with
/// `wait4`, so its CPU time is its own, and its peak RSS read from /proc while it runs (`ip netns exec`
/// execs its command, so both are the command's). Start many, then wait for each: they run concurrently
/// whatever the core count.
public final class SpawnedProcess: @unchecked Sendable {
    // Set in init, read in wait(); one owner.
    public let pid: pid_t
    private let args: [String]
    private let started: Date
    private let outPath: String
    private let errPath: String
    private let watchdog: DispatchWorkItem?
    private let timeout: TimeInterval?

    /// `timeout`: SIGKILL after this long.
    public init(_ args: [String], directory: URL, label: String, timeout: TimeInterval? = nil) throws {
        let path = try Shell.resolve(args[0])
        self.args = args
        self.timeout = timeout
        outPath = directory.appendingPathComponent("\(label).stdout").path
        errPath = directory.appendingPathComponent("\(label).stderr").path
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        var cArgs: [UnsafeMutablePointer<CChar>?] = ([path] + args.dropFirst()).map { strdup($0) }
        cArgs.append(nil)
        defer { for p in cArgs { free(p) } }
        // Default SIGINT/SIGTERM in the child, whatever the parent ignores while it handles them.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGINT)
        sigaddset(&defaults, SIGTERM)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        started = Date()
        let rc = posix_spawn(&pid, path, &actions, &attributes, cArgs, environ)
        guard rc == 0 else { throw ShellError(command: args, status: -1, stderr: "posix_spawn: \(String(cString: strerror(rc)))") }
        self.pid = pid
        if let timeout {
            let item = DispatchWorkItem { [pid] in _ = kill(pid, SIGKILL) }
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: item)
            watchdog = item
        } else {
            watchdog = nil
        }
    }

    /// Reaps the child (blocking) and returns what it did. Call once.
    ///
    /// Peak RSS is the child's own high-water mark (`VmHWM`), read every 5 ms while it runs: `wait4`'s
    /// `ru_maxrss` is no use here, because Linux starts a process's maximum at exec from the address space
    /// it replaces, and `posix_spawn` execs from the parent's (vfork): every child of a 300 MiB parent
    /// "peaked" at 300 MiB, and `bench mesh` reported its own growing size as the coordinator's (50-66
    /// MiB). A child gone before the first read falls back to `ru_maxrss`.
    public func wait() -> MeasuredRun {
        var status: Int32 = 0
        var usage = rusage()
        var sampled: Int?
        while true {
            let r = wait4(pid, &status, WNOHANG, &usage)
            if r == pid { break }
            if r < 0 && errno != EINTR { break }
            if let hwm = ProcInfo.status(pid, "VmHWM") { sampled = hwm }
            usleep(5_000)
        }
        let wall = Date().timeIntervalSince(started)
        watchdog?.cancel()
        let signal = status & 0x7f
        let code: Int32 = signal != 0 ? 128 + signal : (status >> 8) & 0xff
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        let out = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        let err = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        return MeasuredRun(status: code, stdout: out, stderr: err, wallSeconds: wall,
                           userSeconds: seconds(usage.ru_utime), systemSeconds: seconds(usage.ru_stime),
                           maxRSSKiB: sampled ?? Int(usage.ru_maxrss), timedOut: signal == SIGKILL && timeout != nil)
    }
}

/// What /proc says about a running process.
public enum ProcInfo {
    /// utime + stime, seconds (/proc/PID/stat fields 14 and 15).
    public static func cpuSeconds(_ pid: Int32) -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return nil }
        return parseStatCPU(text).map { Double($0) / Double(sysconf(Int32(_SC_CLK_TCK))) }
    }

    /// utime + stime in clock ticks from the text of /proc/PID/stat (the command name may hold spaces
    /// and parentheses, so fields are counted after the last `)`).
    public static func parseStatCPU(_ text: String) -> UInt64? {
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // After ")": field 3 (state) is index 0, so utime (14) is index 11 and stime (15) index 12.
        guard fields.count > 12, let u = UInt64(fields[11]), let s = UInt64(fields[12]) else { return nil }
        return u + s
    }

    /// A `Vm...` line of /proc/PID/status, KiB (`VmRSS`, `VmHWM`).
    public static func status(_ pid: Int32, _ key: String) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(key + ":") {
            return Int(line.dropFirst(key.count + 1).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "")
        }
        return nil
    }

    /// Resets the process's peak RSS (VmHWM) to its current RSS (`echo 5 > /proc/PID/clear_refs`).
    @discardableResult
    public static func resetPeakRSS(_ pid: Int32) -> Bool {
        guard let h = FileHandle(forWritingAtPath: "/proc/\(pid)/clear_refs") else { return false }
        defer { try? h.close() }
        return (try? h.write(contentsOf: Data("5".utf8))) != nil
    }
}
