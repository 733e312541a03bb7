import PoolCore

/// The swaps of a plan that can run without the others: a plan whose grows took the room of
/// shrinks that were dropped (held, rejected, beyond `maxChanges`) would put a node over
/// capacity, so the subset is rebuilt by falling benefit, each swap kept only if the pool's
/// final state still fits every node.
public enum FittingSubset {
    /// Indices of `changes` kept, at most `limit` of them, in the order given.
    public static func select(_ changes: [SwapChange], benefit: [Double], in ledger: AllocationLedger, limit: Int? = nil) -> [Int] {
        var totals = ledger.allocated
        var nodeIndex: [NodeID: Int] = [:]
        for (k, node) in ledger.nodes.enumerated() { nodeIndex[node.id] = k }
        let order = changes.indices.sorted { benefit[$0] > benefit[$1] }
        var kept = Set<Int>()
        let cap = limit ?? changes.count
        var progressed = true
        // A shrink further down the order can make room for a grow above it: pass again.
        while progressed, kept.count < cap {
            progressed = false
            for k in order where !kept.contains(k) && kept.count < cap {
                let change = changes[k]
                guard let from = nodeIndex[change.fromNode], let to = nodeIndex[change.toNode] else { continue }
                var next = totals
                next[from] -= change.before
                next[to] += change.after
                let fits = [from, to].allSatisfy { n in
                    Resource.allCases.allSatisfy { r in
                        let limit = ledger.nodes[n].allocatable[r]
                        return next[n][r] <= limit + 1e-9 * max(1, abs(limit)) || next[n][r] <= totals[n][r]
                    }
                }
                if fits {
                    totals = next
                    kept.insert(k)
                    progressed = true
                }
            }
        }
        return changes.indices.filter { kept.contains($0) }
    }
}
