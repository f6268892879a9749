import Foundation

/// What /proc says about one process: CPU time, memory, open files. For benchmarks.
public struct ProcessStats: Sendable {
    /// User + system CPU time, seconds.
    public var cpuSeconds: Double
    /// Resident set now and its peak (VmRSS, VmHWM), KiB.
    public var rssKiB: Int
    public var peakRSSKiB: Int
    public var openFiles: Int

    /// nil when the process is gone.
    public static func read(pid: Int32) -> ProcessStats? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        // Fields after the parenthesised command name: state is field 3; utime and stime are 14 and 15.
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let utime = Double(fields[11]), let stime = Double(fields[12]) else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        func kib(_ key: String) -> Int {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(key + ":") }) else { return 0 }
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
        }
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? 0
        return ProcessStats(cpuSeconds: (utime + stime) / ticks, rssKiB: kib("VmRSS"), peakRSSKiB: kib("VmHWM"), openFiles: fds)
    }
}

/// Samples a process's open files and resident set every `interval` until stopped; keeps the peaks.
public final class ProcessSampler: @unchecked Sendable {
    // `peakFiles`, `peakRSS` and `running` are guarded by `lock`.
    private let lock = NSLock()
    private var peakFiles = 0
    private var peakRSS = 0
    private var running = true
    private let thread: Thread

    public init(pid: Int32, interval: TimeInterval = 0.01) {
        let box = SamplerBox()
        thread = Thread { box.sampler?.loop(pid: pid, interval: interval) }
        box.sampler = self
        thread.start()
    }

    private func loop(pid: Int32, interval: TimeInterval) {
        while lock.withLock({ running }) {
            if let s = ProcessStats.read(pid: pid) {
                lock.withLock {
                    peakFiles = max(peakFiles, s.openFiles)
                    peakRSS = max(peakRSS, s.rssKiB)
                }
            }
            Thread.sleep(forTimeInterval: interval)
        }
    }

    /// Stops sampling; returns the peak open files and the peak resident set (KiB) seen.
    public func stop() -> (openFiles: Int, rssKiB: Int) {
        lock.withLock {
            running = false
            return (peakFiles, peakRSS)
        }
    }
}

private final class SamplerBox: @unchecked Sendable {
    weak var sampler: ProcessSampler?
}
