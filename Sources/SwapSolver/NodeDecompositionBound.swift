import Foundation

/// A stronger lower bound for the migration variant, by node decomposition. Each node keeps its
/// exact least cost C_n (the greedy fill of `NodeBook`); relaxed are only the rule that an
/// instance sits on exactly one node (a price π_i per instance) and the migration budget (μ):
///
///     L(π, μ) = Σ_i π_i − μ·budget + Σ_n min over Y ⊆ E_n of [C_n(Y) + Σ_{i ∈ Y} (w_in − π_i)]
///
/// E_n holds the instances that may sit on n (its own, and those with n among their candidates);
/// w_in is 0 at home and the migration cost plus μ for a guest. Capacity prices
/// (`LagrangianBound`) let an instance move in fractions, freeing just the capacity a node lacks;
/// here a node holds an instance or not.
///
/// A node's least cost rises faster the more instances share it (it is supermodular in Y), so
/// its minimum is found exactly by a data-correcting branch and bound: an instance whose
/// marginal is ≤ 0 with every open instance in is taken, one whose marginal is ≥ 0 with only
/// the taken ones is left out, and the rest are branched on. π starts at the capacity bound's
/// priced costs, so L starts at least as high as that bound when every node's search finishes
/// (one cut short gives a lower bound of its minimum instead); it then follows subgradient
/// steps, and only nodes whose prices changed are solved again.
struct NodeDecompositionBound {
    let problem: SwapProblem
    let curves: AllocationCurves
    /// Node n's instances are `element[elementStart[n] ..< elementStart[n + 1]]`, those at home first.
    private var elementStart: [Int] = [0]
    private var element: [Int32] = []
    private var guest: [Bool] = []
    /// Per node-resource `nr`, the segments of all of E_n sorted by slope: `segmentStart[nr] ..<
    /// segmentStart[nr + 1]`, each with its owner as an index into the node's elements.
    private var segmentStart: [Int] = [0]
    private var segmentSlope: [Double] = []
    private var segmentLength: [Double] = []
    private var segmentOwner: [Int32] = []
    /// Element g's segments of resource r, as positions within their node-resource's sorted
    /// list: `ownPosition[ownStart[g * R + r] ..< ownStart[g * R + r + 1]]`, ascending.
    private var ownStart: [Int32] = [0]
    private var ownPosition: [Int32] = []
    private let usable: [Double]

    /// Work so far, in node-cost evaluations: a set's full cost, or its cost next to a pass's
    /// snapshot (a few binary searches per resource), counts as one, as does a slope evaluation
    /// of the price bound (one resource) and, per node, a plan costed exactly.
    private(set) var work = 0
    /// The steps stop once `work` passes this.
    var workLimit = Int.max
    /// The ascent's direction, and the probes' scratch, reused.
    private var direction: [Double] = []
    private var probeScratch = Scratch()

    /// Adds work done elsewhere on the decomposition's behalf (a plan costed exactly).
    mutating func count(_ units: Int) { work += units }
    /// Evaluations after which one node's search branches no further (checked where it
    /// branches); the node then gives a lower bound of its minimum instead of the minimum.
    var nodeEvaluationLimit = 60_000

    init(problem p: SwapProblem, curves: AllocationCurves) {
        problem = p
        self.curves = curves
        let R = p.resourceCount
        usable = (0..<(p.nodeCount * R)).map { p.capacity[$0] - p.reserve[$0] }
        var guests = Array(repeating: [Int32](), count: p.nodeCount)
        var homes = Array(repeating: [Int32](), count: p.nodeCount)
        for i in 0..<p.instanceCount {
            homes[p.node[i]].append(Int32(i))
            if !p.locked[i], p.maxMigrations > 0 { for q in p.alternatives[i] { guests[q].append(Int32(i)) } }
        }
        var order: [(segment: Int, owner: Int32)] = []
        for n in 0..<p.nodeCount {
            let start = element.count
            element += homes[n]
            element += guests[n]
            guest += Array(repeating: false, count: homes[n].count) + Array(repeating: true, count: guests[n].count)
            elementStart.append(element.count)
            for r in 0..<R {
                order.removeAll(keepingCapacity: true)
                for e in start..<element.count {
                    let k = Int(element[e]) * R + r
                    for segment in Int(curves.segmentStart[k])..<Int(curves.segmentStart[k + 1]) {
                        order.append((segment, Int32(e - start)))
                    }
                }
                order.sort { curves.slope[$0.segment] < curves.slope[$1.segment] }
                for (segment, owner) in order {
                    segmentSlope.append(curves.slope[segment])
                    segmentLength.append(curves.length[segment])
                    segmentOwner.append(owner)
                }
                segmentStart.append(segmentSlope.count)
            }
        }
        // Each element's own positions, resource by resource.
        var own = Array(repeating: [Int32](), count: element.count * R)
        for n in 0..<p.nodeCount {
            for r in 0..<R {
                let nr = n * R + r
                for k in segmentStart[nr]..<segmentStart[nr + 1] {
                    own[(elementStart[n] + Int(segmentOwner[k])) * R + r].append(Int32(k - segmentStart[nr]))
                }
            }
        }
        ownStart.reserveCapacity(own.count + 1)
        for positions in own {
            ownPosition += positions
            ownStart.append(Int32(ownPosition.count))
        }
    }

    // MARK: One node's minimum

    /// Search state of one node's elements: taken (in L), left out (not in U), or open.
    enum State: UInt8 { case out = 0, taken = 1, open = 2 }

    /// Buffers of a node search, reused.
    private struct Scratch {
        var state: [State] = []
        var weight: [Double] = []
        var marginal: [Double] = []
        var best: [State] = []
        var bestValue = Double.infinity
        var unfinished = Double.infinity
        var evaluations = 0
        var undo: [Int] = []
        var lambda: [Double] = []
        var other: [Double] = []
        /// Decided elements (taken or out) before the search; the rest open.
        var start: [State] = []
        /// The node's last choice, a first incumbent.
        var previous: [State] = []
        /// A pass's snapshot (`prepare`): per resource the taken (L) and not-left-out (U)
        /// elements' summed base and lowest allocation, their summed weights, and prefix sums of
        /// their segments' lengths and costs in slope order (resource r's from `offset(r)`).
        var baseL: [Double] = [], baseU: [Double] = [], lowL: [Double] = [], lowU: [Double] = []
        var weightL = 0.0, weightU = 0.0
        var lengthL: [Double] = [], costL: [Double] = [], lengthU: [Double] = [], costU: [Double] = []
    }

    /// C_n(Y) + Σ_Y weight, where Y is the taken elements plus, when `open`, the open ones;
    /// `flip` (a local index or -1) is toggled.
    private func value(_ n: Int, _ s: inout Scratch, open: Bool, flip: Int) -> Double {
        s.evaluations += 1
        let R = problem.resourceCount
        let first = elementStart[n], count = elementStart[n + 1] - first
        var total = 0.0
        s.state.withUnsafeBufferPointer { state in
            @inline(__always) func isIn(_ e: Int) -> Bool {
                let inside = state[e] == .taken || (open && state[e] == .open)
                return e == flip ? !inside : inside
            }
            for e in 0..<count where isIn(e) { total += s.weight[e] }
            for r in 0..<R {
                var base = 0.0, low = 0.0
                for e in 0..<count where isIn(e) {
                    let k = Int(element[first + e]) * R + r
                    base += curves.base[k]
                    low += curves.lo[k]
                }
                let nr = n * R + r
                var remaining = NodeBook.budget(usable: usable[nr], low: low, integral: problem.integral[r])
                if remaining < -NodeBook.tolerance(usable[nr]) { total += base + NodeBook.overloadPenalty * -remaining; continue }
                total += base
                var k = segmentStart[nr]
                let end = segmentStart[nr + 1]
                while remaining > 0, k < end {
                    if isIn(Int(segmentOwner[k])) {
                        let take = min(segmentLength[k], remaining)
                        total += segmentSlope[k] * take
                        remaining -= take
                    }
                    k += 1
                }
            }
        }
        return total
    }

    /// Takes the snapshot of L (the taken elements) and U (taken and open) that `snapshotValue`
    /// prices sets near.
    private func prepare(_ n: Int, _ s: inout Scratch) {
        let R = problem.resourceCount
        let first = elementStart[n], count = elementStart[n + 1] - first
        let size = segmentStart[(n + 1) * R] - segmentStart[n * R] + R
        if s.lengthL.count < size {
            s.lengthL = Array(repeating: 0, count: size); s.costL = s.lengthL
            s.lengthU = s.lengthL; s.costU = s.lengthL
        }
        if s.baseL.count != R {
            s.baseL = Array(repeating: 0, count: R); s.baseU = s.baseL; s.lowL = s.baseL; s.lowU = s.baseL
        }
        s.weightL = 0; s.weightU = 0
        for r in 0..<R { s.baseL[r] = 0; s.baseU[r] = 0; s.lowL[r] = 0; s.lowU[r] = 0 }
        for e in 0..<count where s.state[e] != .out {
            let taken = s.state[e] == .taken
            s.weightU += s.weight[e]
            if taken { s.weightL += s.weight[e] }
            let k0 = Int(element[first + e]) * R
            for r in 0..<R {
                s.baseU[r] += curves.base[k0 + r]; s.lowU[r] += curves.lo[k0 + r]
                if taken { s.baseL[r] += curves.base[k0 + r]; s.lowL[r] += curves.lo[k0 + r] }
            }
        }
        var o = 0
        for r in 0..<R {
            let nr = n * R + r
            var lengthL = 0.0, costL = 0.0, lengthU = 0.0, costU = 0.0
            s.lengthL[o] = 0; s.costL[o] = 0; s.lengthU[o] = 0; s.costU[o] = 0
            for k in segmentStart[nr]..<segmentStart[nr + 1] {
                let state = s.state[Int(segmentOwner[k])]
                if state != .out {
                    let piece = segmentSlope[k] * segmentLength[k]
                    lengthU += segmentLength[k]; costU += piece
                    if state == .taken { lengthL += segmentLength[k]; costL += piece }
                }
                o += 1
                s.lengthL[o] = lengthL; s.costL[o] = costL; s.lengthU[o] = lengthU; s.costU[o] = costU
            }
            o += 1
        }
    }

    /// `value` of the snapshot's L with open element `e` added (`upper` false), or of its U
    /// with `e` removed (`upper` true); e = -1 prices L or U itself. A resource costs a few
    /// binary searches over the snapshot's prefix sums, not a walk over every segment.
    private func snapshotValue(_ n: Int, _ s: inout Scratch, upper: Bool, _ e: Int) -> Double {
        s.evaluations += 1
        let R = problem.resourceCount
        let sign: Double = e < 0 ? 0 : (upper ? -1 : 1)
        let g = elementStart[n] + max(e, 0)
        let i = e < 0 ? 0 : Int(element[g])
        var total = (upper ? s.weightU : s.weightL) + (e < 0 ? 0 : sign * s.weight[e])
        let origin = segmentStart[n * R]
        for r in 0..<R {
            let k = i * R + r
            let base = (upper ? s.baseU[r] : s.baseL[r]) + (e < 0 ? 0 : sign * curves.base[k])
            let low = (upper ? s.lowU[r] : s.lowL[r]) + (e < 0 ? 0 : sign * curves.lo[k])
            let nr = n * R + r
            let remaining = NodeBook.budget(usable: usable[nr], low: low, integral: problem.integral[r])
            if remaining < -NodeBook.tolerance(usable[nr]) { total += base + NodeBook.overloadPenalty * -remaining; continue }
            total += base
            guard remaining > 0 else { continue }
            let start = segmentStart[nr], end = segmentStart[nr + 1]
            let offset = start - origin + r
            let own = e < 0 ? 0..<0 : Int(ownStart[g * R + r])..<Int(ownStart[g * R + r + 1])
            total += upper
                ? fill(remaining, s.lengthU, s.costU, offset: offset, start: start, count: end - start, own: own, sign: sign)
                : fill(remaining, s.lengthL, s.costL, offset: offset, start: start, count: end - start, own: own, sign: sign)
        }
        return total
    }

    /// The greedy fill's cost of `capacity` over the set whose prefix sums are `length` and
    /// `cost` (positions 0...count from `offset`), with the segments at positions `own` added
    /// (sign 1) or removed (sign -1).
    @inline(__always)
    private func fill(_ capacity: Double, _ length: [Double], _ cost: [Double], offset: Int, start: Int, count: Int,
                      own: Range<Int>, sign: Double) -> Double {
        // Between two of the element's own positions the set's prefix sums move by a constant.
        var from = 0, ownLength = 0.0, ownCost = 0.0
        func within(_ to: Int) -> Double {
            // The capacity runs out at a position in [from, to): the last one whose prefix is short.
            var low = from, high = to
            while high - low > 1 {
                let middle = (low + high) / 2
                if length[offset + middle] + sign * ownLength >= capacity { high = middle } else { low = middle }
            }
            let before = length[offset + low] + sign * ownLength
            return cost[offset + low] + sign * ownCost + segmentSlope[start + low] * (capacity - before)
        }
        for index in own {
            let q = Int(ownPosition[index])
            let before = length[offset + q] + sign * ownLength
            if before >= capacity { return within(q) }
            let piece = segmentLength[start + q]
            if sign > 0, before + piece >= capacity {
                return cost[offset + q] + ownCost + segmentSlope[start + q] * (capacity - before)
            }
            ownLength += piece
            ownCost += segmentSlope[start + q] * piece
            from = q + 1
        }
        if length[offset + count] + sign * ownLength >= capacity { return within(count) }
        return cost[offset + count] + sign * ownCost
    }

    /// For tests: under `state`, the snapshot's prices of U and L and, for each open element e,
    /// of L + e and U − e, each beside the full evaluation of the same set.
    func snapshotCheck(_ n: Int, weights: [Double], state: [State]) -> [(snapshot: Double, full: Double)] {
        var s = Scratch()
        s.weight = weights
        s.state = state
        prepare(n, &s)
        var pairs = [(snapshotValue(n, &s, upper: true, -1), value(n, &s, open: true, flip: -1)),
                     (snapshotValue(n, &s, upper: false, -1), value(n, &s, open: false, flip: -1))]
        for e in state.indices where state[e] == .open {
            pairs.append((snapshotValue(n, &s, upper: false, e), value(n, &s, open: false, flip: e)))
            pairs.append((snapshotValue(n, &s, upper: true, e), value(n, &s, open: true, flip: e)))
        }
        return pairs
    }

    /// The least C_n(Y) + Σ_Y weight over all Y ⊆ E_n with `s.weight` set: exact, or a lower
    /// bound when the search outgrew `nodeEvaluationLimit`. The best Y found is left in `s.best`.
    private func minimise(_ n: Int, _ s: inout Scratch, warm: Bool) -> Double {
        let count = elementStart[n + 1] - elementStart[n]
        if s.start.count != count { Self.reset(&s.start, count, .open) }
        Self.reset(&s.marginal, count, 0)
        // Until a leaf is reached the choice is the decided instances alone.
        Self.reset(&s.best, count, .out)
        Self.reset(&s.state, count, .open)
        for e in 0..<count where s.start[e] == .taken { s.best[e] = .taken }
        s.bestValue = .infinity
        s.unfinished = .infinity
        s.evaluations = 0
        s.undo.removeAll(keepingCapacity: true)
        if warm, (0..<count).allSatisfy({ s.start[$0] == .open || s.start[$0] == s.previous[$0] }) {
            // The last choice, priced anew, is a first incumbent to prune against.
            for e in 0..<count { s.state[e] = s.previous[e] }
            s.bestValue = value(n, &s, open: false, flip: -1)
            for e in 0..<count { s.best[e] = s.state[e] }
        }
        for e in 0..<count { s.state[e] = s.start[e] }
        search(n, &s)
        return min(s.bestValue, s.unfinished)
    }

    /// Makes `buffer` `count` copies of `value`, in the memory it has when that is enough.
    private static func reset<T>(_ buffer: inout [T], _ count: Int, _ value: T) {
        buffer.removeAll(keepingCapacity: true)
        buffer.append(contentsOf: repeatElement(value, count: count))
    }

    private func search(_ n: Int, _ s: inout Scratch) {
        let count = s.state.count
        let mark = s.undo.count
        defer {
            for e in s.undo[mark...] { s.state[e] = .open }
            s.undo.removeSubrange(mark...)
        }
        var lower = 0.0
        var branch = -1
        while true {
            // Decisions from one snapshot stay valid together: U only shrinks and L only grows,
            // which can only confirm a marginal's sign.
            prepare(n, &s)
            let withOpen = snapshotValue(n, &s, upper: true, -1)
            let taken = snapshotValue(n, &s, upper: false, -1)
            var changed = false
            lower = taken
            var upperSide = withOpen
            branch = -1
            var steepest = Double.infinity
            for e in 0..<count where s.state[e] == .open {
                let add = snapshotValue(n, &s, upper: false, e) - taken
                let last = withOpen - snapshotValue(n, &s, upper: true, e)
                if last <= 0 {
                    s.state[e] = .taken; s.undo.append(e); changed = true
                } else if add >= 0 {
                    s.state[e] = .out; s.undo.append(e); changed = true
                } else {
                    // Marginals only grow with the set: L's value plus every negative marginal
                    // at L bounds the subtree, and so does U's value less every marginal at U.
                    lower += add
                    upperSide -= last
                    if add < steepest { steepest = add; branch = e }
                }
            }
            // (The evaluation limit is checked where the search branches: a pass's decisions
            // are few, and a bound cut off here would lack the price bound.)
            if changed { continue }
            lower = max(lower, upperSide)
            guard branch >= 0 else { break }
            // Capacity prices bound it too; an open instance whose priced cost would lift that
            // bound past the best is decided.
            let priced = priceBound(n, &s)
            lower = max(lower, priced)
            if lower >= s.bestValue { return }
            for e in 0..<count where s.state[e] == .open {
                let h = s.marginal[e]
                if h >= 0, priced + h >= s.bestValue {
                    s.state[e] = .out; s.undo.append(e); changed = true
                } else if h < 0, priced - h >= s.bestValue {
                    s.state[e] = .taken; s.undo.append(e); changed = true
                }
            }
            if !changed { break }
        }
        guard branch >= 0 else {
            if lower < s.bestValue { s.bestValue = lower; for e in s.state.indices { s.best[e] = s.state[e] } }
            return
        }
        if lower >= s.bestValue { return }
        if s.evaluations > nodeEvaluationLimit { s.unfinished = min(s.unfinished, lower); return }
        s.state[branch] = .taken
        search(n, &s)
        s.state[branch] = .out
        search(n, &s)
        s.state[branch] = .open
    }

    /// A lower bound of the node's minimum under the current decisions from capacity prices λ:
    /// Σ_taken (φ_e(λ) + w_e) + Σ_open min(0, φ_e(λ) + w_e) − λ·capacity, where φ_e is the
    /// instance's least priced cost. λ is found resource by resource by bisection on the slope
    /// (two rounds). Leaves φ_e(λ) + w_e of the open instances in `s.marginal`.
    private func priceBound(_ n: Int, _ s: inout Scratch) -> Double {
        let R = problem.resourceCount
        let first = elementStart[n], count = elementStart[n + 1] - first
        if s.lambda.count != R { s.lambda = Array(repeating: 0, count: R) }
        if s.other.count < count { s.other = Array(repeating: 0, count: count) }
        for r in 0..<R { s.lambda[r] = 0 }
        func capacity(_ r: Int) -> Double { NodeBook.budget(usable: usable[n * R + r], low: 0, integral: problem.integral[r]) }
        for _ in 0..<2 {
            for r in 0..<R {
                // Each instance's weight and priced cost of the other resources, then the slope
                // in λ_r: the allocations of the taken and the active open, less capacity.
                for e in 0..<count where s.state[e] != .out {
                    let i = Int(element[first + e])
                    var other = s.weight[e]
                    for q in 0..<R where q != r { other += curves.cheapest(i * R + q, price: s.lambda[q]).cost }
                    s.other[e] = other
                }
                func slope(_ price: Double) -> Double {
                    s.evaluations += 1
                    var total = -capacity(r)
                    for e in 0..<count where s.state[e] != .out {
                        let (c, a) = curves.cheapest(Int(element[first + e]) * R + r, price: price)
                        if s.state[e] == .taken || c + s.other[e] < 0 { total += a }
                    }
                    return total
                }
                var low = 0.0, high = 0.0
                for k in segmentStart[n * R + r]..<segmentStart[n * R + r + 1] { high = max(high, -segmentSlope[k]) }
                if slope(0) <= 0 { s.lambda[r] = 0; continue }
                if slope(high) > 0 { s.lambda[r] = NodeBook.overloadPenalty; continue }
                for _ in 0..<30 {
                    let mid = 0.5 * (low + high)
                    if slope(mid) > 0 { low = mid } else { high = mid }
                }
                s.lambda[r] = high
            }
        }
        var total = 0.0
        for r in 0..<R { total -= s.lambda[r] * capacity(r) }
        for e in 0..<count where s.state[e] != .out {
            let i = Int(element[first + e])
            var h = s.weight[e]
            for r in 0..<R { h += curves.cheapest(i * R + r, price: s.lambda[r]).cost }
            s.marginal[e] = h
            total += s.state[e] == .taken ? h : min(0, h)
        }
        return total
    }

    /// The instances that may sit on node `n`, its own first.
    func elements(of n: Int) -> ArraySlice<Int32> { element[elementStart[n]..<elementStart[n + 1]] }

    /// min over Y ⊆ `elements(of: n)` of C_n(Y) + Σ_Y weights (one weight per element), with
    /// the elements `start` decides taken or left out, and whether the search finished (else a
    /// lower bound). `limit` replaces `nodeEvaluationLimit`.
    func nodeMinimum(_ n: Int, weights: [Double], start: [State]? = nil, limit: Int? = nil) -> (value: Double, exact: Bool) {
        var search = self
        if let limit { search.nodeEvaluationLimit = limit }
        var scratch = Scratch()
        scratch.weight = weights
        scratch.start = start ?? Array(repeating: .open, count: weights.count)
        let value = search.minimise(n, &scratch, warm: false)
        return (value, scratch.unfinished == .infinity)
    }

    // MARK: The dual

    /// Prices and what the node minima chose under them.
    struct Dual {
        var pi: [Double]
        var mu: Double
        /// Each node's minimum (or lower bound of it), and per element whether it is in.
        var value: [Double]
        var chosen: [State]
        /// How many nodes took each instance.
        var count: [Int]
        var dirty: [Bool]
        /// Per instance: `LagrangianBound.free`, `.away`, or the node it is fixed on.
        var decision: [Int32]
        /// L(π, μ) of the current choices.
        var bound = -Double.infinity
        var moves = 0
    }

    /// The dual at the priced costs of a capacity relaxation (`relaxation`, evaluated at any
    /// capacity prices without decisions): L starts at least as high as that bound.
    func start(from relaxation: LagrangianBound.Relaxation) -> Dual {
        let p = problem
        let mu = relaxation.takenMargin
        return Dual(pi: (0..<p.instanceCount).map { min(relaxation.stay[$0], relaxation.alternative[$0] + mu) }, mu: mu,
                    value: Array(repeating: 0, count: p.nodeCount), chosen: Array(repeating: .out, count: element.count),
                    count: Array(repeating: 0, count: p.instanceCount), dirty: Array(repeating: true, count: p.nodeCount),
                    decision: (0..<p.instanceCount).map { i in
                        // An instance that cannot move is fixed at home.
                        p.locked[i] || p.alternatives[i].isEmpty || p.maxMigrations == 0 ? Int32(p.node[i]) : LagrangianBound.free
                    })
    }

    /// Fixes instance `i`'s decision (`LagrangianBound.free` frees it); its nodes are solved again.
    func decide(_ i: Int, _ d: Int32, in dual: inout Dual) {
        dual.decision[i] = d
        touch(i, &dual)
    }

    private func touch(_ i: Int, _ dual: inout Dual) {
        forEachNode(of: i) { dual.dirty[$0] = true }
    }

    /// Solves the dirty nodes, then sets `dual.bound` and `dual.moves`.
    mutating func evaluate(_ dual: inout Dual) {
        let N = problem.nodeCount
        var solved = dual.chosen
        solveDirty(dual.dirty, pi: dual.pi, mu: dual.mu, decision: dual.decision, warm: dual.bound > -.infinity,
                   value: &dual.value, chosen: &solved)
        var moves = 0
        for n in 0..<N {
            let first = elementStart[n], last = elementStart[n + 1]
            if dual.dirty[n] {
                for e in first..<last {
                    if dual.chosen[e] != solved[e] { dual.count[Int(element[e])] += solved[e] == .taken ? 1 : -1 }
                    dual.chosen[e] = solved[e]
                }
                dual.dirty[n] = false
            }
            for e in first..<last where guest[e] && dual.chosen[e] == .taken { moves += 1 }
        }
        var total = -dual.mu * Double(problem.maxMigrations)
        for i in 0..<problem.instanceCount { total += dual.pi[i] }
        for n in 0..<N { total += dual.value[n] }
        dual.bound = total
        dual.moves = moves
    }

    /// Each step moves the prices along the subgradient plus this share of the last step's
    /// direction (a deflected subgradient): plain steps zigzag between the same few instances,
    /// and on the medium problems only the deflected ones reached the optimum's value.
    static let deflection = 0.7
    /// A direction's entries smaller than this are dropped, so that instances the node minima
    /// agree on stop moving (and their nodes are not solved again).
    static let negligibleDirection = 1e-3
    /// Steps without a better bound after which the step size halves (by default); the ascent
    /// ends once it falls below `smallestStep`.
    static let stepPatience = 20
    static let smallestStep = 1e-6

    /// At most `iterations` deflected subgradient steps towards `upper` (Polyak's step size with
    /// `upper` as the target), the step halving after `stepPatience` steps without a better
    /// bound; `dual` is left at the best bound found, which is returned.
    mutating func ascend(_ dual: inout Dual, target upper: Double, iterations: Int, initialStep: Double = 1,
                         stepPatience: Int = NodeDecompositionBound.stepPatience, shouldStop: () -> Bool) -> Double {
        let p = problem, I = p.instanceCount, N = p.nodeCount
        let budget = p.maxMigrations
        var best: Dual? = nil
        var step = initialStep, sinceImprovement = 0
        // The direction: one entry per instance's price, the last for μ.
        if direction.count != I + 1 { direction = Array(repeating: 0, count: I + 1) }
        for k in 0...I { direction[k] = 0 }
        for _ in 0..<iterations {
            if shouldStop() || work >= workLimit { break }
            evaluate(&dual)
            if let b = best, dual.bound <= b.bound + 1e-12 * max(1, abs(b.bound)) {
                sinceImprovement += 1
                if sinceImprovement >= stepPatience { step *= 0.5; sinceImprovement = 0 }
            } else {
                best = dual; sinceImprovement = 0
            }
            if let b = best, upper - b.bound <= SwapSolution.optimalityTolerance * max(1, abs(upper)) { break }
            if step < Self.smallestStep { break }
            var muGradient = Double(dual.moves - budget)
            if dual.mu <= 0 && muGradient < 0 { muGradient = 0 }
            // A zero subgradient (every instance taken once, and the budget used exactly or
            // kept with μ at 0): these prices are optimal, and a deflected step would only leave them.
            guard muGradient != 0 || dual.count.contains(where: { $0 != 1 }) else { break }
            var norm = 0.0
            for i in 0..<I {
                var d = Double(1 - dual.count[i]) + Self.deflection * direction[i]
                if abs(d) < Self.negligibleDirection { d = 0 }
                direction[i] = d
                norm += d * d
            }
            var muDirection = muGradient + Self.deflection * direction[I]
            if abs(muDirection) < Self.negligibleDirection || (dual.mu <= 0 && muDirection < 0) { muDirection = 0 }
            direction[I] = muDirection
            norm += muDirection * muDirection
            guard norm > 0 else { break }
            let t = step * (upper - dual.bound) / norm
            for i in 0..<I where direction[i] != 0 {
                dual.pi[i] += t * direction[i]
                touch(i, &dual)
            }
            if muDirection != 0 {
                dual.mu = max(0, dual.mu + t * muDirection)
                for n in 0..<N where elementStart[n + 1] > elementStart[n] && guest[elementStart[n + 1] - 1] { dual.dirty[n] = true }
            }
        }
        if let best { dual = best }
        return best?.bound ?? -.infinity
    }

    /// The best bound found in at most `iterations` subgradient steps from `relaxation`'s priced
    /// costs (see `start`), towards `upper`.
    mutating func maximise(from relaxation: LagrangianBound.Relaxation, target upper: Double, iterations: Int,
                           shouldStop: () -> Bool) -> Double {
        var dual = start(from: relaxation)
        return ascend(&dual, target: upper, iterations: iterations, shouldStop: shouldStop)
    }

    /// The node each instance is on when every instance was taken by exactly one node, else nil.
    func assignment(_ dual: Dual) -> [Int]? {
        guard dual.count.allSatisfy({ $0 == 1 }) else { return nil }
        var node = problem.node
        for n in 0..<problem.nodeCount {
            for e in elementStart[n]..<elementStart[n + 1] where dual.chosen[e] == .taken { node[Int(element[e])] = n }
        }
        return node
    }

    /// Whether node `n` took instance `i` under `dual`.
    func took(_ n: Int, _ i: Int, _ dual: Dual) -> Bool {
        for e in elementStart[n]..<elementStart[n + 1] where element[e] == Int32(i) { return dual.chosen[e] == .taken }
        return false
    }

    /// Node `n`'s minimum under prices `pi`, `mu` and the decisions (with `override` in place of
    /// one instance's), its choice left in `s.best`. `previous` is a first incumbent.
    private func solveNode(_ n: Int, _ s: inout Scratch, pi: [Double], mu: Double, decision: [Int32],
                           override: (instance: Int, decision: Int32)?, previous: UnsafeMutableBufferPointer<State>.SubSequence?) -> Double {
        let first = elementStart[n], last = elementStart[n + 1]
        s.weight.removeAll(keepingCapacity: true)
        s.start.removeAll(keepingCapacity: true)
        for e in first..<last {
            let i = Int(element[e])
            s.weight.append((guest[e] ? problem.migrationCost[i] + mu : 0) - pi[i])
            let d = override.map { $0.instance == i ? $0.decision : decision[i] } ?? decision[i]
            s.start.append(d == LagrangianBound.free ? .open
                           : d == LagrangianBound.away ? (guest[e] ? .open : .out)
                           : Int(d) == n ? .taken : .out)
        }
        if let previous {
            s.previous.removeAll(keepingCapacity: true)
            s.previous.append(contentsOf: previous)
        }
        return minimise(n, &s, warm: previous != nil)
    }

    /// The bound `dual` would have with instance `i`'s decision `d`: only i's nodes are solved
    /// again, at the same prices (so it is a valid bound of that branch). `dual` must be evaluated.
    mutating func probe(_ i: Int, _ d: Int32, in dual: inout Dual) -> Double {
        var total = dual.bound
        // The probes' scratch is kept between calls (swapped out while in use).
        var scratch = Scratch()
        swap(&scratch, &probeScratch)
        defer { swap(&scratch, &probeScratch) }
        var evaluations = 0
        dual.chosen.withUnsafeMutableBufferPointer { chosen in
            forEachNode(of: i) { n in
                let v = solveNode(n, &scratch, pi: dual.pi, mu: dual.mu, decision: dual.decision, override: (i, d),
                                  previous: chosen[elementStart[n]..<elementStart[n + 1]])
                total += v - dual.value[n]
                evaluations += scratch.evaluations
            }
        }
        work += evaluations
        return total
    }

    /// Instance `i`'s nodes: its home, then its candidates when it can move.
    private func forEachNode(of i: Int, _ body: (Int) -> Void) {
        body(problem.node[i])
        if !problem.locked[i], problem.maxMigrations > 0 { for q in problem.alternatives[i] { body(q) } }
    }

    /// Solves the dirty nodes' minima under prices `pi` and `mu`, on up to two threads for
    /// many nodes (each node's result depends only on its own data, so the split does not
    /// change it). `chosen` holds each node's last choice on entry (the warm incumbent, when
    /// `warm`) and its new one on return.
    private mutating func solveDirty(_ dirty: [Bool], pi: [Double], mu: Double, decision: [Int32], warm: Bool,
                                     value: inout [Double], chosen: inout [State]) {
        let nodes = dirty.indices.filter { dirty[$0] }
        let chunks = nodes.count >= 32 ? min(2, ProcessInfo.processInfo.activeProcessorCount) : 1
        var evaluations = [Int](repeating: 0, count: chunks)
        let this = self
        value.withUnsafeMutableBufferPointer { valueBuffer in
            chosen.withUnsafeMutableBufferPointer { chosenBuffer in
                evaluations.withUnsafeMutableBufferPointer { evaluationsBuffer in
                    // Chunk k takes every chunks-th dirty node and writes only those nodes' slots.
                    nonisolated(unsafe) let (valueOut, chosenOut, evaluationsOut) = (valueBuffer, chosenBuffer, evaluationsBuffer)
                    DispatchQueue.concurrentPerform(iterations: chunks) { k in
                        var scratch = Scratch()
                        for index in stride(from: k, to: nodes.count, by: chunks) {
                            let n = nodes[index]
                            let first = this.elementStart[n], last = this.elementStart[n + 1]
                            valueOut[n] = this.solveNode(n, &scratch, pi: pi, mu: mu, decision: decision, override: nil,
                                                         previous: warm ? chosenOut[first..<last] : nil)
                            evaluationsOut[k] += scratch.evaluations
                            for e in first..<last { chosenOut[e] = scratch.best[e - first] == .taken ? .taken : .out }
                        }
                    }
                }
            }
        }
        work += evaluations.reduce(0, +)
    }
}

