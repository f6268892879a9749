import Foundation

/// Runs `body`, which blocks (waits on a program), on a thread of its own rather than one of the few that
/// run every task: a dozen nodes' SSH commands at once must not stall the check.
func blocking<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: body()) }.start()
    }
}
