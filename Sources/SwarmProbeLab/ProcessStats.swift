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
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? 0
        return ProcessStats(cpuSeconds: cpu, rssKiB: rss, peakRSSKiB: ProcInfo.status(pid, "VmHWM") ?? rss, openFiles: fds)
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
