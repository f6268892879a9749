import Foundation

/// Hands out block numbers to worker threads and gives their results back in order (`Merge.forEachBlock`):
/// a worker claims the next block only while it is fewer than `window` blocks ahead of the one being
/// taken, so finished blocks waiting for their turn stay bounded.
final class OrderedBlocks<Partial: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private let count: Int
    private let window: Int
    // Guarded by `condition`.
    private var next = 0
    private var taken = 0
    private var done: [Int: Partial] = [:]
    private var cancelled = false
    private var workers = 0

    init(count: Int, window: Int) {
        self.count = count
        self.window = max(1, window)
    }

    /// The next block to work on; nil when there is none left or the reader stopped.
    func claim() -> Int? {
        condition.lock()
        defer { condition.unlock() }
        while !cancelled && next < count && next >= taken + window { condition.wait() }
        guard !cancelled, next < count else { return nil }
        next += 1
        return next - 1
    }

    func put(_ block: Int, _ partial: Partial) {
        condition.lock()
        done[block] = partial
        condition.broadcast()
        condition.unlock()
    }

    /// Claims `block` for the reader itself if no worker has yet (the reader helps instead of waiting).
    func claimIfNext(_ block: Int) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !cancelled, next == block, next < count else { return false }
        next += 1
        return true
    }

    /// The reader has `block` (one it decided itself): the window moves on.
    func took(_ block: Int) {
        condition.lock()
        taken = block + 1
        condition.broadcast()
        condition.unlock()
    }

    /// Block `block`'s result, once a worker has put it; blocks must be taken in order.
    func take(_ block: Int) -> Partial {
        condition.lock()
        defer { condition.unlock() }
        while done[block] == nil { condition.wait() }
        taken = block + 1
        condition.broadcast()
        return done.removeValue(forKey: block)!
    }

    /// The reader is done (or gave up): workers stop claiming.
    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }

    func workerStarted() {
        condition.lock()
        workers += 1
        condition.unlock()
    }

    func workerExited() {
        condition.lock()
        workers -= 1
        condition.broadcast()
        condition.unlock()
    }

    /// Waits until every worker has left (after `cancel`, each finishes at most the block it holds).
    func waitForWorkers() {
        condition.lock()
        while workers > 0 { condition.wait() }
        condition.unlock()
    }
}
