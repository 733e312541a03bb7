extension AllocationLedger {
    /// The most migrations whose order is searched exhaustively when the greedy order gets stuck;
    /// beyond it a stuck plan is reported as "no order found" rather than proven impossible.
    public static let exhaustiveOrderingLimit = 20

    /// Rewrites `plan` into an order in which every intermediate state is valid and which ends
    /// in the same state as applying `plan` in its own order.
    ///
    /// A plan that is valid as written is returned unchanged. Otherwise each instance's change
    /// is split into a shrink (to the smallest allocation the plan gives it, per resource), an
    /// optional migration straight to its final node, and a grow to its final allocation.
    /// Shrinks run first (they only free capacity) and grows last (they only take it, up to a
    /// final state that fits), so a plan of resizes always has an order when its final state is
    /// valid. Migrations in between are ordered greedily, each once its target has room; if that
    /// gets stuck, a memoised search over all migrations either finds an order or proves that
    /// no order of direct moves exists.
    public func ordered(_ plan: SwapPlan) throws(LedgerError) -> SwapPlan {
        var asWritten = self
        if (try? asWritten.apply(plan)) != nil { return plan }
        return try reordered(plan)
    }

    /// Applies `plan` in an order that keeps every intermediate state valid (as `ordered`
    /// finds it) and returns that order; refused, it changes nothing.
    @discardableResult
    public mutating func applyInValidOrder(_ plan: SwapPlan) throws(LedgerError) -> SwapPlan {
        var asWritten = self
        if (try? asWritten.apply(plan)) != nil {
            self = asWritten
            return plan
        }
        let order = try reordered(plan)
        try apply(order)
        return order
    }

    /// `ordered` for a plan that is not valid as written.
    private func reordered(_ plan: SwapPlan) throws(LedgerError) -> SwapPlan {
        // The final state, with every step checked for references and amounts but not capacity.
        var finalAllocation = instances.map(\.allocation)
        var lowestAllocation = finalAllocation
        var finalNode = nodeIndexOfInstance
        var touched: [Int] = []
        var seen = Set<Int>()
        for (stepIndex, step) in plan.steps.enumerated() {
            do {
                let instanceIndex = try index(of: step.instance)
                if seen.insert(instanceIndex).inserted { touched.append(instanceIndex) }
                switch step {
                case .resize(_, let allocation):
                    try Self.checkBounds(allocation, sla: instances[instanceIndex].sla, of: step.instance)
                    finalAllocation[instanceIndex] = allocation
                    lowestAllocation[instanceIndex] = ResourceVector.minimum(lowestAllocation[instanceIndex], allocation)
                case .migrate(_, let node):
                    finalNode[instanceIndex] = try index(of: node)
                }
            } catch {
                throw .inPlan(stepIndex: stepIndex, step: step, reason: error)
            }
        }
        var finalTotals = [ResourceVector](repeating: .zero, count: nodes.count)
        for instanceIndex in instances.indices {
            finalTotals[finalNode[instanceIndex]] += finalAllocation[instanceIndex]
        }
        for (nodeIndex, total) in finalTotals.enumerated() {
            for resource in Resource.allCases {
                let limit = nodes[nodeIndex].allocatable[resource]
                if total[resource] > limit + Self.tolerance(limit) {
                    throw .noValidOrder(
                        "its final state puts node \(nodes[nodeIndex].id) over capacity: \(resource) "
                            + "\(formatAmount(total[resource])) \(resource.unit) allocated, \(formatAmount(limit)) allocatable")
                }
            }
        }

        do {
            return try collapsedOrder(touched, lowest: lowestAllocation, final: finalAllocation, nodes: finalNode)
        } catch {
            // A move through a third node the plan itself makes is lost when each instance goes
            // straight to its end; a short plan may still run in some order of its own steps.
            if let own = ownStepOrder(plan, final: finalAllocation, nodes: finalNode) { return own }
            throw error
        }
    }

    /// Plans of at most this many steps are tried in every order of their own steps when the
    /// direct order fails (5,040 orders at 7).
    static let ownStepOrderingLimit = 7

    /// An order of `plan`'s own steps that keeps every state valid and ends at `final` on
    /// `nodes`, if one exists and the plan is short enough to try every order.
    private func ownStepOrder(_ plan: SwapPlan, final finalAllocation: [ResourceVector], nodes finalNode: [Int]) -> SwapPlan? {
        let steps = plan.steps
        // Only a plan that moves one instance more than once has a path the direct order loses.
        var moved = Set<InstanceID>(), movedTwice = false
        for case .migrate(let id, _) in steps where !moved.insert(id).inserted { movedTwice = true }
        guard movedTwice, steps.count <= Self.ownStepOrderingLimit else { return nil }
        var order = Array(steps.indices)
        // Heap's algorithm: each next order swaps two positions.
        var counters = [Int](repeating: 0, count: steps.count)
        func works() -> Bool {
            var working = self
            for index in order where (try? working.apply(steps[index])) == nil { return false }
            return working.nodeIndexOfInstance == finalNode && working.instances.map(\.allocation) == finalAllocation
        }
        if works() { return SwapPlan(order.map { steps[$0] }) }
        var i = 1
        while i < steps.count {
            if counters[i] < i {
                order.swapAt(i % 2 == 0 ? 0 : counters[i], i)
                if works() { return SwapPlan(order.map { steps[$0] }) }
                counters[i] += 1
                i = 1
            } else {
                counters[i] = 0
                i += 1
            }
        }
        return nil
    }

    /// The direct order: every shrink, then each instance's migration to its end, then every grow.
    private func collapsedOrder(_ touched: [Int], lowest lowestAllocation: [ResourceVector], final finalAllocation: [ResourceVector],
                                nodes finalNode: [Int]) throws(LedgerError) -> SwapPlan {
        var working = self
        var ordered: [PlanStep] = []
        // 1. Shrinks.
        for instanceIndex in touched {
            let current = instances[instanceIndex].allocation
            let shrunk = lowestAllocation[instanceIndex]
            if shrunk != current {
                ordered.append(.resize(instances[instanceIndex].id, to: shrunk))
                try working.resize(instanceAt: instanceIndex, to: shrunk)
            }
        }
        // 2. Migrations.
        let moving = touched.filter { finalNode[$0] != nodeIndexOfInstance[$0] }
        for instanceIndex in try working.migrationOrder(moving, to: finalNode) {
            ordered.append(.migrate(instances[instanceIndex].id, to: nodes[finalNode[instanceIndex]].id))
            try working.migrate(instanceAt: instanceIndex, toNodeAt: finalNode[instanceIndex])
        }
        // 3. Grows.
        for instanceIndex in touched where working.instances[instanceIndex].allocation != finalAllocation[instanceIndex] {
            ordered.append(.resize(instances[instanceIndex].id, to: finalAllocation[instanceIndex]))
            try working.resize(instanceAt: instanceIndex, to: finalAllocation[instanceIndex])
        }
        return SwapPlan(ordered)
    }

    /// An order for the migrations of `moving` (instance indices) to `target` in which each
    /// one fits when it runs.
    private func migrationOrder(_ moving: [Int], to target: [Int]) throws(LedgerError) -> [Int] {
        // Greedy: repeatedly run any migration that fits now.
        var working = self
        var remaining = moving
        var order: [Int] = []
        var progressed = true
        while progressed && !remaining.isEmpty {
            progressed = false
            var index = 0
            while index < remaining.count {
                let instanceIndex = remaining[index]
                if (try? working.migrate(instanceAt: instanceIndex, toNodeAt: target[instanceIndex])) != nil {
                    order.append(instanceIndex)
                    remaining.remove(at: index)
                    progressed = true
                } else {
                    index += 1
                }
            }
        }
        if remaining.isEmpty { return order }

        let blocked = remaining.prefix(5).map { "\(instances[$0].id) → \(nodes[target[$0]].id)" }.joined(separator: ", ")
        guard moving.count <= Self.exhaustiveOrderingLimit else {
            throw .noValidOrder(
                "no order found for \(remaining.count) migrations that block each other (\(blocked), …); "
                    + "the plan has \(moving.count) migrations, more than \(Self.exhaustiveOrderingLimit) to search exhaustively")
        }
        // The greedy choices may have led into the dead end: search from the start.
        var failed = Set<UInt32>()
        if let full = searchOrder(moving, to: target, done: 0, failed: &failed) {
            return full
        }
        throw .noValidOrder(
            "the migrations \(blocked) need room on their targets that only the others could free: "
                + "every order of direct moves overfills a node (a swap of places needs a move through a third node or a temporary shrink)")
    }

    /// Depth-first search over subsets of `moving` already migrated (bit i set = moving[i] done),
    /// remembering subsets from which no order exists.
    private func searchOrder(_ moving: [Int], to target: [Int], done: UInt32, failed: inout Set<UInt32>) -> [Int]? {
        if done == (UInt32(1) << moving.count) - 1 { return [] }
        if failed.contains(done) { return nil }
        for (bit, instanceIndex) in moving.enumerated() where done & (1 << bit) == 0 {
            var next = self
            if (try? next.migrate(instanceAt: instanceIndex, toNodeAt: target[instanceIndex])) != nil,
               let rest = next.searchOrder(moving, to: target, done: done | (1 << bit), failed: &failed) {
                return [instanceIndex] + rest
            }
        }
        failed.insert(done)
        return nil
    }
}
