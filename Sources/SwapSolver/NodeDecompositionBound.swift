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
    private let usable: [Double]

    /// Work so far, in node-cost evaluations (each weighs every instance that may sit on a node,
    /// over every resource); a slope evaluation of the price bound (one resource) counts as one
    /// too, and a plan costed exactly as one per node.
    private(set) var work = 0
    /// The steps stop once `work` passes this.
    var workLimit = Int.max

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
                let tolerance = NodeBook.tolerance(usable[nr])
                var remaining = usable[nr] - low
                if problem.integral[r] { remaining = (remaining + tolerance).rounded(.down) }
                if remaining < -tolerance { total += base + NodeBook.overloadPenalty * -remaining; continue }
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

    /// The least C_n(Y) + Σ_Y weight over all Y ⊆ E_n with `s.weight` set: exact, or a lower
    /// bound when the search outgrew `nodeEvaluationLimit`. The best Y found is left in `s.best`.
    private func minimise(_ n: Int, _ s: inout Scratch, previous: ArraySlice<State>?) -> Double {
        let count = elementStart[n + 1] - elementStart[n]
        if s.start.count != count { s.start = Array(repeating: .open, count: count) }
        s.state = s.start
        s.marginal = Array(repeating: 0, count: count)
        // Until a leaf is reached the choice is the decided instances alone.
        s.best = s.start.map { $0 == .taken ? .taken : .out }
        s.bestValue = .infinity
        s.unfinished = .infinity
        s.evaluations = 0
        s.undo.removeAll(keepingCapacity: true)
        if let previous, (0..<count).allSatisfy({ s.start[$0] == .open || s.start[$0] == previous[previous.startIndex + $0] }) {
            // The last choice, priced anew, is a first incumbent to prune against.
            for e in 0..<count { s.state[e] = previous[previous.startIndex + e] }
            s.bestValue = value(n, &s, open: false, flip: -1)
            s.best = s.state
            s.state = s.start
        }
        search(n, &s)
        return min(s.bestValue, s.unfinished)
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
            let withOpen = value(n, &s, open: true, flip: -1)
            let taken = value(n, &s, open: false, flip: -1)
            var changed = false
            lower = taken
            var upperSide = withOpen
            branch = -1
            var steepest = Double.infinity
            for e in 0..<count where s.state[e] == .open {
                let add = value(n, &s, open: false, flip: e) - taken
                let last = withOpen - value(n, &s, open: true, flip: e)
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
            if lower < s.bestValue { s.bestValue = lower; s.best = s.state }
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
        func capacity(_ r: Int) -> Double {
            let u = usable[n * R + r]
            return problem.integral[r] ? (u + NodeBook.tolerance(u)).rounded(.down) : u
        }
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
        let value = search.minimise(n, &scratch, previous: nil)
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
        dual.dirty[problem.node[i]] = true
        if !problem.locked[i], problem.maxMigrations > 0 { for q in problem.alternatives[i] { dual.dirty[q] = true } }
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

    /// At most `iterations` subgradient steps towards `upper`; `dual` is left at the best bound
    /// found, which is returned.
    mutating func ascend(_ dual: inout Dual, target upper: Double, iterations: Int, initialStep: Double = 1,
                         shouldStop: () -> Bool) -> Double {
        let p = problem, I = p.instanceCount, N = p.nodeCount
        let budget = p.maxMigrations
        var best: Dual? = nil
        var step = initialStep, sinceImprovement = 0
        for _ in 0..<iterations {
            if shouldStop() || work >= workLimit { break }
            evaluate(&dual)
            if let b = best, dual.bound <= b.bound + 1e-12 * max(1, abs(b.bound)) {
                sinceImprovement += 1
                if sinceImprovement >= 5 { step *= 0.5; sinceImprovement = 0 }
            } else {
                best = dual; sinceImprovement = 0
            }
            if let b = best, upper - b.bound <= SwapSolution.optimalityTolerance * max(1, abs(upper)) { break }
            if step < 1e-4 { break }
            var norm = 0.0
            for i in 0..<I { let g = Double(1 - dual.count[i]); norm += g * g }
            var muGradient = Double(dual.moves - budget)
            if dual.mu <= 0 && muGradient < 0 { muGradient = 0 }
            norm += muGradient * muGradient
            guard norm > 0 else { break }
            let t = step * (upper - dual.bound) / norm
            for i in 0..<I where dual.count[i] != 1 {
                dual.pi[i] += t * Double(1 - dual.count[i])
                touch(i, &dual)
            }
            if muGradient != 0 {
                dual.mu = max(0, dual.mu + t * muGradient)
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
        s.weight = (first..<last).map { e in
            let i = Int(element[e])
            return (guest[e] ? problem.migrationCost[i] + mu : 0) - pi[i]
        }
        s.start = (first..<last).map { e in
            let i = Int(element[e])
            let d = override.map { $0.instance == i ? $0.decision : decision[i] } ?? decision[i]
            if d == LagrangianBound.free { return .open }
            if d == LagrangianBound.away { return guest[e] ? .open : .out }
            return Int(d) == n ? .taken : .out
        }
        let warm = previous.map { Array($0)[...] }
        return minimise(n, &s, previous: warm)
    }

    /// The bound `dual` would have with instance `i`'s decision `d`: only i's nodes are solved
    /// again, at the same prices (so it is a valid bound of that branch). `dual` must be evaluated.
    mutating func probe(_ i: Int, _ d: Int32, in dual: inout Dual) -> Double {
        var total = dual.bound
        var scratch = Scratch()
        var nodes = [problem.node[i]]
        if !problem.locked[i], problem.maxMigrations > 0 { nodes += problem.alternatives[i] }
        dual.chosen.withUnsafeMutableBufferPointer { chosen in
            for n in nodes {
                let v = solveNode(n, &scratch, pi: dual.pi, mu: dual.mu, decision: dual.decision, override: (i, d),
                                  previous: chosen[elementStart[n]..<elementStart[n + 1]])
                total += v - dual.value[n]
                work += scratch.evaluations
            }
        }
        return total
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

