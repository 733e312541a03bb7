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
/// priced costs, so L starts at least as high as that bound; it then follows subgradient steps,
/// and only nodes whose prices changed are solved again.
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

    /// Node-cost evaluations so far (the work unit: each weighs a node's instances, about what
    /// weighing one instance's moves costs the search).
    private(set) var work = 0
    /// The steps stop once `work` passes this.
    var workLimit = Int.max
    /// Most cost evaluations one node's search may take; past it the node gives a lower bound
    /// of its minimum instead of the minimum.
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
        var order: [Int] = []
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
                    order += Int(curves.segmentStart[k])..<Int(curves.segmentStart[k + 1])
                }
                order.sort { curves.slope[$0] < curves.slope[$1] }
                for s in order {
                    segmentSlope.append(curves.slope[s])
                    segmentLength.append(curves.length[s])
                }
                // Owners: find each segment's element again (segments are few per instance).
                for s in order {
                    var e = start
                    while !(s >= Int(curves.segmentStart[Int(element[e]) * R + r])
                            && s < Int(curves.segmentStart[Int(element[e]) * R + r + 1])) { e += 1 }
                    segmentOwner.append(Int32(e - start))
                }
                segmentStart.append(segmentSlope.count)
            }
        }
    }

    // MARK: One node's minimum

    /// Search state of one node's elements: taken (in L), left out (not in U), or open.
    private enum State: UInt8 { case out = 0, taken = 1, open = 2 }

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
        s.state = Array(repeating: .open, count: count)
        s.marginal = Array(repeating: 0, count: count)
        s.best = Array(repeating: .out, count: count)
        s.bestValue = .infinity
        s.unfinished = .infinity
        s.evaluations = 0
        s.undo.removeAll(keepingCapacity: true)
        if let previous {
            // The last choice, priced anew, is a first incumbent to prune against.
            for e in 0..<count { s.state[e] = previous[previous.startIndex + e] }
            s.bestValue = value(n, &s, open: false, flip: -1)
            s.best = s.state
            for e in 0..<count { s.state[e] = .open }
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
        for r in 0..<R { s.lambda[r] = 0 }
        // Priced cost of element e with resource r at `price`, the others at s.lambda.
        func capacity(_ r: Int) -> Double {
            let nr = n * R + r, u = usable[nr]
            return problem.integral[r] ? (u + NodeBook.tolerance(u)).rounded(.down) : u
        }
        func priced(_ e: Int, _ r0: Int, _ price: Double) -> (cost: Double, amount: Double) {
            var cost = s.weight[e], amount = 0.0
            let i = Int(element[first + e])
            for r in 0..<R {
                let (c, a) = curves.cheapest(i * R + r, price: r == r0 ? price : s.lambda[r])
                cost += c
                if r == r0 { amount = a }
            }
            return (cost, amount)
        }
        for _ in 0..<2 {
            for r in 0..<R {
                // Slope in λ_r: the allocations of the taken and the active open, less capacity.
                func slope(_ price: Double) -> Double {
                    var total = -capacity(r)
                    for e in 0..<count where s.state[e] != .out {
                        let (c, a) = priced(e, r, price)
                        if s.state[e] == .taken || c < 0 { total += a }
                    }
                    return total
                }
                var low = 0.0, high = 0.0
                for k in segmentStart[n * R + r]..<segmentStart[n * R + r + 1] { high = max(high, -segmentSlope[k]) }
                if slope(0) <= 0 { s.lambda[r] = 0; continue }
                if slope(high) > 0 { s.lambda[r] = NodeBook.overloadPenalty; continue }
                for _ in 0..<40 {
                    let mid = 0.5 * (low + high)
                    if slope(mid) > 0 { low = mid } else { high = mid }
                }
                s.lambda[r] = high
            }
        }
        var total = 0.0
        for r in 0..<R { total -= s.lambda[r] * capacity(r) }
        for e in 0..<count where s.state[e] != .out {
            let h = priced(e, 0, s.lambda[0]).cost
            s.marginal[e] = h
            total += s.state[e] == .taken ? h : min(0, h)
        }
        s.evaluations += 2 * R * 42
        return total
    }

    /// The instances that may sit on node `n`, its own first.
    func elements(of n: Int) -> ArraySlice<Int32> { element[elementStart[n]..<elementStart[n + 1]] }

    /// min over Y ⊆ `elements(of: n)` of C_n(Y) + Σ_Y weights (one weight per element), and
    /// whether the search finished (else a lower bound).
    func nodeMinimum(_ n: Int, weights: [Double]) -> (value: Double, exact: Bool) {
        var scratch = Scratch()
        scratch.weight = weights
        let value = minimise(n, &scratch, previous: nil)
        return (value, scratch.unfinished == .infinity)
    }

    // MARK: The dual

    /// The best bound found in at most `iterations` subgradient steps, starting from the priced
    /// costs of a capacity relaxation (`relaxation`, evaluated at any capacity prices; without
    /// decisions), towards `upper`.
    mutating func maximise(from relaxation: LagrangianBound.Relaxation, target upper: Double, iterations: Int,
                           shouldStop: () -> Bool) -> Double {
        let p = problem, I = p.instanceCount, N = p.nodeCount
        let budget = p.maxMigrations
        var mu = relaxation.takenMargin
        var pi = (0..<I).map { min(relaxation.stay[$0], relaxation.alternative[$0] + mu) }
        var value = Array(repeating: 0.0, count: N)
        var chosen = Array(repeating: State.out, count: element.count)
        var count = Array(repeating: 0, count: I)
        var dirty = Array(repeating: true, count: N)
        var scratch = Scratch()
        var best = -Double.infinity, step = 1.0, sinceImprovement = 0
        for _ in 0..<iterations {
            if shouldStop() || work >= workLimit { break }
            var moves = 0
            for n in 0..<N {
                let first = elementStart[n], last = elementStart[n + 1]
                if dirty[n] {
                    scratch.weight = (first..<last).map { e in
                        (guest[e] ? p.migrationCost[Int(element[e])] + mu : 0) - pi[Int(element[e])]
                    }
                    value[n] = minimise(n, &scratch, previous: best == -.infinity ? nil : chosen[first..<last])
                    work += scratch.evaluations
                    for e in first..<last {
                        let now = scratch.best[e - first] == .taken ? State.taken : .out
                        if chosen[e] != now { count[Int(element[e])] += now == .taken ? 1 : -1 }
                        chosen[e] = now
                    }
                    dirty[n] = false
                }
                for e in first..<last where guest[e] && chosen[e] == .taken { moves += 1 }
            }
            var total = -mu * Double(budget)
            for i in 0..<I { total += pi[i] }
            for n in 0..<N { total += value[n] }
            if best == -.infinity || total > best + 1e-12 * max(1, abs(best)) {
                best = total; sinceImprovement = 0
            } else {
                sinceImprovement += 1
                if sinceImprovement >= 5 { step *= 0.5; sinceImprovement = 0 }
            }
            if upper - best <= 1e-9 * max(1, abs(upper)) || step < 1e-4 { break }
            var norm = 0.0
            for i in 0..<I { let g = Double(1 - count[i]); norm += g * g }
            var muGradient = Double(moves - budget)
            if mu <= 0 && muGradient < 0 { muGradient = 0 }
            norm += muGradient * muGradient
            guard norm > 0 else { break }
            let t = step * (upper - total) / norm
            for i in 0..<I where count[i] != 1 {
                pi[i] += t * Double(1 - count[i])
                dirty[p.node[i]] = true
                if !p.locked[i], budget > 0 { for q in p.alternatives[i] { dirty[q] = true } }
            }
            if muGradient != 0 {
                mu = max(0, mu + t * muGradient)
                for n in 0..<N where elementStart[n + 1] > elementStart[n] && guest[elementStart[n + 1] - 1] { dirty[n] = true }
            }
        }
        return best
    }
}

