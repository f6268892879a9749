public enum SwarmProbeVersion {
    public static let current = "0.2.0"
}
