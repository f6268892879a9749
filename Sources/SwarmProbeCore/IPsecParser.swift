/// Whether the kernel can run the encrypted overlay, told from what it lists, without loading anything:
/// `/proc/modules` (loaded), `modules.builtin` and `modules.dep` under `/lib/modules/$(uname -r)` (built in;
/// on disk), the kernel's config (`/proc/config.gz`, `/boot/config-$(uname -r)`: for kernels without those
/// lists) and `/proc/crypto` (the AES-GCM IPsec uses, instantiated). Pure: the agent hands in the texts.
extension HostFactsParser {
    /// What each source said; nil: that source could not be read.
    public struct KernelSources: Sendable, Equatable {
        public var loaded: Set<String>?
        public var builtin: Set<String>?
        public var onDisk: Set<String>?
        public var config: [String: String]?
        public var crypto: Set<String>?

        public init(
            loaded: Set<String>? = nil, builtin: Set<String>? = nil, onDisk: Set<String>? = nil, config: [String: String]? = nil,
            crypto: Set<String>? = nil
        ) {
            self.loaded = loaded
            self.builtin = builtin
            self.onDisk = onDisk
            self.config = config
            self.crypto = crypto
        }
    }

    /// Each part's module, its kernel config symbol, and the crypto algorithm that shows it ready.
    static let ipsecParts: [(module: String, config: String, crypto: String?)] = [
        ("esp4", "CONFIG_INET_ESP", nil), ("xfrm_user", "CONFIG_XFRM_USER", nil), ("gcm", "CONFIG_CRYPTO_GCM", "rfc4106(gcm(aes))"),
        ("xt_u32", "CONFIG_NETFILTER_XT_MATCH_U32", nil),
    ]

    /// Each part's state; nil when no source could tell any.
    public static func ipsec(_ s: KernelSources) -> IPsecSupport? {
        let states = ipsecParts.map { part -> IPsecSupport.State? in
            if let crypto = part.crypto, s.crypto?.contains(crypto) == true { return .loaded }
            if s.loaded?.contains(part.module) == true { return .loaded }
            if s.builtin?.contains(part.module) == true || s.config?[part.config] == "y" { return .builtin }
            if s.onDisk?.contains(part.module) == true { return .module }
            // A config saying module with no modules.dep to look in: trust it (the lists say more when there).
            if s.onDisk == nil, s.config?[part.config] == "m" { return .module }
            // Missing only when a source that lists what the kernel has could be read.
            return s.builtin != nil || s.config != nil ? .missing : nil
        }
        guard states.contains(where: { $0 != nil }) else { return nil }
        return IPsecSupport(esp4: states[0], xfrmUser: states[1], aesGCM: states[2], xtU32: states[3])
    }

    /// `/proc/modules`: the loaded modules' names (the first word of each line).
    public static func loadedModules(_ text: String) -> Set<String> {
        Set(text.split(separator: "\n").compactMap { $0.split(separator: " ").first.map { moduleName($0) } })
    }

    /// `modules.builtin` (`kernel/net/ipv4/esp4.ko` a line) or `modules.dep` (`kernel/...ko.zst: deps...`):
    /// the modules' names, `-` read as `_` as modprobe does.
    public static func moduleList(_ text: String) -> Set<String> {
        var out: Set<String> = []
        for line in text.split(separator: "\n") {
            guard let path = line.split(separator: ":", maxSplits: 1).first?.trimmingWhitespace, !path.isEmpty else { continue }
            let file = path.split(separator: "/").last.map(String.init) ?? path
            guard let ko = file.firstRange(of: ".ko") else { continue }
            out.insert(moduleName(file[..<ko.lowerBound]))
        }
        return out
    }

    /// A kernel config: `CONFIG_X=y|m|...` and `# CONFIG_X is not set` (as `n`).
    public static func kernelConfig(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingWhitespace
            if line.hasPrefix("# CONFIG_"), line.hasSuffix(" is not set") {
                let symbol = line.dropFirst(2).prefix { $0 != " " }
                out[String(symbol)] = "n"
            } else if line.hasPrefix("CONFIG_"), let eq = line.firstIndex(of: "=") {
                out[String(line[..<eq])] = String(line[line.index(after: eq)...]).trimming("\"")
            }
        }
        return out
    }

    /// `/proc/crypto`: every algorithm's `name` and `driver`.
    public static func cryptoAlgorithms(_ text: String) -> Set<String> {
        var out: Set<String> = []
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let key = parts[0].trimmingWhitespace
            if key == "name" || key == "driver" { out.insert(parts[1].trimmingWhitespace) }
        }
        return out
    }

    static func moduleName<S: StringProtocol>(_ s: S) -> String {
        String(s.map { $0 == "-" ? "_" : $0 })
    }
}
