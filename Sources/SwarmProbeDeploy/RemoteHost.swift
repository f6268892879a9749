/// What `check --ssh` needs of a node before it uploads an agent, asked in one command, and what to do about
/// whatever is missing.
struct RemoteHost: Sendable, Equatable {
    var architecture: String
    var root: Bool
    /// sudo runs without a password.
    var sudo: Bool
    var libpcap: Bool
    /// A fresh private directory for this run's agent (`mktemp -d`, mode 0700).
    var directory: String

    /// One shell command line printing the five lines `init(report:)` reads.
    static let probe = [
        "uname -m", "id -u",
        "if command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then echo sudo; else echo no-sudo; fi",
        "if { ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null; } | grep -q 'libpcap\\.so\\.0\\.8'; then echo libpcap; else echo no-libpcap; fi",
        "mktemp -d /tmp/swarmprobe.XXXXXXXX",
    ].joined(separator: "; ")

    /// nil unless `report` is the five lines of `probe`.
    init?(report: String) {
        let lines = report.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        guard lines.count == 5, let uid = Int(lines[1]), lines[4].hasPrefix("/tmp/swarmprobe.") else { return nil }
        architecture = lines[0]
        root = uid == 0
        sudo = lines[2] == "sudo"
        libpcap = lines[3] == "libpcap"
        directory = lines[4]
    }

    init(architecture: String, root: Bool, sudo: Bool, libpcap: Bool, directory: String) {
        self.architecture = architecture
        self.root = root
        self.sudo = sudo
        self.libpcap = libpcap
        self.directory = directory
    }

    /// What keeps an agent from running there, and the command that fixes it; nil when nothing does.
    func problem(localArchitecture: String) -> String? {
        var missing: [String] = []
        if architecture != localArchitecture {
            missing.append("it is \(architecture) and the agent binary is \(localArchitecture): build the agent there or pass --agent-binary")
        }
        if !libpcap {
            missing.append("libpcap is not installed: apt-get install -y libpcap0.8 (Debian, Ubuntu) or dnf install -y libpcap (RHEL, Fedora)")
        }
        if !root && !sudo {
            missing.append(
                "the login is not root and sudo asks for a password: log in as root (ssh: root@HOST in the inventory) or allow sudo without a password"
            )
        }
        return missing.isEmpty ? nil : missing.joined(separator: "; ")
    }

    /// What runs a command as root there.
    var asRoot: String { root ? "" : "sudo -n " }
}
