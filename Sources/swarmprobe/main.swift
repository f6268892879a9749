import Foundation
import SwarmProbeCommands

// The whole tool lives in SwarmProbeCommands so tests can run it in-process.
exit(await SwarmProbe.main())
