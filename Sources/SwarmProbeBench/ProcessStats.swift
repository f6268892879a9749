import Foundation

/// What /proc says about one process at once: CPU time, memory, open files.
public struct ProcessStats: Sendable {
    /// User + system CPU time, seconds.
    public var cpuSeconds: Double
    /// Resident set now and its peak (VmRSS, VmHWM), KiB.
    public var rssKiB: Int
    public var peakRSSKiB: Int
    /// RSS, PSS and private memory now.
    public var memory: ProcessMemory?
    public var openFiles: Int

    /// nil when the process is gone.
    public static func read(pid: Int32) -> ProcessStats? {
        guard let cpu = ProcInfo.cpuSeconds(pid), let rss = ProcInfo.status(pid, "VmRSS") else { return nil }
        return ProcessStats(
            cpuSeconds: cpu, rssKiB: rss, peakRSSKiB: ProcInfo.status(pid, "VmHWM") ?? rss,
            memory: ProcessMemory.read(pid: pid), openFiles: openFiles(pid: pid) ?? 0)
    }

    /// Entries of /proc/PID/fd; nil when the process is gone.
    public static func openFiles(pid: Int32) -> Int? {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd"))?.count
    }
}
