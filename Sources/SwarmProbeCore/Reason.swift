/// Why a check got its verdict: a stable code a script can key on (`reason` in the results), one per
/// distinct piece of evidence that decides. The sentence a person reads (`detail`) is worded by the
/// report module from the code and the evidence; docs/results.md lists every code and its meaning.
public enum Reason: String, Codable, Sendable, CaseIterable {
    // The sender's side settles it.
    case answered
    case handshakeOnly = "handshake-only"
    case answerLate = "answer-late"
    case answerDroppedAtSender = "answer-dropped-at-sender"
    case badAnswer = "bad-answer"
    case sendFailed = "send-failed"
    /// The probe never left the sender: its own firewall's output rules kept it in (`SenderEvidence.egressBlocked`).
    case droppedBySenderFirewall = "dropped-by-sender-firewall"

    // An agent could not vouch for the path.
    case senderAgentDown = "sender-agent-down"
    case senderReportLost = "sender-report-lost"
    case targetAgentDown = "target-agent-down"
    case targetReportLost = "target-report-lost"
    case agentIncompatible = "agent-incompatible"
    case interrupted

    // A refusal or an ICMP error came back.
    case rejectedOnTheWay = "rejected-on-the-way"
    case rejectedByTargetFirewall = "rejected-by-target-firewall"
    case nothingListening = "nothing-listening"
    case unreachableFromTarget = "unreachable-from-target"
    case unreachableOnTheWay = "unreachable-on-the-way"
    case unreachableUnknownLayer = "unreachable-unknown-layer"

    // Silence: where the probe or its answer was last seen.
    case silentBeforeTarget = "silent-before-target"
    case droppedByTargetFirewall = "dropped-by-target-firewall"
    case notPastTargetInterface = "not-past-target-interface"
    case answerLostOnReturn = "answer-lost-on-return"
    case answerLostWrongSource = "answer-lost-wrong-source"
    case answerCapturedLeaving = "answer-captured-leaving"
    case receivedNotAnswered = "received-not-answered"
    case observedArrival = "observed-arrival"
    case observedNoEvidence = "observed-no-evidence"
    case passedFirewallNotLogged = "passed-firewall-not-logged"
    case noListenerToConfirm = "no-listener-to-confirm"
    case silentUnknownLayer = "silent-unknown-layer"

    // A live service's published port, forwarded into the routing mesh.
    case arrivedAtNode = "arrived-at-node"
    case arrivedNotAnswered = "arrived-not-answered"

    // `aws audit`: what the configuration says, without packets.
    case awsAllowed = "aws-allowed"
    case awsDenied = "aws-denied"
    case awsReturnDenied = "aws-return-denied"
    case awsUnknown = "aws-unknown"
}
