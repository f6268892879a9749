import Foundation

/// The path of this running binary (to start agents and checks in lab namespaces).
package func selfExecutable() -> String {
    var buffer = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    if n > 0 { return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) }
    return CommandLine.arguments[0]
}

/// The path of `name` in the directory of this binary (the binaries of one build sit side by side).
package func siblingExecutable(_ name: String) -> String {
    URL(fileURLWithPath: selfExecutable()).deletingLastPathComponent().appendingPathComponent(name).path
}
