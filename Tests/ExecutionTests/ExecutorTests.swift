import Drivers
@testable import Execution
import PoolCore
import Synchronization
import Testing

/// Two nodes of 4 cores and 16 GiB; a (3 cores) and b (1 core) on n1, c on n2.
func pool() throws -> AllocationLedger {
    let sla = SLA(minimum: ResourceVector(cpu: 0.5, memory: 1), maximum: ResourceVector(cpu: 4, memory: 8))
    return try AllocationLedger(
        nodes: [Node(id: "n1", capacity: ResourceVector(cpu: 4, memory: 16)), Node(id: "n2", capacity: ResourceVector(cpu: 4, memory: 16))],
        instances: [Instance(id: "a", node: "n1", allocation: ResourceVector(cpu: 3, memory: 4), sla: sla),
                    Instance(id: "b", node: "n1", allocation: ResourceVector(cpu: 1, memory: 4), sla: sla),
                    Instance(id: "c", node: "n2", allocation: ResourceVector(cpu: 1, memory: 4), sla: sla)])
}

/// A one-slot trace: a uses 1 core and 3 GiB, b 0.9 cores and 2 GiB, c 0.5 cores and 6 GiB.
func trace() -> UsageTrace {
    let used: [(InstanceID, ResourceVector)] = [("a", ResourceVector(cpu: 1, memory: 3)), ("b", ResourceVector(cpu: 0.9, memory: 2)),
                                                ("c", ResourceVector(cpu: 0.5, memory: 6))]
    return UsageTrace(origin: 0, interval: 300, instances: used.map { id, u in
        InstanceSeries(id: id, firstSlot: 0, used: [[u.cpu], [u.memory], [0]], allocated: [[4], [8], [0]])
    })
}

@Suite struct FittingSubsetTests {
    @Test func aGrowWhoseRoomCameFromADroppedShrinkIsLeftOut() throws {
        let ledger = try pool()
        // b grows by 2 cores (most benefit), which only fits because a shrinks by 2.
        let grow = change(ResourceVector(cpu: 1, memory: 4), ResourceVector(cpu: 3, memory: 4), id: "b")
        let shrink = change(ResourceVector(cpu: 3, memory: 4), ResourceVector(cpu: 1, memory: 4), id: "a")
        let other = SwapChange(instance: "c", tenant: "t", fromNode: "n2", toNode: "n2", before: ResourceVector(cpu: 1, memory: 4), after: ResourceVector(cpu: 2, memory: 4))
        #expect(FittingSubset.select([grow, shrink, other], benefit: [5, 1, 2], in: ledger) == [0, 1, 2], "together they fit")
        #expect(FittingSubset.select([grow, shrink, other], benefit: [5, 1, 2], in: ledger, limit: 2) == [1, 2],
                "two changes: the grow needs the shrink, so c's grow and a's shrink")
        #expect(FittingSubset.select([grow, other], benefit: [5, 2], in: ledger) == [1], "without the shrink the grow does not fit")
    }
}

@Suite struct ExecutionOrderTests {
    @Test func shrinksComeFirstAndEachStepStartsWhereTheLastLeftOff() throws {
        let ledger = try pool()
        let targets = [ExecutionTarget(instance: "b", allocation: ResourceVector(cpu: 3, memory: 4), node: "n1", swap: 0),
                       ExecutionTarget(instance: "a", allocation: ResourceVector(cpu: 1, memory: 4), node: "n1", swap: 1)]
        let steps = try ExecutionOrder.steps(targets, in: ledger)
        #expect(steps.map(\.action) == [.resize("a", from: ResourceVector(cpu: 3, memory: 4), to: ResourceVector(cpu: 1, memory: 4)),
                                        .resize("b", from: ResourceVector(cpu: 1, memory: 4), to: ResourceVector(cpu: 3, memory: 4))])
        #expect(steps.map(\.swap) == [1, 0])
        #expect(throws: LedgerError.self) {
            _ = try ExecutionOrder.steps([ExecutionTarget(instance: "b", allocation: ResourceVector(cpu: 3, memory: 4), node: "n1", swap: 0)], in: ledger)
        }
    }
}

@Suite struct RealisedBenefitTests {
    let prices = Prices(waste: [1, 0.125, 8], shortfall: [10, 1.25, 80], change: [0.05, 0.01, 0.5], oomKill: 50)

    @Test func aShrinkOfAnIdleInstanceSavesAndOneThatThrottlesCosts() throws {
        let shrink = change(ResourceVector(cpu: 4, memory: 4), ResourceVector(cpu: 1, memory: 4))
        let idle = [round(0, cpu: 0.5), round(300, cpu: 0.5)]
        let saved = try #require(RealisedBenefit.measure(shrink, rounds: idle, weight: 1, migrationCost: 0, prices: prices))
        // 3 cores of slack less at 1 per core, less 3 cores of change at 0.05.
        #expect(abs(saved.benefit - (3 - 0.15)) < 1e-12)
        #expect(abs(saved.utilisation - (0.5 + 0.5) / 2) < 1e-12)
        let busy = [round(0, cpu: 1, throttled: 1.5)]
        let cost = try #require(RealisedBenefit.measure(shrink, rounds: busy, weight: 3, migrationCost: 0, prices: prices))
        // Old: demand 2.5, 1.5 cores of slack; new: 1.5 cores throttled × 10 × 3.
        #expect(abs(cost.benefit - (1.5 - 45 - 0.15)) < 1e-12)
        #expect(RealisedBenefit.measure(shrink, rounds: [round(0, cpu: 0, present: false)], weight: 1, migrationCost: 0, prices: prices) == nil)
    }
}

/// The executor's host for these tests: a real ledger and an in-memory journal.
final class RecordingHost: ExecutionHost {
    struct State {
        var ledger: AllocationLedger
        var journal: [String] = []
        var events: [PlanRun.Event] = []
    }
    let state: Mutex<State>
    init(_ ledger: AllocationLedger) { state = Mutex(State(ledger: ledger)) }

    func willPerform(_ action: DriverAction, run: String, step: Int) async throws {
        try state.withLock { state in
            let instance = try state.ledger.instance(action.instance)
            switch action {
            case .resize(_, _, let to):
                do { try state.ledger.apply(.resize(action.instance, to: ResourceVector.maximum(instance.allocation, to))) } catch { throw ExecutionRefusal("\(error)") }
            case .migrate(_, _, let to):
                do { try state.ledger.apply(.migrate(action.instance, to: to)) } catch { throw ExecutionRefusal("\(error)") }
            }
            state.journal.append("\(run) \(step) intent \(action)")
        }
    }

    func didPerform(_ action: DriverAction, run: String, step: Int, outcome: ActionOutcome) async throws {
        state.withLock { state in
            switch (action, outcome) {
            case (.resize(let id, _, let to), .done): try? state.ledger.apply(.resize(id, to: to))
            case (.resize(let id, let from, _), .failed): try? state.ledger.apply(.resize(id, to: from))
            case (.migrate(let id, let from, _), .failed): try? state.ledger.apply(.migrate(id, to: from))
            default: break
            }
            state.journal.append("\(run) \(step) \(outcome == .done ? "done" : "failed")")
        }
    }

    func swapsChanged(_ events: [PlanRun.Event], in run: PlanRun) async throws {
        state.withLock { $0.events += events }
    }
}

@Suite struct SwapExecutorTests {
    @Test func aPlanRunsThroughTheSimulatedDriverAndIsUndoneOnTheDriverWhenAStepFails() async throws {
        let ledger = try pool()
        let driver = try SimulatedDriver(trace: trace(), pool: ledger)
        driver.advance(toSlot: 0, time: 300)
        let host = RecordingHost(ledger)
        let executor = SwapExecutor(driver: driver, host: host)
        // a gives 2 cores to b, then c's memory is cut below its 4 GiB working set (it wants 6, has 4): refused.
        let targets = [ExecutionTarget(instance: "a", allocation: ResourceVector(cpu: 1, memory: 4), node: "n1", swap: 0),
                       ExecutionTarget(instance: "b", allocation: ResourceVector(cpu: 3, memory: 4), node: "n1", swap: 1),
                       ExecutionTarget(instance: "c", allocation: ResourceVector(cpu: 1, memory: 3), node: "n2", swap: 2)]
        var steps = try ExecutionOrder.steps(targets, in: ledger)
        // c's shrink last, so that it fails after the others took effect.
        steps.sort { ($0.action.instance == "c" ? 1 : 0) < ($1.action.instance == "c" ? 1 : 0) }
        let run = try await executor.perform(PlanRun(id: "p", mode: .reverseOnFailure, steps: steps))
        #expect(run.state == .reversed)
        #expect(run.failure?.contains("below the working set") == true, "\(run.failure ?? "")")
        for id in ["a", "b", "c"] as [InstanceID] {
            #expect(try await driver.allocation(of: id) == (try ledger.instance(id)).allocation, "\(id) is back where it was on the driver")
            #expect(host.state.withLock { try? $0.ledger.instance(id).allocation } == (try ledger.instance(id)).allocation, "and in the ledger")
        }
        let journal = host.state.withLock { $0.journal }
        #expect(journal.filter { $0.contains("intent") }.count == 5, "3 forward steps and 2 undone: \(journal)")
        #expect(journal.filter { $0.hasSuffix("done") || $0.hasSuffix("failed") }.count == 5, "each intent has its outcome")
        let events = host.state.withLock { $0.events }
        #expect(events.filter { if case .applied = $0 { true } else { false } }.count == 2)
        #expect(events.filter { if case .reversed = $0 { true } else { false } }.count == 3)
    }

    @Test func runsHandedInTogetherRunOneAfterTheOther() async throws {
        let ledger = try pool()
        let driver = try SimulatedDriver(trace: trace(), pool: ledger)
        let host = RecordingHost(ledger)
        let executor = SwapExecutor(driver: driver, host: host)
        func there(_ id: InstanceID, _ a: Double, _ b: Double) -> [PlanRun.Step] {
            [.init(action: .resize(id, from: ResourceVector(cpu: a, memory: 4), to: ResourceVector(cpu: b, memory: 4)), swap: 0),
             .init(action: .resize(id, from: ResourceVector(cpu: b, memory: 4), to: ResourceVector(cpu: a, memory: 4)), swap: 0)]
        }
        async let first = executor.perform(PlanRun(id: "A", mode: .reverseOnFailure, steps: there("a", 3, 2)))
        async let second = executor.perform(PlanRun(id: "C", mode: .reverseOnFailure, steps: there("c", 1, 2)))
        let (a, c) = try await (first, second)
        #expect(a.state == .finished && c.state == .finished)
        let journal = host.state.withLock { $0.journal }
        #expect(journal.count == 8)
        let runs = journal.map { $0.prefix(1) }
        #expect(runs == Array(repeating: runs[0], count: 4) + Array(repeating: runs[4], count: 4) && runs[0] != runs[4],
                "one run's actions all come before the other's: \(journal)")
    }
}
