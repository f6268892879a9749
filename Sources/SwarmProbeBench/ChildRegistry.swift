import Foundation

/// Children of the bench still running, so a signal can end them (by pid, one by one).
final class ChildRegistry: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var pids: Set<Int32> = []
    func add(_ pid: Int32) { lock.withLock { _ = pids.insert(pid) } }
    func remove(_ pid: Int32) { lock.withLock { _ = pids.remove(pid) } }
    func killAll() { for pid in lock.withLock({ pids }) { kill(pid, SIGKILL) } }
}
