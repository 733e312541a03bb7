import PoolCore

/// How the simulator builds a pool from a trace: identical nodes of one shape, filled first-fit
/// in decreasing order of each instance's size.
public struct PoolShape: Sendable, Equatable {
    /// Capacity of every node. Default 64 cores, 512 GiB, no gpu: a common two-socket host.
    public var nodeCapacity: ResourceVector
    /// Kept free on every node for the host itself. Default 2 cores, 16 GiB.
    public var nodeReserve: ResourceVector
    /// The SLA minimum of each instance as a fraction of its first provisioned allocation.
    /// Default 0: the trace promises nothing beyond what was used.
    public var minimumFraction: Double
    /// How the trace's instances get their SLA tier.
    public var tiers: TierRule

    public init(
        nodeCapacity: ResourceVector = ResourceVector(cpu: 64, memory: 512),
        nodeReserve: ResourceVector = ResourceVector(cpu: 2, memory: 16),
        minimumFraction: Double = 0,
        tiers: TierRule = .cycle
    ) {
        self.nodeCapacity = nodeCapacity
        self.nodeReserve = nodeReserve
        self.minimumFraction = minimumFraction
        self.tiers = tiers
    }
}

extension PoolShape {
    /// This shape with the capacity of each resource not in `fixed` grown where needed, so
    /// that the largest instance of `trace` fits on a node beside its reserve: no trace is
    /// refused for one big VM.
    public func fitted(to trace: UsageTrace, keeping fixed: Set<Resource> = []) -> PoolShape {
        var shape = self
        for resource in Resource.allCases where !fixed.contains(resource) {
            var largest = trace.instances.reduce(0) { max($0, $1.peak[resource]) }
            if resource == .gpu { largest = largest.rounded(.up) }
            var capacity = max(nodeCapacity[resource], largest + nodeReserve[resource])
            while capacity - nodeReserve[resource] < largest { capacity = capacity.nextUp } // rounding
            shape.nodeCapacity[resource] = capacity
        }
        return shape
    }
}

/// How a trace's instances, which carry no SLA, are given one of the three tiers.
public enum TierRule: Sendable, Equatable {
    /// Standard, premium, critical in turn, in trace order: a third each.
    case cycle
    /// Each instance drawn on its own with these shares (standard, premium, critical; they
    /// need not sum to 1) from a generator seeded with `seed`: the same seed, the same tiers.
    case random(seed: UInt64, shares: [Double])

    /// The tier of each of `count` instances, in trace order.
    public func tiers(count: Int) -> [SLATier] {
        switch self {
        case .cycle:
            return (0..<count).map { SLATier(rawValue: $0 % SLATier.allCases.count)! }
        case .random(let seed, let shares):
            var random = SplitMix64(seed: seed)
            let total = shares.reduce(0, +)
            return (0..<count).map { _ in
                var u = Double(random.next() >> 11) * 0x1p-53 * total
                for (k, share) in shares.enumerated() {
                    if u < share { return SLATier(rawValue: k)! }
                    u -= share
                }
                return SLATier(rawValue: shares.count - 1)!
            }
        }
    }

    /// A rule as `simulate --tiers` writes it: `cycle`, or `random:SEED[:S,P,C]` (equal shares
    /// by default).
    public init(parsing text: String) throws(PoolBuildError) {
        if text == "cycle" { self = .cycle; return }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 || parts.count == 3, parts[0] == "random", let seed = UInt64(parts[1]) else {
            throw PoolBuildError(description: "tiers must be 'cycle' or 'random:SEED[:S,P,C]' (SEED a whole number ≥ 0), not '\(text)'")
        }
        var shares = [1.0, 1, 1]
        if parts.count == 3 {
            let fields = parts[2].split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count == 3, let values = Optional(fields.compactMap { Double($0) }), values.count == 3 else {
                throw PoolBuildError(description: "tiers: the shares must be three numbers S,P,C, not '\(parts[2])'")
            }
            shares = values
        }
        self = .random(seed: seed, shares: shares)
        if let problem { throw PoolBuildError(description: "tiers: " + problem) }
    }

    /// Why the rule cannot be used, or nil.
    public var problem: String? {
        guard case .random(_, let shares) = self else { return nil }
        guard shares.count == SLATier.allCases.count, shares.allSatisfy({ $0.isFinite && $0 >= 0 }), shares.contains(where: { $0 > 0 }) else {
            return "tier shares need three amounts ≥ 0 (standard, premium, critical), not all 0, not \(shares)"
        }
        return nil
    }
}

/// Why a pool could not be built.
public struct PoolBuildError: Error, CustomStringConvertible {
    public var description: String
}

extension PoolShape {
    /// The SLA weight of each tier: 1, 3, 10, whose forecasts are read at the 80%, 90% and 95%
    /// interval (`SLATier`).
    public static let tierWeights: [Double] = [1, 3, 10]

    /// A ledger holding every instance of `trace`. Each instance's size, its SLA ceiling and what
    /// it is packed by, is the most it ever had or used in the trace, so any allocation within
    /// SLA bounds fits its node. Its first allocation is the trace's first provisioned one.
    public func buildPool(for trace: UsageTrace) throws(PoolBuildError) -> AllocationLedger {
        let allocatable = nodeCapacity - nodeReserve
        for resource in Resource.allCases where !(allocatable[resource] >= 0) || !nodeCapacity.isFinite {
            throw PoolBuildError(description: "node reserve \(formatAmount(nodeReserve[resource])) \(resource.unit) exceeds its capacity \(formatAmount(nodeCapacity[resource])) \(resource.unit)")
        }
        guard minimumFraction >= 0, minimumFraction <= 1 else {
            throw PoolBuildError(description: "the SLA minimum fraction must be within 0...1, not \(minimumFraction)")
        }
        if let problem = tiers.problem { throw PoolBuildError(description: problem) }
        let tierOf = tiers.tiers(count: trace.instances.count)
        let sizes = trace.instances.map { series in
            var size = series.peak
            size.gpu = size.gpu.rounded(.up)
            return size
        }
        for (series, size) in zip(trace.instances, sizes) where !size.fits(within: allocatable) {
            throw PoolBuildError(description: "instance \(series.id) needs up to \(size), more than a node's allocatable \(allocatable); choose a larger node shape")
        }
        func weight(_ size: ResourceVector) -> Double {
            Resource.allCases.reduce(0) { $0 + (allocatable[$1] > 0 ? size[$1] / allocatable[$1] : 0) }
        }
        let packingOrder = trace.instances.indices.sorted { weight(sizes[$0]) > weight(sizes[$1]) }
        var nodeLoad: [ResourceVector] = []
        var nodeOfInstance = [Int](repeating: 0, count: trace.instances.count)
        for index in packingOrder {
            if let node = nodeLoad.firstIndex(where: { ($0 + sizes[index]).fits(within: allocatable) }) {
                nodeOfInstance[index] = node
                nodeLoad[node] += sizes[index]
            } else {
                nodeOfInstance[index] = nodeLoad.count
                nodeLoad.append(sizes[index])
            }
        }
        let nodes = nodeLoad.indices.map { Node(id: NodeID("node-\($0 + 1)"), capacity: nodeCapacity, reserve: nodeReserve) }
        let instances = trace.instances.enumerated().map { index, series in
            // The first allocation the trace gives each resource; its peak where it gives none.
            var provisioned = sizes[index]
            for resource in Resource.allCases {
                if let first = series.allocated[resource.rawValue].first(where: { !$0.isNaN }) { provisioned[resource] = first }
            }
            let sla = SLA(minimum: provisioned * minimumFraction, maximum: sizes[index], weight: Self.tierWeights[tierOf[index].rawValue])
            var start = sla.clamp(provisioned)
            start.gpu = start.gpu.rounded(.up)
            return Instance(id: series.id, node: nodes[nodeOfInstance[index]].id, allocation: start, sla: sla)
        }
        do {
            return try AllocationLedger(nodes: nodes, instances: instances)
        } catch {
            throw PoolBuildError(description: "the packed pool is invalid: \(error)")
        }
    }
}
