import Foundation

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
