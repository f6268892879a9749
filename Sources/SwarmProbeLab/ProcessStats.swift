import Foundation

/// What /proc says about one process at once: CPU time, memory, open files (through `ProcInfo`). For benchmarks.
public struct ProcessStats: Sendable {
    /// User + system CPU time, seconds.
    public var cpuSeconds: Double
    /// Resident set now and its peak (VmRSS, VmHWM), KiB.
    public var rssKiB: Int
    public var peakRSSKiB: Int
    public var openFiles: Int

    /// nil when the process is gone.
    public static func read(pid: Int32) -> ProcessStats? {
        guard let cpu = ProcInfo.cpuSeconds(pid), let rss = ProcInfo.status(pid, "VmRSS") else { return nil }
        return ProcessStats(cpuSeconds: cpu, rssKiB: rss, peakRSSKiB: ProcInfo.status(pid, "VmHWM") ?? rss,
                            openFiles: openFiles(pid: pid) ?? 0)
    }

    /// Entries of /proc/PID/fd; nil when the process is gone.
    public static func openFiles(pid: Int32) -> Int? {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd"))?.count
    }
}

/// Counts a process's open files every `interval` until stopped, and keeps the peak (the kernel keeps
/// no high-water mark of open files, as it does of memory with VmHWM).
public final class OpenFilesSampler: @unchecked Sendable {
    // `peak` and `running` are guarded by `lock`.
    private let lock = NSLock()
    private var peak = 0
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
            if let n = ProcessStats.openFiles(pid: pid) { lock.withLock { peak = max(peak, n) } }
            Thread.sleep(forTimeInterval: interval)
        }
    }

    /// Stops sampling; returns the most open files seen.
    public func stop() -> Int {
        lock.withLock {
            running = false
            return peak
        }
    }
}

private final class SamplerBox: @unchecked Sendable {
    weak var sampler: OpenFilesSampler?
}
