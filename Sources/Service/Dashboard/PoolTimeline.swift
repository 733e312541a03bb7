/// The pool and each node over the last rounds, for the dashboard: capacity, allocated and
/// used and forecast per resource (cpu, memory, gpu in lanes 0, 1, 2), and for the pool the
/// shortfall too. One entry a round, held inline (no allocation an entry). In memory: a
/// restart starts it afresh.
struct PoolTimeline: Sendable {
    struct Entry: Sendable {
        var time: Int64
        var capacity: SIMD4<Double>
        var allocated: SIMD4<Double>
        var used: SIMD4<Double>
        /// Sum of the instances' point forecasts at the planning horizon.
        var forecast: SIMD4<Double> = .zero
        /// Usage above allocation, summed over the instances (zero for a node).
        var shortfall: SIMD4<Double> = .zero
    }
    /// Entries kept for the pool, and for each node.
    let keep: Int, keepPerNode: Int
    private(set) var pool: [Entry] = []
    private(set) var nodes: [String: [Entry]] = [:]
    /// The pool's first entry with usage observed: its slack before Poolswap changed anything.
    private(set) var first: Entry?

    init(keep: Int, keepPerNode: Int) {
        self.keep = keep
        self.keepPerNode = keepPerNode
    }

    static func lanes(_ a: Amounts) -> SIMD4<Double> { SIMD4(a.cpu, a.memory, a.gpu, 0) }

    mutating func record(_ view: PoolView, shortfall: [Double]) {
        guard let time = view.time else { return }
        let entry = Entry(time: time, capacity: Self.lanes(view.capacity), allocated: Self.lanes(view.allocated), used: Self.lanes(view.used),
                          forecast: Self.lanes(view.forecast), shortfall: SIMD4(shortfall[0], shortfall[1], shortfall[2], 0))
        if first == nil, entry.used.sum() > 0 { first = entry }
        Self.append(entry, to: &pool, keep: keep)
        var seen = Set<String>()
        for node in view.nodes {
            seen.insert(node.id)
            Self.append(Entry(time: time, capacity: Self.lanes(node.capacity), allocated: Self.lanes(node.allocated), used: Self.lanes(node.used),
                              forecast: Self.lanes(node.forecast)),
                        to: &nodes[node.id, default: []], keep: keepPerNode)
        }
        for id in nodes.keys where !seen.contains(id) { nodes[id] = nil }
    }

    private static func append(_ entry: Entry, to entries: inout [Entry], keep: Int) {
        if let last = entries.last, last.time == entry.time { entries.removeLast() }
        entries.append(entry)
        if entries.count > keep { entries.removeFirst(entries.count - keep) }
    }
}
