import Foundation
import SwarmProbeProcess

/// Starts agent processes, waits for their ready line, and stops them.
/// Each agent's output goes to a log file (a pipe nobody drains would stall it).
final class AgentSupervisor: @unchecked Sendable {
    struct Spec {
        var name: String
        /// Run before the binary, e.g. `ip netns exec NS` (which execs, so the pid is the agent's).
        var launcher: [String]
        var arguments: [String]
    }

    // `processes` is guarded by `lock`.
    private let lock = NSLock()
    private var processes: [String: ChildProcess] = [:]
    let directory: URL

    init(directory: URL) { self.directory = directory }

    private func logURL(_ name: String) -> URL { directory.appendingPathComponent("agent-\(name).log") }

    func start(_ specs: [Spec], readyTimeout: TimeInterval = 20) throws {
        for spec in specs {
            let log = logURL(spec.name).path
            let p = try ChildProcess(spec.launcher + spec.arguments, stdout: .file(log), stderr: .file(log))
            lock.withLock { processes[spec.name] = p }
        }
        let deadline = Date().addingTimeInterval(readyTimeout)
        for spec in specs {
            while true {
                let text = log(spec.name)
                if text.contains("agent ready") { break }
                let p = lock.withLock { processes[spec.name] }
                if let exit = p?.poll() {
                    throw ProgramError(command: ["swarmprobe agent on \(spec.name)"], status: exit.status, message: text)
                }
                if Date() > deadline {
                    throw ProgramError(
                        command: ["swarmprobe agent on \(spec.name)"], status: -1, message: "not ready after \(Int(readyTimeout)) s: \(text)")
                }
                usleep(20_000)
            }
        }
    }

    func log(_ name: String) -> String {
        (try? String(contentsOf: logURL(name), encoding: .utf8)) ?? ""
    }

    func pid(_ name: String) -> Int32? { lock.withLock { processes[name]?.pid } }

    func kill(_ name: String) {
        guard let p = lock.withLock({ processes.removeValue(forKey: name) }) else { return }
        p.signal(SIGKILL)
        p.wait()
    }

    /// SIGTERM, then SIGKILL after a grace period.
    func stopAll(grace: TimeInterval = 3) {
        let all = lock.withLock { () -> [ChildProcess] in
            defer { processes.removeAll() }
            return Array(processes.values)
        }
        for p in all { p.signal(SIGTERM) }
        let deadline = Date().addingTimeInterval(grace)
        for p in all {
            while p.isRunning && Date() < deadline { usleep(10_000) }
            p.signal(SIGKILL)
            p.wait()
        }
    }
}
