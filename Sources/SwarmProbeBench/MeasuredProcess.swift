import Foundation
import SwarmProbeProcess

/// One child process run to its end: what it printed, and what the kernel accounted to it.
public struct MeasuredRun: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    public var wallSeconds: Double
    public var userSeconds: Double
    public var systemSeconds: Double
    /// The child's own peak resident set (`VmHWM`, sampled while it runs), KiB.
    public var maxRSSKiB: Int
    /// The child was killed by the watchdog.
    public var timedOut: Bool
}

/// A child whose stdout and stderr go to files under `directory`, reaped by this process so its CPU time is
/// its own (`ip netns exec` execs its command, so both are the command's). Start many, then wait for each:
/// they run concurrently whatever the core count.
public final class MeasuredProcess: Sendable {
    private let child: ChildProcess
    private let outPath: String
    private let errPath: String

    public var pid: Int32 { child.pid }

    /// `timeout`: SIGKILL after this many seconds.
    public init(_ args: [String], directory: URL, label: String, timeout: TimeInterval? = nil) throws {
        outPath = directory.appendingPathComponent("\(label).stdout").path
        errPath = directory.appendingPathComponent("\(label).stderr").path
        child = try ChildProcess(args, stdout: .file(outPath), stderr: .file(errPath), timeout: timeout)
    }

    /// Runs `args` to its end and measures it.
    public static func run(_ args: [String], directory: URL, label: String, timeout: TimeInterval? = nil) throws -> MeasuredRun {
        try MeasuredProcess(args, directory: directory, label: label, timeout: timeout).wait()
    }

    /// Waits for the child and returns what it did. Call once.
    ///
    /// Peak RSS is the child's own high-water mark (`VmHWM`), read every 5 ms while it runs: `ru_maxrss`
    /// starts at exec from the address space `posix_spawn` replaced (the parent's, through vfork), so every
    /// child of a large parent would seem to peak at the parent's size.
    public func wait() -> MeasuredRun {
        var sampled: Int?
        var exit = child.poll()
        while exit == nil {
            if let hwm = ProcInfo.status(child.pid, "VmHWM") { sampled = hwm }
            usleep(5_000)
            exit = child.poll()
        }
        let e = exit!
        let out = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        let err = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        return MeasuredRun(
            status: e.status, stdout: out, stderr: err, wallSeconds: e.wallSeconds,
            userSeconds: e.userSeconds, systemSeconds: e.systemSeconds,
            maxRSSKiB: sampled ?? e.maxRSSKiB, timedOut: e.timedOut)
    }
}
