import Foundation

/// Phase timing and memory.
final class PhaseTimer {
    private(set) var total = 0.0
    private(set) var totalCPU = 0.0

    /// User + system CPU time of this process, ms: less moved by other work on a shared machine than wall time.
    static func cpu() -> Double {
        var u = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
        return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000 + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1000
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) * 1000 + Double(ts.tv_nsec) / 1_000_000
    }

    /// getrusage's ru_maxrss: the peak resident set of this process, in MiB.
    static func peakRSSMiB() -> Int {
        var u = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
        return Int(u.ru_maxrss) / 1024
    }

    @discardableResult
    func phase<T>(_ name: String, rows: Bool = true, _ body: () throws -> T) rethrows -> T {
        let t0 = PhaseTimer.now(), c0 = PhaseTimer.cpu()
        let v = try body()
        let ms = PhaseTimer.now() - t0, cpu = PhaseTimer.cpu() - c0
        if rows { row(name, ms, cpu) }
        total += ms
        totalCPU += cpu
        return v
    }

    func row(_ name: String, _ ms: Double, _ cpu: Double) {
        say("| \(name) | \(Int(ms.rounded())) | \(Int(cpu.rounded())) | \(PhaseTimer.peakRSSMiB()) |")
    }
}

/// Straight to stdout, unbuffered, so a long phase shows the rows before it.
func say(_ s: String, terminator: String = "\n") {
    FileHandle.standardOutput.write(Data((s + terminator).utf8))
}
