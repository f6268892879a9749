import Foundation

/// Turns SIGINT/SIGTERM into a callback for as long as it lives.
package final class SignalCancellation: @unchecked Sendable {
    // Set up once in init and torn down once in stop(); never mutated concurrently.
    private var sources: [any DispatchSourceSignal] = []

    package init(_ onSignal: @escaping @Sendable () -> Void) {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler { onSignal() }
            s.resume()
            sources.append(s)
        }
    }

    package func stop() {
        sources.forEach { $0.cancel() }
        sources = []
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}
