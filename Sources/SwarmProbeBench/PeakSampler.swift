import Foundation

/// Reads a figure of some processes every `interval` until stopped and keeps each one's peak: the kernel
/// keeps no high-water mark of open files, PSS or private memory, as it does of RSS (VmHWM).
public final class PeakSampler<Value: Sendable>: @unchecked Sendable {
    // `peaks` and `running` are guarded by `lock`; the rest is set in init.
    private let lock = NSLock()
    private var peaks: [Int32: Value] = [:]
    private var running = true
    private let done = DispatchSemaphore(value: 0)

    /// `read` gives the figure now (nil: the process is gone), `larger` the peak of two.
    public init(
        pids: [Int32], interval: TimeInterval = 0.01, read: @escaping @Sendable (Int32) -> Value?,
        larger: @escaping @Sendable (Value, Value) -> Value
    ) {
        let thread = Thread { [weak self] in
            while let self, self.lock.withLock({ self.running }) {
                for pid in pids {
                    guard let v = read(pid) else { continue }
                    self.lock.withLock { self.peaks[pid] = self.peaks[pid].map { larger($0, v) } ?? v }
                }
                Thread.sleep(forTimeInterval: interval)
            }
            self?.done.signal()
        }
        thread.start()
    }

    /// Stops sampling (after one last round); returns each process's peak.
    public func stop() -> [Int32: Value] {
        lock.withLock { running = false }
        done.wait()
        return lock.withLock { peaks }
    }
}

extension PeakSampler where Value == Int {
    /// The most open files of `pid`.
    public static func openFiles(_ pid: Int32, interval: TimeInterval = 0.01) -> PeakSampler<Int> {
        PeakSampler(pids: [pid], interval: interval, read: { ProcessStats.openFiles(pid: $0) }, larger: { max($0, $1) })
    }
}

extension PeakSampler where Value == Int {
    /// The most anonymous memory (`RssAnon`, KiB) of each of `pids`: cheap to read (a counter), where
    /// smaps_rollup walks the page tables (milliseconds per agent, too slow to sample a check with).
    public static func anonymous(_ pids: [Int32], interval: TimeInterval = 0.02) -> PeakSampler<Int> {
        PeakSampler(pids: pids, interval: interval, read: { ProcInfo.status($0, "RssAnon") }, larger: { max($0, $1) })
    }
}
