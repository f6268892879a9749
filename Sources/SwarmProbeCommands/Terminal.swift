import Foundation
import SwarmProbeAgentCLI

/// A progress line for a person watching: only when stderr is a terminal.
package func progressLine(_ text: String) {
    if isatty(STDERR_FILENO) == 1 { printError(text) }
}

/// Whether stdout gets colours: a terminal, no `--no-color`, no `NO_COLOR` in the environment.
package func colorOnStdout(noColor: Bool) -> Bool {
    !noColor && isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
}
