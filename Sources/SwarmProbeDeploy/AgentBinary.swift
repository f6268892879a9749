import Foundation
import SwarmProbeCore
import SwarmProbeProcess

/// The `swarmprobe-agent` a deployment puts on the nodes.
enum AgentBinary {
    /// The agent beside the running `swarmprobe`, as a build and a release put them.
    static var besideThisProgram: String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        let me = n > 0 ? String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : CommandLine.arguments[0]
        return URL(fileURLWithPath: me).deletingLastPathComponent().appendingPathComponent("swarmprobe-agent").path
    }

    /// Refuses an agent of another version than this swarmprobe: the two would not speak the same protocol.
    static func checkVersion(_ path: String) throws(InputError) {
        let out: ProgramOutput
        do {
            out = try Program.capture([path, "--version"], timeout: 10)
        } catch {
            throw InputError(source: "--agent-binary", "\(path): \(error.message) (build it with `swift build -c release`, or pass --agent-binary)")
        }
        let version = out.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        guard out.status == 0, version == SwarmProbeVersion.current else {
            throw InputError(
                source: "--agent-binary",
                "\(path) is swarmprobe-agent \(version.isEmpty ? "of an unknown version" : version), this swarmprobe is \(SwarmProbeVersion.current): use the agent of the same build"
            )
        }
    }

    /// The machine an ELF executable is for, as `uname -m` names it.
    static func architecture(_ path: String) throws(InputError) -> String {
        guard let file = FileHandle(forReadingAtPath: path), let header = try? file.read(upToCount: 20), header.count == 20,
            header.prefix(4).elementsEqual([0x7F, 0x45, 0x4C, 0x46])
        else { throw InputError(source: "--agent-binary", "\(path) is not an ELF executable") }
        let machine = UInt16(header[header.startIndex + 18]) | UInt16(header[header.startIndex + 19]) << 8
        switch machine {
        case 0x3E: return "x86_64"
        case 0xB7: return "aarch64"
        case 0x28: return "armv7l"
        case 0xF3: return "riscv64"
        case 0x16: return "s390x"
        case 0x15: return "ppc64le"
        default: return "ELF machine \(machine)"
        }
    }

    /// A stripped (when `strip` is installed), gzipped copy at `destination`: what crosses the SSH connections.
    static func compress(_ path: String, to destination: String, scratch: String) throws(InputError) {
        var source = path
        let stripped = scratch + "/swarmprobe-agent"
        if (try? Program.run(["strip", "-o", stripped, path], timeout: 60)) != nil { source = stripped }
        // Binary output goes to the file itself (Program.capture reads text).
        let errors = scratch + "/gzip.err"
        do {
            let exit = try ChildProcess(["gzip", "-1", "-c", source], stdout: .file(destination), stderr: .file(errors), timeout: 120).wait()
            guard exit.status == 0 else {
                let why = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? "exit \(exit.status)"
                throw ProgramError(command: ["gzip", "-1", "-c", source], status: exit.status, message: why)
            }
        } catch {
            throw InputError(source: "--agent-binary", "cannot compress \(path): \(error)")
        }
        try? FileManager.default.removeItem(atPath: stripped)
    }
}
