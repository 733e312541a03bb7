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

    public init(
        nodeCapacity: ResourceVector = ResourceVector(cpu: 64, memory: 512),
        nodeReserve: ResourceVector = ResourceVector(cpu: 2, memory: 16),
        minimumFraction: Double = 0
    ) {
        self.nodeCapacity = nodeCapacity
        self.nodeReserve = nodeReserve
        self.minimumFraction = minimumFraction
    }
}

/// Why a pool could not be built.
public struct PoolBuildError: Error, CustomStringConvertible {
    public var description: String
}

extension PoolShape {
    /// SLA weights given to the trace's instances in turn, in trace order: 1, 3, 10, the
    /// tiers whose forecasts are read at the 80%, 90% and 95% interval (`SLATier`).
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
            let first = (0..<series.span).first { !series.used[0][$0].isNaN }!
            let provisioned = series.allocated(at: series.firstSlot + first)
            let sla = SLA(minimum: provisioned * minimumFraction, maximum: sizes[index], weight: Self.tierWeights[index % Self.tierWeights.count])
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
