/// What one solve leaves for the next of a similar problem (the control loop's next round):
/// where each instance ended up and the bound's capacity prices, keyed by id, so that instances
/// and nodes may come and go between the two problems.
public struct SwapWarmStart: Sendable, Equatable {
    /// Instance id → node id.
    public var node: [String: String]
    /// Node id → capacity price per resource, keyed by resource name.
    public var prices: [String: [String: Double]]

    public init(node: [String: String], prices: [String: [String: Double]] = [:]) {
        self.node = node
        self.prices = prices
    }

    /// The warm start a solution of `problem` leaves.
    public init(problem: SwapProblem, solution: SwapSolution) {
        var node: [String: String] = [:]
        for (i, id) in problem.instanceIDs.enumerated() where solution.node.indices.contains(i) {
            node[id] = problem.nodeIDs[solution.node[i]]
        }
        var prices: [String: [String: Double]] = [:]
        let R = problem.resourceCount
        if solution.prices.count == problem.nodeCount * R {
            for (n, id) in problem.nodeIDs.enumerated() {
                var byResource: [String: Double] = [:]
                for r in 0..<R { byResource[problem.resources[r]] = solution.prices[n * R + r] }
                prices[id] = byResource
            }
        }
        self.init(node: node, prices: prices)
    }

    /// Each instance's node for `problem`: the remembered one when it is still allowed (home, or
    /// a candidate of an instance not locked), else home; at most `maxMigrations` away from home,
    /// the first ones in the problem's order kept.
    func assignment(for problem: SwapProblem) -> [Int] {
        var index: [String: Int] = [:]
        for (n, id) in problem.nodeIDs.enumerated() { index[id] = n }
        var start = problem.node
        var away = 0
        for i in 0..<problem.instanceCount where !problem.locked[i] && away < problem.maxMigrations {
            guard let id = node[problem.instanceIDs[i]], let q = index[id], q != problem.node[i],
                  problem.alternatives[i].contains(q) else { continue }
            start[i] = q
            away += 1
        }
        return start
    }

    /// The remembered prices for `problem`'s nodes and resources (`fallback`'s where none is
    /// remembered), or nil when none is.
    func prices(for problem: SwapProblem, fallback: [Double]) -> [Double]? {
        guard !prices.isEmpty else { return nil }
        let R = problem.resourceCount
        var flat = fallback
        for (n, id) in problem.nodeIDs.enumerated() {
            guard let byResource = prices[id] else { continue }
            for r in 0..<R { if let price = byResource[problem.resources[r]] { flat[n * R + r] = max(0, price) } }
        }
        return flat
    }
}
