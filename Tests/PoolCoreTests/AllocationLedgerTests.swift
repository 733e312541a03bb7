import PoolCore
import Testing

@Suite struct AllocationLedgerTests {
    func twoNodePool() throws -> AllocationLedger {
        try AllocationLedger(
            nodes: [node("n1", 8, 32, reserve: vector(1, 2)), node("n2", 8, 32)],
            instances: [
                instance("a", on: "n1", vector(4, 16), min: vector(1, 4), max: vector(7, 30)),
                instance("b", on: "n1", vector(2, 8)),
                instance("c", on: "n2", vector(2, 8)),
            ])
    }

    @Test func keepsRunningTotalsPerNode() throws {
        let ledger = try twoNodePool()
        #expect(try ledger.allocated(on: "n1") == vector(6, 24))
        #expect(try ledger.allocated(on: "n2") == vector(2, 8))
        expectInvariants(ledger)
    }

    @Test func refusesAGrowPastCapacityMinusReserveAndNamesEverything() throws {
        var ledger = try twoNodePool()
        let before = ledger.instances
        // n1 allocatable cpu is 8 - 1 = 7; a 4 -> 6 grow makes 8.
        #expect(throws: LedgerError.overCapacity("n1", .cpu, allocated: 8, allocatable: 7, capacity: 8, reserve: 1, instance: "a")) {
            try ledger.apply(.resize("a", to: vector(6, 16)))
        }
        #expect(ledger.instances == before)
        do {
            try ledger.apply(.resize("a", to: vector(6, 16)))
        } catch {
            let message = String(describing: error)
            for part in ["instance a", "node n1", "cpu", "8 cores allocated", "7 allocatable", "reserve 1"] {
                #expect(message.contains(part), "message lacks '\(part)': \(message)")
            }
        }
    }

    @Test func refusesAllocationsOutsideTheSLA() throws {
        var ledger = try twoNodePool()
        #expect(throws: LedgerError.belowMinimum("a", .memory, amount: 2, minimum: 4)) {
            try ledger.apply(.resize("a", to: vector(4, 2)))
        }
        #expect(throws: LedgerError.aboveMaximum("a", .cpu, amount: 7.5, maximum: 7)) {
            try ledger.apply(.resize("a", to: vector(7.5, 16)))
        }
        #expect(throws: LedgerError.fractionalGPU("b", amount: 0.5)) {
            try ledger.apply(.resize("b", to: vector(2, 8, 0.5)))
        }
        #expect(throws: LedgerError.invalidAmount("b", .cpu, amount: -1, field: "allocation")) {
            try ledger.apply(.resize("b", to: vector(-1, 8)))
        }
        #expect(throws: (any Error).self) { try ledger.apply(.resize("b", to: vector(.nan, 8))) }
        #expect(try ledger.instance("a").allocation == vector(4, 16))
    }

    @Test func refusesUnknownNamesAndInvalidStates() throws {
        var ledger = try twoNodePool()
        #expect(throws: LedgerError.unknownInstance("zz")) { try ledger.apply(.resize("zz", to: vector(1, 1))) }
        #expect(throws: LedgerError.unknownNode("n9", instance: nil)) { try ledger.apply(.migrate("a", to: "n9")) }
        #expect(throws: LedgerError.unknownNode("n9", instance: "x")) {
            _ = try AllocationLedger(nodes: [node("n1", 4, 4)], instances: [instance("x", on: "n9", vector(1, 1))])
        }
        #expect(throws: LedgerError.duplicateInstance("x")) {
            _ = try AllocationLedger(nodes: [node("n1", 4, 4)], instances: [instance("x", on: "n1", vector(1, 1)), instance("x", on: "n1", vector(1, 1))])
        }
        #expect(throws: LedgerError.duplicateNode("n1")) {
            _ = try AllocationLedger(nodes: [node("n1", 4, 4), node("n1", 4, 4)], instances: [])
        }
        #expect(throws: LedgerError.invalidNodeAmount("n1", .memory, amount: -4, field: "capacity")) {
            _ = try AllocationLedger(nodes: [node("n1", 4, -4)], instances: [])
        }
        #expect(throws: LedgerError.overCapacity("n1", .cpu, allocated: 5, allocatable: 4, capacity: 4, reserve: 0, instance: "y")) {
            _ = try AllocationLedger(nodes: [node("n1", 4, 16)], instances: [instance("x", on: "n1", vector(3, 1)), instance("y", on: "n1", vector(2, 1))])
        }
    }

    @Test func migratesWithTheAllocationAndChecksTheTarget() throws {
        var ledger = try twoNodePool()
        try ledger.apply(.migrate("b", to: "n2"))
        #expect(try ledger.allocated(on: "n1") == vector(4, 16))
        #expect(try ledger.allocated(on: "n2") == vector(4, 16))
        #expect(try ledger.instance("b").node == "n2")
        // n2 now holds 4 cores of 8; a (4 cores, 16 GiB) fits, then c cannot grow past 8.
        try ledger.apply(.migrate("a", to: "n2"))
        #expect(throws: LedgerError.self) { try ledger.apply(.resize("c", to: vector(3, 8))) }
        expectInvariants(ledger)
    }

    @Test func aRefusedPlanChangesNothingAndNamesTheStep() throws {
        var ledger = try twoNodePool()
        let before = ledger.instances
        let plan = SwapPlan([.resize("b", to: vector(1, 8)), .resize("c", to: vector(9, 8))])
        do {
            try ledger.apply(plan)
            Issue.record("the plan should have been refused")
        } catch {
            guard case .inPlan(let index, _, _) = error else { Issue.record("unexpected \(error)"); return }
            #expect(index == 1)
            #expect(String(describing: error).hasPrefix("step 2 (resize c"))
        }
        #expect(ledger.instances == before)
        #expect(try ledger.allocated(on: "n1") == vector(6, 24))
    }
}
