import Drivers
import Execution
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import PoolCore
@testable import Service
import Storage
import Testing

/// Swaps applied through the simulated driver, watched, committed, rolled back, approved,
/// refused and recovered, with the driver's own figures.
@Suite("Execution through the simulated driver")
struct ExecutionFlowTests {
    @Test func theLoopLearnsMovesCPUFromIdleToBusyAndCommitsWhatTheDriverMeasured() async throws {
        let harness = try await SimulatedHarness { $0.autoSwap = true; $0.warmupRounds = 6 }
        try await harness.rounds(20, from: 0)
        let swaps = try await harness.swaps()
        let busy = try #require(swaps.last { $0.instance == "busy" }, "the loop grew busy: \(swaps.map { "\($0.instance) \($0.outcome)" })")
        let idle = try #require(swaps.last { $0.instance == "idle" }, "and shrank idle")
        #expect(busy.after[0] > busy.before[0] && idle.after[0] < idle.before[0])
        #expect(busy.outcome == .committed && idle.outcome == .committed, "\(busy.outcome) \(busy.reason ?? ""), \(idle.outcome) \(idle.reason ?? "")")
        // Realised benefit from the driver: busy's throttling fell, idle's slack went.
        #expect((busy.realisedBenefit ?? 0) > 0, "busy: \(busy.realisedBenefit ?? .nan)")
        #expect((idle.realisedBenefit ?? 0) > 0, "idle: \(idle.realisedBenefit ?? .nan)")
        let verification = try #require(SwapRecords.value(Verification.self, busy.verification))
        #expect(verification.baseline.throttled > 0.9, "busy was throttled by about a core before: \(verification.baseline.throttled)")
        #expect(verification.rounds.allSatisfy { $0.throttled < verification.baseline.throttled }, "and less after")
        let held = try await harness.allocation("busy")
        #expect(held.driver.cpu == held.stored?[0], "the driver has what the store keeps")
        #expect(try await harness.service.runtime.lockedBecause("busy", restricting: true) != nil || busy.endedAt != nil)
    }

    @Test func aForcedShrinkThatThrottlesIsRolledBackWithinItsWindow() async throws {
        let harness = try await SimulatedHarness()
        try await harness.test { client in
            try await harness.rounds(8, from: 0)
            let unforced = try await harness.post(client, "/swap_request", #"{"allocations":{"busy":{"cpu":0.5,"memory":4,"gpu":0}}}"#)
            #expect(unforced.0 == .ok)
            let planned = try #require((unforced.1["swaps"] as? [[String: Any]])?.first)
            let assessment = try #require((planned["risk"] as? [String: Any])?["assessment"] as? [String: Any])
            #expect(assessment["decision"] as? String == "reject", "busy wants 3 cores: a shrink to 0.5 is rejected")
            let (status, answer) = try await harness.post(client, "/swap_request", #"{"allocations":{"busy":{"cpu":0.5,"memory":4,"gpu":0}},"force":true,"dryRun":false}"#)
            #expect(status == .accepted)
            let plan = try #require(answer["id"] as? String)
            try await harness.rounds(1, from: 8)
            #expect(try await harness.allocation("busy").driver.cpu == 0.5, "forced, it ran")
            try await harness.rounds(1, from: 9)
            let swap = try #require(try await harness.swaps("busy").first)
            #expect(swap.outcome == .rolledBack, "\(swap.outcome)")
            #expect(swap.reason?.contains("regression: cpu throttled by 2.5 cores") == true, "\(swap.reason ?? "")")
            #expect(swap.restored == [2, 4, 0] && swap.endedAt != nil)
            let back = try await harness.allocation("busy")
            #expect(back.driver == ResourceVector(cpu: 2, memory: 4) && back.stored == [2, 4, 0], "back where it was, on the driver and in the store")
            #expect((swap.realisedBenefit ?? 0) < 0, "the round it ran cost: \(swap.realisedBenefit ?? .nan)")
            let view = try await harness.get(client, "/swaps/\(plan)")
            let shown = try #require((view["swaps"] as? [[String: Any]])?.first)
            #expect(shown["state"] as? String == "rolledBack")
            #expect((shown["verification"] as? [String: Any])?["baseline"] != nil)
            let history = try await harness.get(client, "/swap_history?outcome=rolledBack")
            #expect((history["swaps"] as? [[String: Any]])?.first?["reason"] as? String == swap.reason)
        }
    }

    @Test func aHeldSwapRunsWhenApprovedAndARollbackOnRequestRestoresIt() async throws {
        let harness = try await SimulatedHarness { $0.risk.approveWithin = 0; $0.risk.holdBelow = 1 }
        try await harness.test { client in
            try await harness.rounds(8, from: 0)
            let (status, answer) = try await harness.post(client, "/swap_request", #"{"allocations":{"idle":{"cpu":1,"memory":4,"gpu":0}},"dryRun":false}"#)
            #expect(status == .accepted)
            let plan = try #require(answer["id"] as? String)
            try await harness.rounds(1, from: 8)
            #expect(try await harness.swaps("idle").first?.outcome == .held)
            #expect(try await harness.allocation("idle").driver.cpu == 4, "held: nothing ran")
            #expect(try await harness.get(client, "/swaps/\(plan)")["status"] as? String == "held")
            let (approved, after) = try await harness.post(client, "/swaps/\(plan)/approve", "")
            #expect(approved == .ok, "\(after)")
            #expect(try await harness.allocation("idle").driver.cpu == 1)
            #expect(try await harness.swaps("idle").first?.outcome == .verifying)
            let again = try await harness.post(client, "/swaps/\(plan)/approve", "")
            #expect(again.0 == .conflict, "nothing is left to approve")
            try await harness.rounds(3, from: 9)
            #expect(try await harness.swaps("idle").first?.outcome == .committed)
            let (rolled, rollback) = try await harness.post(client, "/swaps/\(plan)/rollback", #"{"reason":"the customer called"}"#)
            #expect(rolled == .ok, "\(rollback)")
            #expect(rollback["kind"] as? String == "rollback" && rollback["rollsBack"] as? String == plan)
            let swap = try #require(try await harness.swaps("idle").first)
            #expect(swap.outcome == .rolledBack && swap.reason == "operator: the customer called")
            #expect(try await harness.allocation("idle").driver.cpu == 4, "the earlier allocation is back on the driver")
            let reader = try await harness.post(client, "/swaps/\(plan)/rollback", "", as: "reader")
            #expect(reader.0 == .forbidden)
            #expect(try await harness.post(client, "/swaps/\(plan)/rollback", "").0 == .conflict, "nothing left to roll back")
        }
    }

    /// Queues a forced plan (idle 4 → 1 cores, busy 2 → 3.5), runs round 8, and checks that both
    /// instances are where they were, on the driver and in the store. Returns the plan's id.
    func runForcedIdleToBusy(_ harness: SimulatedHarness, _ client: any TestClientProtocol) async throws -> String {
        let (status, answer) = try await harness.post(
            client, "/swap_request", #"{"allocations":{"idle":{"cpu":1,"memory":4,"gpu":0},"busy":{"cpu":3.5,"memory":4,"gpu":0}},"force":true,"dryRun":false}"#)
        #expect(status == .accepted)
        let plan = try #require(answer["id"] as? String)
        try await harness.rounds(1, from: 8)
        for (id, cpu) in [("idle", 4.0), ("busy", 2.0)] {
            let held = try await harness.allocation(id)
            #expect(held.driver.cpu == cpu && held.stored?[0] == cpu, "\(id) is where it was: \(held)")
        }
        return plan
    }

    @Test func aStepTheDriverRefusesReversesThePlanOnTheDriverAndInTheLedger() async throws {
        let harness = try await SimulatedHarness()
        try await harness.test { client in
            try await harness.rounds(8, from: 0)
            harness.driver.refuseChanges(of: "busy", "host n1 does not answer")
            let plan = try await runForcedIdleToBusy(harness, client)
            let swaps = try await harness.swaps()
            #expect(swaps.count == 2 && swaps.allSatisfy { $0.outcome == .rolledBack }, "\(swaps.map { "\($0.instance) \($0.outcome)" })")
            #expect(swaps.allSatisfy { $0.reason?.contains("host n1 does not answer") == true })
            let record = try #require(try await harness.store.plan(id: plan))
            #expect(record.status == .failed)
            let journal = try await harness.store.journal(plan: plan)
            let intents = journal.filter { $0.phase == "intent" }
            #expect(intents.count == 3, "idle's shrink, busy's grow, idle's undo: \(journal.map { "\($0.step) \($0.phase)" })")
            for intent in intents {
                #expect(journal.contains { $0.step == intent.step && ["done", "failed"].contains($0.phase) }, "step \(intent.step) has its outcome")
            }
        }
    }

    @Test func aStoreErrorHalfWayThroughAPlanUndoesWhatRanAtOnce() async throws {
        // Fault injection at the store (a write that fails, as a lost database connection would):
        // the first step's "done" fails after the driver applied it.
        let harness = try await SimulatedHarness(failing: "done:1:fail")
        try await harness.test { client in
            try await harness.rounds(8, from: 0)
            let plan = try await runForcedIdleToBusy(harness, client)
            let record = try #require(try await harness.store.plan(id: plan))
            #expect(record.status == .failed)
            let journal = try await harness.store.journal(plan: plan)
            #expect(journal.contains { $0.phase == "failed" && $0.detail.contains("injected failure") }, "\(journal.map { "\($0.step) \($0.phase) \($0.detail)" })")
            let intents = journal.filter { $0.phase == "intent" }
            #expect(!intents.isEmpty)
            for intent in intents {
                #expect(journal.contains { $0.step == intent.step && ["done", "failed", "recovered"].contains($0.phase) }, "step \(intent.step) has its outcome")
            }
            let swaps = try await harness.swaps()
            #expect(!swaps.contains { $0.outcome == .verifying || $0.outcome == .committed }, "\(swaps.map { "\($0.instance) \($0.outcome)" })")
        }
    }

    @Test func queuedSwapsAreCheckedAgainstThePoolWhenTheyRun() async throws {
        let harness = try await SimulatedHarness { $0.cooldownRounds = 6 }
        try await harness.test { client in
            try await harness.rounds(8, from: 0)
            let first = try await harness.post(client, "/swap_request", #"{"allocations":{"idle":{"cpu":2,"memory":4,"gpu":0}},"dryRun":false}"#)
            #expect(first.0 == .accepted)
            // The instance changes before the plan runs: its `before` is stale.
            let update = #"{"id":"idle","tenant":"acme","node":"n1","allocation":{"cpu":3,"memory":4,"gpu":0},"sla":{"minimum":{"cpu":0.1,"memory":0.25,"gpu":0},"maximum":{"cpu":6,"memory":16,"gpu":0},"weight":3}}"#
            #expect(try await harness.post(client, "/instances", update, as: "admin").0 == .created)
            try await harness.rounds(1, from: 8)
            let stale = try #require(try await harness.swaps("idle").first)
            #expect(stale.outcome == .rejected && stale.reason?.contains("stale") == true, "\(stale.reason ?? "")")
            // A swap that ran puts its instance in cooldown, across a restart too.
            let second = try await harness.post(client, "/swap_request", #"{"allocations":{"other":{"cpu":1.5,"memory":4,"gpu":0}},"dryRun":false}"#)
            #expect(second.0 == .accepted)
            try await harness.rounds(1, from: 9)
            #expect(try await harness.swaps("other").first?.outcome == .verifying)
            // A grow locks nothing (it cannot regress), but the cooldown forbids a shrink.
            let shrink = try await harness.post(client, "/swap_request", #"{"allocations":{"other":{"cpu":1.2,"memory":4,"gpu":0}}}"#)
            #expect(shrink.0 == .conflict && ((shrink.1["error"] as? [String: Any])?["message"] as? String)?.contains("cooling down") == true)
        }
        let restarted = try await SimulatedHarness(path: harness.path) { $0.cooldownRounds = 6 }
        #expect(await restarted.service.runtime.coolingDown("other")?.contains("cooling down") == true, "the cooldown is restored from the store")
        #expect(await restarted.service.runtime.monitor.watched.count == 1, "the swap being verified is watched again")
    }

    @Test func theLoopPlansOnlyAtItsPlanningInterval() async throws {
        let harness = try await SimulatedHarness { $0.autoSwap = true; $0.warmupRounds = 6; $0.planEveryRounds = 5; $0.cooldownRounds = 0 }
        try await harness.rounds(30, from: 0)
        let swaps = try await harness.swaps()
        #expect(swaps.count >= 2, "the loop swapped: \(swaps.map { "\($0.instance) \($0.outcome)" })")
        // Plans run at the slots of the pool clock that are multiples of 5 (a swap's time is the
        // end of the slot its round observed).
        let slots = Set(swaps.map { $0.time / 300 - 1 })
        #expect(slots.allSatisfy { $0 % 5 == 0 }, "swaps at slots \(slots.sorted())")
        // Each plan covers the 5 slots until the next one: its risk was assessed over them.
        let horizons = Set(swaps.compactMap { SwapRecords.value(RiskReport.self, $0.risk)?.horizonSlots })
        #expect(horizons == [5], "\(horizons)")
    }

    @Test func aShrinkBeingVerifiedLocksItsInstance() async throws {
        let harness = try await SimulatedHarness()
        try await harness.test { client in
            try await harness.rounds(8, from: 0)
            let shrunk = try await harness.post(client, "/swap_request", #"{"allocations":{"idle":{"cpu":2,"memory":4,"gpu":0}},"dryRun":false}"#)
            #expect(shrunk.0 == .accepted)
            try await harness.rounds(1, from: 8)
            #expect(try await harness.swaps("idle").first?.outcome == .verifying)
            let grow = try await harness.post(client, "/swap_request", #"{"allocations":{"idle":{"cpu":3,"memory":4,"gpu":0}}}"#)
            let message = ((grow.1["error"] as? [String: Any])?["message"] as? String) ?? ""
            #expect(grow.0 == .conflict && message.contains("being verified"), "\(message)")
        }
    }

    @Test func theLoopNeverShrinksAnInstanceInItsCooldown() async throws {
        let cooldown = 4
        let harness = try await SimulatedHarness { $0.autoSwap = true; $0.warmupRounds = 6; $0.cooldownRounds = cooldown }
        try await harness.rounds(60, from: 0)
        // Oldest first, per instance: a swap that shrinks comes more than `cooldown` rounds after
        // the one before it, and after that one committed when it took something away.
        let swaps = try await harness.swaps().filter { $0.outcome != .rejected && $0.outcome != .held }.reversed()
        var compared = 0
        for (id, mine) in Dictionary(grouping: swaps, by: \.instance) {
            for (before, after) in zip(mine, mine.dropFirst()) where zip(after.after, after.before).contains(where: { $0 < $1 }) {
                #expect((after.time - before.time) / 300 > cooldown, "\(id): a shrink \((after.time - before.time) / 300) rounds after its last swap")
                if zip(before.after, before.before).contains(where: { $0 < $1 }) {
                    #expect(after.time >= before.endedAt ?? .max, "\(id): a shrink while the last one was verified")
                }
                compared += 1
            }
        }
        #expect(compared >= 2, "the loop shrank after earlier swaps: \(swaps.map { "\($0.instance) \($0.before) -> \($0.after)" })")
    }

    @Test func aCooldownStopsShrinksNotGrows() async throws {
        let harness = try await SimulatedHarness { $0.cooldownRounds = 6 }
        try await harness.test { client in
            try await harness.rounds(8, from: 0)
            let grown = try await harness.post(client, "/swap_request", #"{"allocations":{"other":{"cpu":1.5,"memory":4,"gpu":0}},"dryRun":false}"#)
            #expect(grown.0 == .accepted)
            try await harness.rounds(1, from: 8)
            #expect(try await harness.swaps("other").first?.outcome == .verifying)
            // A grow cannot starve its instance: it locks nothing, and a second grow in its window
            // commits it at once, so that one instance has one swap being verified.
            let again = try await harness.post(client, "/swap_request", #"{"allocations":{"other":{"cpu":1.6,"memory":4,"gpu":0}},"dryRun":false}"#)
            #expect(again.0 == .accepted, "\(again.1)")
            try await harness.rounds(1, from: 9)
            let both = try await harness.swaps("other")
            #expect(both.count == 2 && both[0].after[0] == 1.6 && both[0].outcome == .verifying, "\(both.map { "\($0.after) \($0.outcome)" })")
            #expect(both.count == 2 && both[1].outcome == .committed && both[1].reason?.contains("before its window ended") == true)
            try await harness.rounds(3, from: 10)
            #expect(try await harness.swaps("other").first?.outcome == .committed)
            let shrink = try await harness.post(client, "/swap_request", #"{"allocations":{"other":{"cpu":1.2,"memory":4,"gpu":0}}}"#)
            let message = ((shrink.1["error"] as? [String: Any])?["message"] as? String) ?? ""
            #expect(shrink.0 == .conflict && message.contains("cannot shrink now") && message.contains("cooling down"), "\(message)")
            let grow = try await harness.post(client, "/swap_request", #"{"allocations":{"other":{"cpu":1.8,"memory":4,"gpu":0}}}"#)
            #expect(grow.0 == .ok, "\(grow.1)")
            // The loop's own problem lets it grow: its floor is what it holds.
            let runtime = harness.service.runtime
            #expect(await runtime.coolingDown("other") != nil)
            #expect(await runtime.lockedBecause("other", restricting: false) == nil)
            #expect(await runtime.lockedBecause("other", restricting: true)?.contains("cooling down") == true)
        }
    }

    @Test func aRestartKeepsTheMemoryFloorFromTheStoredSamples() async throws {
        let harness = try await SimulatedHarness()
        try await harness.rounds(8, from: 0)
        let before = try #require(await harness.service.runtime.monitor.workingSet("busy"))
        #expect(before > 1.9, "busy uses 2 GiB: \(before)")
        // Started after those rounds: no round has run yet, the floor comes from the store.
        let restarted = try await SimulatedHarness(path: harness.path, now: SimulatedHarness.origin + 8 * 300)
        #expect(await restarted.service.runtime.monitor.workingSet("busy") == before)
    }

    @Test func aPlanInterruptedHalfWayIsUndoneAtTheNextStart() async throws {
        let harness = try await SimulatedHarness()
        try await harness.rounds(8, from: 0)
        // As a kill would leave it: the plan executing, idle's shrink done on the driver and
        // journaled as intended only; the store still holds the old allocation.
        let change = SwapView(instance: "idle", tenant: "acme", fromNode: "n1", toNode: "n1", before: Amounts([4, 4, 0]), after: Amounts([1, 4, 0]),
                              changes: [], benefit: 1, risk: RiskView(headroom95: Amounts([0, 0, 0]), coveredLevel: 0, migrates: false))
        let view = PlanView(id: "plan-crash", status: "executing", statusURL: "/swaps/plan-crash", created: SimulatedHarness.origin, solver: "test", gap: nil,
                            objectiveBefore: 0, objectiveAfter: 0, swaps: [change], journal: nil, kind: "plan")
        try await harness.store.save(plan: PlanRecord(id: "plan-crash", created: 0, status: .executing, tenant: nil, request: "{}",
                                                      answer: String(decoding: try JSONEncoder().encode(view), as: UTF8.self)))
        let action = DriverActionJSON.resize("idle", from: [4, 4, 0], to: [1, 4, 0])
        try await harness.store.append(journal: JournalEntry(plan: "plan-crash", step: 0, phase: "intent", detail: "resize idle", time: 0, action: action))
        try await harness.driver.apply(ResourceVector(cpu: 1, memory: 4), to: "idle")

        let restarted = try await SimulatedHarness(path: harness.path)
        let idle = try await restarted.allocation("idle")
        #expect(idle.driver == ResourceVector(cpu: 4, memory: 4) && idle.stored == [4, 4, 0], "undone on the driver: \(idle)")
        #expect(try await restarted.store.plan(id: "plan-crash")?.status == .failed)
        let journal = try await restarted.store.journal(plan: "plan-crash")
        #expect(journal.contains { $0.step == 0 && $0.phase == "recovered" && $0.detail.contains("cpu 1") }, "\(journal.map(\.detail))")
        let swap = try #require(try await restarted.swaps("idle").first)
        #expect(swap.outcome == .rolledBack && swap.reason?.contains("undone at restart") == true)
    }
}

/// A driver action's journal JSON, as the executor writes it.
enum DriverActionJSON {
    static func resize(_ id: String, from: [Double], to: [Double]) -> String {
        let action = Execution.DriverAction.resize(InstanceID(id), from: ResourceVector(cpu: from[0], memory: from[1], gpu: from[2]),
                                                   to: ResourceVector(cpu: to[0], memory: to[1], gpu: to[2]))
        return String(decoding: try! JSONEncoder().encode(action), as: UTF8.self)
    }
}
