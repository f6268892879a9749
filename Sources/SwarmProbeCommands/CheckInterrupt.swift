import Foundation
import SwarmProbeCoordinator

/// What Ctrl-C (or SIGTERM) does to a running check: the first cancels its task, so the coordinator stops
/// waiting and gathers what the agents have so far; the next ends that gather at once (`Coordinator.abort`).
final class CheckInterrupt: @unchecked Sendable {
    // Guarded by `lock`: the signal source's queue and the check's task both touch it.
    private let lock = NSLock()
    private var signals = 0
    private var coordinator: Coordinator?

    /// The check's coordinator, once it exists (a deployment may come first).
    func watch(_ coordinator: Coordinator) {
        let abort = lock.withLock {
            self.coordinator = coordinator
            return signals > 1
        }
        if abort { coordinator.abort() }
    }

    func signal<T>(_ task: Task<T, Never>) {
        let (n, coordinator) = lock.withLock {
            signals += 1
            return (signals, self.coordinator)
        }
        if n == 1 {
            task.cancel()
        } else {
            coordinator?.abort()
        }
    }
}
