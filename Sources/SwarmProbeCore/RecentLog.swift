/// Something that happened at a wall-clock time, in ms since 1970.
public protocol Timestamped {
    var timeMs: Int64 { get }
}

/// A log that keeps at most `capacity` entries (the oldest make room) and none older than `retentionMs`
/// (default a minute, as the replay window): an agent's receive log and capture records are asked for
/// within seconds of a run, so keeping more only grows the agent. Old entries go every 1,024 appends and
/// whenever `prune` is called, into a buffer of the right size.
public struct RecentLog<Element: Timestamped> {
    public let capacity: Int
    public let retentionMs: Int64
    private var slots: [Element] = []
    /// The oldest entry's slot once the log is full (0 until then).
    private var head = 0
    private var appendsSincePrune = 0
    /// Entries pushed out by newer ones before their time was up.
    public private(set) var overwritten = 0

    public init(capacity: Int, retentionMs: Int64 = 60_000) {
        self.capacity = max(1, capacity)
        self.retentionMs = retentionMs
    }

    public var count: Int { slots.count }

    /// Appends `e`. Returns the slot it went to, the entry it pushed out (if the log was full), and whether
    /// entries moved to other slots first (an old-entry sweep: slots remembered elsewhere are stale).
    @discardableResult
    public mutating func append(_ e: Element) -> (slot: Int, evicted: Element?, moved: Bool) {
        appendsSincePrune += 1
        let moved = appendsSincePrune >= 1024 ? prune(now: e.timeMs) : false
        if slots.count < capacity {
            slots.append(e)
            return (slots.count - 1, nil, moved)
        }
        let old = slots[head]
        let slot = head
        slots[head] = e
        head = (head + 1) % capacity
        overwritten += 1
        return (slot, old, moved)
    }

    /// Drops the entries older than `now - retentionMs`; true if any went (every slot may have moved).
    @discardableResult
    public mutating func prune(now: Int64) -> Bool {
        appendsSincePrune = 0
        // Entries come in time order (give or take a clock step), so the oldest is at `head`.
        return drop(olderThan: now - retentionMs)
    }

    /// Drops the entries older than `cutoff` (what no run still to be asked about can need); true if any went.
    @discardableResult
    public mutating func drop(olderThan cutoff: Int64) -> Bool {
        guard !slots.isEmpty, slots[head].timeMs < cutoff else { return false }
        slots = inOrder.filter { $0.timeMs >= cutoff }
        head = 0
        return true
    }

    public subscript(slot: Int) -> Element {
        get { slots[slot] }
        set { slots[slot] = newValue }
    }

    /// Every entry, oldest first.
    public var inOrder: [Element] { Array(slots[head...] + slots[..<head]) }
}

extension RecentLog: Sendable where Element: Sendable {}
