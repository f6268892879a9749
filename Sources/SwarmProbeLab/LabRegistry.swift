import Foundation
import SwarmProbeCore
import SwarmProbeProcess

/// Every live lab of this process, so a signal handler can tear them all down.
public final class LabRegistry: @unchecked Sendable {
    // Guarded by `lock`.
    public static let shared = LabRegistry()
    private let lock = NSLock()
    private var labs: [ObjectIdentifier: Lab] = [:]

    func add(_ lab: Lab) { lock.withLock { labs[ObjectIdentifier(lab)] = lab } }
    func remove(_ lab: Lab) { lock.withLock { labs[ObjectIdentifier(lab)] = nil } }

    public func destroyAll() {
        let all = lock.withLock { Array(labs.values) }
        for lab in all { lab.destroy() }
    }
}
