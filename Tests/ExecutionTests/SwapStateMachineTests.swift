import Drivers
@testable import Execution
import PoolCore
import Testing

func round(_ time: Int64, cpu: Double, throttled: Double = 0, memory: Double = 2, ooms: Int = 0, failures: Int = 0,
           healthy: Bool = true, present: Bool = true, forecastCPU: Double? = nil) -> VerificationRound {
    VerificationRound(time: time, delta: SignalDelta(seconds: 300, cpu: cpu, throttled: throttled, memory: memory, memoryFailures: failures,
                                                     oomKills: ooms, healthy: healthy, present: present), forecastCPU: forecastCPU)
}

func approved(_ change: SwapChange) throws -> SwapLifecycle {
    var lifecycle = SwapLifecycle(change: change)
    try lifecycle.assessed(RiskReport(decision: .approve, reasons: [], exceedance: [], horizonSlots: 3))
    return lifecycle
}

@Suite struct SwapLifecycleTests {
    let shrink = change(ResourceVector(cpu: 2, memory: 4), ResourceVector(cpu: 1, memory: 4))
    let thresholds = VerificationThresholds()

    @Test func anApprovedSwapRunsIsVerifiedAndCommitsAfterItsWindow() throws {
        var lifecycle = try approved(shrink)
        #expect(try lifecycle.start() == [.resize("a", from: ResourceVector(cpu: 2, memory: 4), to: ResourceVector(cpu: 1, memory: 4))])
        #expect(lifecycle.phase == .applying)
        try lifecycle.applied(baseline: Baseline([round(0, cpu: 0.5), round(300, cpu: 0.4)]))
        for k in 1...3 {
            #expect(lifecycle.phase == .verifying)
            #expect(try lifecycle.observe(round(Int64(k) * 300, cpu: 0.5), thresholds: thresholds).isEmpty)
        }
        #expect(lifecycle.phase == .committed)
        #expect(lifecycle.verification?.rounds.count == 3)
        #expect(lifecycle.verification?.baseline.cpu == 0.45)
    }

    @Test func roundsThatMissTheInstanceAreNoEvidenceAndCommitNothing() throws {
        var lifecycle = try approved(shrink)
        _ = try lifecycle.start()
        try lifecycle.applied(baseline: Baseline([round(0, cpu: 0.5)]))
        for k in 1...5 { _ = try lifecycle.observe(round(Int64(k) * 300, cpu: 0, present: false), thresholds: thresholds) }
        #expect(lifecycle.phase == .verifying, "five absent rounds")
        for k in 6...8 { _ = try lifecycle.observe(round(Int64(k) * 300, cpu: 0.5), thresholds: thresholds) }
        #expect(lifecycle.phase == .committed)
    }

    @Test func transitionsOutOfOrderAreRefusedAndChangeNothing() throws {
        var lifecycle = SwapLifecycle(change: shrink)
        #expect(throws: SwapLifecycle.InvalidTransition.self) { _ = try lifecycle.start() }
        #expect(throws: SwapLifecycle.InvalidTransition.self) { try lifecycle.approve() }
        #expect(throws: SwapLifecycle.InvalidTransition.self) { _ = try lifecycle.rollBack("why") }
        #expect(lifecycle.phase == .planned)
        try lifecycle.assessed(RiskReport(decision: .hold, reasons: ["7% chance"], exceedance: [], horizonSlots: 3))
        #expect(lifecycle.phase == .held && lifecycle.reason == "7% chance")
        try lifecycle.approve()
        #expect(lifecycle.phase == .approved && lifecycle.reason == nil)
        var rejected = SwapLifecycle(change: shrink)
        try rejected.assessed(RiskReport(decision: .reject, reasons: ["no forecast"], exceedance: [], horizonSlots: 3))
        #expect(rejected.phase.isFinal)
        #expect(throws: SwapLifecycle.InvalidTransition.self) { try rejected.approve() }
    }

    @Test func throttlingAfterACPUShrinkRollsItBackToWhereItWas() throws {
        var lifecycle = try approved(change(ResourceVector(cpu: 2, memory: 4), ResourceVector(cpu: 0.5, memory: 4), to: "n2"))
        _ = try lifecycle.start()
        try lifecycle.applied(baseline: Baseline([round(0, cpu: 1, throttled: 0.01)]))
        let undo = try lifecycle.observe(round(300, cpu: 0.5, throttled: 0.5), thresholds: thresholds)
        #expect(lifecycle.phase == .rollingBack)
        #expect(lifecycle.reason?.contains("cpu throttled by 0.5 cores") == true, "\(lifecycle.reason ?? "")")
        #expect(undo == [.resize("a", from: ResourceVector(cpu: 0.5, memory: 4), to: ResourceVector(cpu: 2, memory: 4)), .migrate("a", from: "n2", to: "n1")])
        try lifecycle.rolledBack()
        #expect(lifecycle.phase == .rolledBack && lifecycle.restored == ResourceVector(cpu: 2, memory: 4))
    }

    @Test func aFailedRollbackLeavesTheLargerAllocationForAnOperator() throws {
        var lifecycle = try approved(change(ResourceVector(cpu: 2, memory: 8), ResourceVector(cpu: 3, memory: 4)))
        _ = try lifecycle.start()
        try lifecycle.applied(baseline: Baseline([]))
        _ = try lifecycle.rollBack("operator")
        #expect(lifecycle.safeAllocation == ResourceVector(cpu: 3, memory: 8))
        try lifecycle.failedSafe("memory refused", at: ResourceVector(cpu: 3, memory: 8))
        #expect(lifecycle.phase == .failedSafe && lifecycle.reason == "operator; rollback failed: memory refused")
    }

    @Test func eachSignalOfAShrinkCountsAndAGrowNeverRegresses() {
        let baseline = Baseline([round(0, cpu: 1), round(300, cpu: 1)])
        let memoryShrink = change(ResourceVector(cpu: 2, memory: 8), ResourceVector(cpu: 2, memory: 4))
        func regression(_ c: SwapChange, _ r: VerificationRound, earlier: [VerificationRound] = []) -> String? {
            Verification.regression(c, round: r, baseline: baseline, earlier: earlier, thresholds: thresholds)
        }
        #expect(regression(memoryShrink, round(600, cpu: 1, ooms: 1))?.contains("OOM kill") == true)
        #expect(regression(memoryShrink, round(600, cpu: 1, failures: 5_000))?.contains("limit hit") == true)
        #expect(regression(memoryShrink, round(600, cpu: 1, failures: 10)) == nil)
        #expect(regression(shrink, round(600, cpu: 1, healthy: false))?.contains("unhealthy") == true)
        #expect(regression(shrink, round(600, cpu: 1, ooms: 1, healthy: false)) == nil, "an OOM kill of memory the swap left alone is not its doing")
        #expect(regression(shrink, round(600, cpu: 1, throttled: 0.06)) == nil, "within 0.1 cores (10% of 1 core)")
        #expect(regression(shrink, round(600, cpu: 1, throttled: 0.2)) != nil)
        #expect(regression(shrink, round(600, cpu: 5, throttled: 3, present: false)) == nil, "an absent round is not judged")
        // Saturated above the forecast for two rounds in a row.
        let first = round(600, cpu: 0.99, forecastCPU: 0.8), second = round(900, cpu: 0.995, forecastCPU: 0.8)
        #expect(regression(shrink, first) == nil)
        #expect(regression(shrink, second, earlier: [first])?.contains("at its new limit") == true)
        #expect(regression(shrink, round(900, cpu: 0.995, forecastCPU: 1.2), earlier: [first]) == nil, "the forecast saw it coming")
        let grow = change(ResourceVector(cpu: 1, memory: 4), ResourceVector(cpu: 2, memory: 8))
        #expect(regression(grow, round(600, cpu: 2, throttled: 3, ooms: 4, healthy: false)) == nil)
    }
}

@Suite struct PlanRunTests {
    let a1 = DriverAction.resize("a", from: ResourceVector(cpu: 4), to: ResourceVector(cpu: 2))
    let b1 = DriverAction.resize("b", from: ResourceVector(cpu: 1), to: ResourceVector(cpu: 3))
    let b2 = DriverAction.migrate("b", from: "n1", to: "n2")
    let c1 = DriverAction.resize("c", from: ResourceVector(cpu: 1), to: ResourceVector(cpu: 2))

    @Test func aPlanRunsItsStepsInOrderAndReportsEachSwapOnceAllItsStepsAreDone() {
        var run = PlanRun(id: "p", mode: .reverseOnFailure, steps: [.init(action: a1, swap: 0), .init(action: b1, swap: 1), .init(action: b2, swap: 1)])
        #expect(run.current?.action == a1 && run.position == 0)
        #expect(run.succeeded() == [.applied(0)])
        #expect(run.succeeded() == [], "b has a step left")
        #expect(run.succeeded() == [.applied(1)])
        #expect(run.state == .finished && run.current == nil)
        #expect(PlanRun(id: "empty", mode: .reverseOnFailure, steps: []).state == .finished)
    }

    @Test func aFailedStepUndoesTheStepsDoneNewestFirst() {
        var run = PlanRun(id: "p", mode: .reverseOnFailure,
                          steps: [.init(action: a1, swap: 0), .init(action: b1, swap: 1), .init(action: b2, swap: 1), .init(action: c1, swap: 2)])
        _ = run.succeeded()
        _ = run.succeeded()
        // The migration fails; c never ran.
        let events = run.failed("target unreachable", actual: nil)
        #expect(events == [.reversed(2, reason: "step 3 (migrate b from n1 to n2) failed: target unreachable")])
        #expect(run.state == .reversing)
        #expect(run.undo.map(\.action) == [b1.inverse, a1.inverse])
        #expect(run.position == 4, "undo steps are journaled after the forward ones")
        #expect(run.succeeded() == [.reversed(1, reason: run.failure!)])
        #expect(run.succeeded() == [.reversed(0, reason: run.failure!)])
        #expect(run.state == .reversed)
    }

    @Test func aStepTheDriverLeftHalfDoneIsPutBackFirst() {
        var run = PlanRun(id: "p", mode: .reverseOnFailure, steps: [.init(action: a1, swap: 0), .init(action: b1, swap: 1)])
        _ = run.succeeded()
        _ = run.failed("memory refused", actual: ResourceVector(cpu: 3))
        #expect(run.undo.map(\.action) == [.resize("b", from: ResourceVector(cpu: 3), to: ResourceVector(cpu: 1)), a1.inverse])
    }

    @Test func anUndoThatFailsLeavesItsSwapFailedSafeAndTheRestIsStillUndone() {
        var run = PlanRun(id: "p", mode: .reverseOnFailure, steps: [.init(action: a1, swap: 0), .init(action: b1, swap: 1), .init(action: c1, swap: 2)])
        _ = run.succeeded()
        _ = run.succeeded()
        _ = run.failed("refused", actual: nil)
        let events = run.failed("memory below working set", actual: nil)
        #expect(events.count == 1)
        if case .failedSafe(1, let reason) = events.first { #expect(reason.contains("undoing step")) } else { Issue.record("\(events)") }
        #expect(run.succeeded() == [.reversed(0, reason: run.failure!)])
        #expect(run.state == .reversed && run.unsafe.keys.sorted() == [1])
    }

    @Test func aRollbackCarriesOnPastAFailureAndTriesTheSafeAllocationOnce() {
        let safe = ResourceVector(cpu: 4, memory: 8)
        let back = DriverAction.resize("a", from: ResourceVector(cpu: 2, memory: 8), to: ResourceVector(cpu: 4, memory: 4))
        var run = PlanRun(id: "r", mode: .continueOnFailure, steps: [.init(action: back, swap: 0, safe: safe), .init(action: c1, swap: 1)])
        #expect(run.failed("memory refused", actual: ResourceVector(cpu: 2, memory: 8)).isEmpty, "one more try, for the safe allocation")
        #expect(run.current?.action == .resize("a", from: ResourceVector(cpu: 2, memory: 8), to: safe) && run.current?.isFailsafe == true)
        let events = run.succeeded()
        #expect(events.count == 1)
        if case .failedSafe(0, let reason) = events.first { #expect(reason.contains("memory refused")) } else { Issue.record("\(events)") }
        #expect(run.succeeded() == [.applied(1)])
        #expect(run.state == .finished)
        // A failsafe step that fails ends the attempt.
        var again = PlanRun(id: "r", mode: .continueOnFailure, steps: [.init(action: back, swap: 0, safe: safe)])
        _ = again.failed("refused", actual: ResourceVector(cpu: 2, memory: 8))
        #expect(again.failed("refused again", actual: nil).count == 1)
        #expect(again.state == .finished)
    }
}
