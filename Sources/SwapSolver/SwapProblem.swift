/// One swap problem of `swap-problem.md` (version 1): a snapshot of the pool,
/// validated, with resources addressed by index. Per-resource values of nodes
/// and instances are stored flat, row-major: `capacity[node * resourceCount + r]`.
public struct SwapProblem: Sendable, Equatable {
    public var resources: [String]
    public var integral: [Bool]
    /// Cost per unit and resource of allocation above demand.
    public var waste: [Double]
    /// Cost per unit and resource of demand above allocation, before the SLA weight.
    public var shortfall: [Double]
    /// Cost per unit and resource of moving an allocation.
    public var change: [Double]
    /// Largest `|new - current|` per instance and resource; `.infinity` when absent.
    public var maxChange: [Double]
    public var maxMigrations: Int

    public var nodeIDs: [String]
    public var capacity: [Double]
    public var reserve: [Double]

    public var instanceIDs: [String]
    /// Current node of each instance (index into `nodeIDs`).
    public var node: [Int]
    public var allocation: [Double]
    public var demand: [Double]
    public var minimum: [Double]
    public var maximum: [Double]
    public var weight: [Double]
    public var locked: [Bool]
    public var migrationCost: [Double]
    /// Nodes each instance may move to, without its current node.
    public var alternatives: [[Int]]

    public var resourceCount: Int { resources.count }
    public var nodeCount: Int { nodeIDs.count }
    public var instanceCount: Int { instanceIDs.count }

    /// Capacity an assignment may use on a node: capacity minus reserve.
    @inlinable
    public func usable(node n: Int, _ r: Int) -> Double {
        capacity[n * resourceCount + r] - reserve[n * resourceCount + r]
    }

    /// True when no instance can move: the fixed variant.
    public var isFixed: Bool {
        maxMigrations == 0 || !alternatives.indices.contains { !locked[$0] && !alternatives[$0].isEmpty }
    }

    public init(
        resources: [String], integral: [Bool],
        waste: [Double], shortfall: [Double], change: [Double],
        maxChange: [Double], maxMigrations: Int,
        nodeIDs: [String], capacity: [Double], reserve: [Double],
        instanceIDs: [String], node: [Int],
        allocation: [Double], demand: [Double], minimum: [Double], maximum: [Double],
        weight: [Double], locked: [Bool], migrationCost: [Double], alternatives: [[Int]]
    ) {
        self.resources = resources
        self.integral = integral
        self.waste = waste
        self.shortfall = shortfall
        self.change = change
        self.maxChange = maxChange
        self.maxMigrations = maxMigrations
        self.nodeIDs = nodeIDs
        self.capacity = capacity
        self.reserve = reserve
        self.instanceIDs = instanceIDs
        self.node = node
        self.allocation = allocation
        self.demand = demand
        self.minimum = minimum
        self.maximum = maximum
        self.weight = weight
        self.locked = locked
        self.migrationCost = migrationCost
        self.alternatives = alternatives
    }

    /// The model's cost of giving instance `i` the amount `a` of resource `r`
    /// (waste, weighted shortfall and change; no migration).
    @inlinable
    public func cost(instance i: Int, _ r: Int, amount a: Double) -> Double {
        let k = i * resourceCount + r
        let d = demand[k]
        return waste[r] * max(0, a - d)
            + weight[i] * shortfall[r] * max(0, d - a)
            + change[r] * abs(a - allocation[k])
    }
}
