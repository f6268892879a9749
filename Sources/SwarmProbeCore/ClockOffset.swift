/// How far a node's clock may be off the others': swarm's raft and its mutual TLS want clocks within a second
/// of each other (a certificate "not yet valid" stops a join: moby#24078, #25112).
public enum ClockOffset {
    public static let toleranceMs = 1000

    /// The least a clock offset can be: the agent stamped `agentMs` somewhere between this host's `sentMs` and
    /// `receivedMs`, so it is ahead by at least `agentMs - receivedMs`, or behind by at least `sentMs - agentMs`;
    /// 0 when the stamp falls inside the round trip. A loaded machine's slow hello can never fake a skew.
    public static func sure(agentMs: Int, sentMs: Int, receivedMs: Int) -> Int {
        if agentMs > receivedMs { return agentMs - receivedMs }
        if agentMs < sentMs { return agentMs - sentMs }
        return 0
    }

    /// `2.5 s ahead of`, `3 min 5 s behind`: an offset (the node's clock minus the reference) in words.
    public static func words(_ offsetMs: Int) -> String {
        let ms = abs(offsetMs)
        let tenths = (ms + 50) / 100, seconds = (ms + 500) / 1000, minutes = (ms + 30_000) / 60_000
        let amount: String
        if tenths < 100 {
            amount = "\(tenths / 10).\(tenths % 10) s"
        } else if seconds < 60 {
            amount = "\(seconds) s"
        } else if seconds < 3600 {
            amount = seconds % 60 == 0 ? "\(seconds / 60) min" : "\(seconds / 60) min \(seconds % 60) s"
        } else {
            amount = minutes % 60 == 0 ? "\(minutes / 60) h" : "\(minutes / 60) h \(minutes % 60) min"
        }
        return "\(amount) \(offsetMs >= 0 ? "ahead of" : "behind")"
    }
}
