import PoolCore

/// One swap as a state machine value:
///
///     planned ─▶ approved ─▶ applying ─▶ verifying ─▶ committed
///        │  └──▶ held ──┘        │            │            │
///        └──▶ rejected           └────────────┴─▶ rollingBack ─▶ rolledBack
///                                                      └─▶ failedSafe
///
/// Each transition checks that it is allowed where the swap is, and those that need the
/// driver return the actions to perform; the executor performs them and reports back.
/// A verifying swap that regresses starts rolling back; a committed one rolls back only when
/// an operator asks. A rollback whose action fails leaves the instance at the larger of its
/// old and new allocation (`safeAllocation`), flagged for an operator.
public struct SwapLifecycle: Sendable, Equatable, Codable {
    public enum Phase: String, Sendable, Codable, CaseIterable {
        case planned, approved, held, rejected, applying, verifying, committed, rollingBack, rolledBack, failedSafe

        /// The swap is over: nothing more happens to it.
        public var isFinal: Bool { [.rejected, .committed, .rolledBack, .failedSafe].contains(self) }
    }

    public struct InvalidTransition: Error, CustomStringConvertible {
        public var instance: InstanceID
        public var from: Phase
        public var event: String
        public var description: String { "swap of \(instance): cannot \(event) while \(from)" }
    }

    public private(set) var change: SwapChange
    public private(set) var phase: Phase
    public private(set) var risk: RiskReport?
    /// Why it was held, rejected, rolled back or failed safe.
    public private(set) var reason: String?
    public private(set) var verification: Verification?
    /// Where a rollback or a failed-safe left the instance.
    public private(set) var restored: ResourceVector?

    public init(change: SwapChange, phase: Phase = .planned, risk: RiskReport? = nil, reason: String? = nil,
                verification: Verification? = nil, restored: ResourceVector? = nil) {
        self.change = change
        self.phase = phase
        self.risk = risk
        self.reason = reason
        self.verification = verification
        self.restored = restored
    }

    private mutating func move(_ event: String, from allowed: Set<Phase>, to next: Phase) throws(InvalidTransition) {
        guard allowed.contains(phase) else { throw InvalidTransition(instance: change.instance, from: phase, event: event) }
        phase = next
    }

    /// planned → approved, held or rejected, as `report` decides; a swap the gates trimmed
    /// runs what they left (`approvedAfter`).
    public mutating func assessed(_ report: RiskReport) throws(InvalidTransition) {
        let next: Phase = switch report.decision {
        case .approve: .approved
        case .hold: .held
        case .reject: .rejected
        }
        try move("be assessed", from: [.planned], to: next)
        risk = report
        if let after = report.approvedAfter { change.after = after }
        reason = report.reasons.isEmpty ? nil : report.reasons.joined(separator: "; ")
    }

    /// held → approved: an operator accepts the risk.
    public mutating func approve() throws(InvalidTransition) {
        try move("be approved", from: [.held], to: .approved)
        reason = nil
    }

    /// approved, held or planned → rejected: it no longer fits the pool (stale, cooling down).
    public mutating func refuse(_ why: String) throws(InvalidTransition) {
        try move("be refused", from: [.planned, .approved, .held], to: .rejected)
        reason = why
    }

    /// approved → applying, with the actions that make the change (resize, then migration).
    public mutating func start() throws(InvalidTransition) -> [DriverAction] {
        try move("start", from: [.approved], to: .applying)
        return change.actions
    }

    /// applying → verifying: every action took effect; watched against `baseline`.
    public mutating func applied(baseline: Baseline) throws(InvalidTransition) {
        try move("be applied", from: [.applying], to: .verifying)
        verification = Verification(baseline: baseline)
    }

    /// applying or verifying → rolledBack: its plan failed and was reversed, this swap with it.
    public mutating func reversed(_ why: String) throws(InvalidTransition) {
        try move("be reversed", from: [.applying, .verifying], to: .rolledBack)
        reason = why
        restored = change.before
    }

    /// verifying → committed before its window ends, because a later swap of the instance took
    /// effect. Only a pure grow ends this way: no round can show it as a regression.
    public mutating func superseded() throws(InvalidTransition) {
        guard change.isPureGrow else { throw InvalidTransition(instance: change.instance, from: phase, event: "be superseded (it took something away)") }
        try move("be superseded", from: [.verifying], to: .committed)
        reason = "committed before its window ended: a grow cannot regress, and a later swap of the instance took effect"
    }

    /// One round of the window. Returns the actions that undo the swap when the round shows
    /// a regression (now rollingBack), nothing otherwise; commits after `thresholds.rounds`
    /// rounds in which the instance was present.
    public mutating func observe(_ round: VerificationRound, thresholds: VerificationThresholds) throws(InvalidTransition) -> [DriverAction] {
        guard phase == .verifying, var verification else { throw InvalidTransition(instance: change.instance, from: phase, event: "be verified") }
        let regression = Verification.regression(change, round: round, baseline: verification.baseline, earlier: verification.rounds, thresholds: thresholds)
        verification.rounds.append(round)
        self.verification = verification
        if let regression {
            return try rollBack("regression: " + regression)
        }
        // Only rounds that saw the instance are evidence: an absent one commits nothing.
        if verification.rounds.filter(\.present).count >= thresholds.rounds { phase = .committed }
        return []
    }

    /// verifying or committed → rollingBack, with the actions that put back the old allocation
    /// and node.
    public mutating func rollBack(_ why: String) throws(InvalidTransition) -> [DriverAction] {
        try move("roll back", from: [.verifying, .committed], to: .rollingBack)
        reason = why
        return SwapChange(instance: change.instance, tenant: change.tenant, fromNode: change.toNode, toNode: change.fromNode,
                          before: change.after, after: change.before).actions
    }

    /// rollingBack → rolledBack: the old allocation is back.
    public mutating func rolledBack() throws(InvalidTransition) {
        try move("finish rolling back", from: [.rollingBack], to: .rolledBack)
        restored = change.before
    }

    /// The larger of the old and new allocation, per resource: where a failed rollback leaves it.
    public var safeAllocation: ResourceVector { ResourceVector.maximum(change.before, change.after) }

    /// rollingBack → failedSafe: an action of the rollback failed. The instance is left at
    /// `allocation` (the larger of old and new where that fits), for an operator.
    public mutating func failedSafe(_ why: String, at allocation: ResourceVector) throws(InvalidTransition) {
        try move("fail safe", from: [.rollingBack, .applying, .verifying], to: .failedSafe)
        reason = (reason.map { $0 + "; " } ?? "") + "rollback failed: " + why
        restored = allocation
    }

    /// Records what the window measured (`RealisedBenefit`).
    public mutating func settle(benefit: Double, utilisation: Double) {
        verification?.realisedBenefit = benefit
        verification?.utilisationAfter = utilisation
    }
}
