import NIOCore
import SwarmProbeCore

extension Coordinator {
    /// How long each step of the gather after an interrupt may take: stopping the runs, then fetching the logs.
    public static let salvageStepMs = 1500

    /// After an interrupt (the check's task is cancelled) with the runs under way: has every agent whose run
    /// has not answered stop it and hand back the probes that had ended, then fetches the receive log and taps
    /// of every agent whose log is missing, all nodes at once, each step within `salvageStepMs`. An agent that
    /// does not answer in time is left out (its paths stay undecided), and its health stands: an interrupt is
    /// not an agent failure. Runs on a task of its own, since the caller's is cancelled; `abort` ends it.
    func salvage(_ client: ControlClient, runID: String, nodes: [Node]) async {
        let work = Task { [self] in
            let step = TimeAmount.milliseconds(Int64(min(options.controlTimeoutMs, Coordinator.salvageStepMs)))
            let kinds = profile.enabledKinds
            let (running, unlogged) = gathered.withLockedValue { g in
                let up = nodes.filter { g.health[$0.name]?.isUp ?? false }
                return (up.filter { g.sent.tables[$0.name] == nil }, up.filter { g.received.tables[$0.name] == nil })
            }
            progress(.salvaging(agents: Set(running.map(\.name) + unlogged.map(\.name)).count))
            // Stopped first, then logged: every probe a sender reports has ended before its target's log is read.
            await withTaskGroup(of: Void.self) { group in
                for node in running {
                    group.addTask { [self] in
                        do throws(AgentCallError) {
                            let partial = try await client.call(
                                node, path: ControlPath.stop, StopRequest(runID: runID), as: RunResponse.self, timeout: step)
                            gathered.withLockedValue { $0.recordRun(node, partial, kinds: kinds) }
                        } catch {
                            logger.debug("stop \(node.name): \(error)")
                        }
                    }
                }
            }
            guard !Task.isCancelled else { return }
            await withTaskGroup(of: Void.self) { group in
                for node in unlogged {
                    group.addTask { [self] in
                        do throws(AgentCallError) {
                            let log = try await client.call(
                                node, path: ControlPath.log, LogRequest(runID: runID), as: LogResponse.self, timeout: step)
                            gathered.withLockedValue { $0.recordLog(node, log) }
                        } catch {
                            logger.debug("log \(node.name) after the interrupt: \(error)")
                        }
                    }
                }
            }
        }
        let aborted = salvaging.withLockedValue { s in
            s.task = work
            return s.aborted
        }
        if aborted { work.cancel() }
        await work.value
        salvaging.withLockedValue { $0.task = nil }
    }

    /// Ends the gather after an interrupt now (a second Ctrl-C): the check decides from what it has.
    public func abort() {
        let task = salvaging.withLockedValue { s in
            s.aborted = true
            return s.task
        }
        task?.cancel()
    }
}
