import Foundation

/// Calls back once stdin ends: an agent started over SSH reads its session's end there (the coordinator closed
/// it, was killed, or the connection dropped), and stops by itself.
enum StdinWatch {
    static func start(onEnd: @escaping @Sendable () -> Void) {
        let thread = Thread {
            var byte: UInt8 = 0
            while true {
                let n = read(STDIN_FILENO, &byte, 1)
                if n == 0 || (n < 0 && errno != EINTR) { break }
            }
            onEnd()
        }
        thread.start()
    }
}
