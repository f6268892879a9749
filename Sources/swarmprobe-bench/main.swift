import Foundation
import SwarmProbeBench

exit(await SwarmProbeBench.main())
