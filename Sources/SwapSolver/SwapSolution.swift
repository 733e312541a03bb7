/// A solver's answer for one problem. A failed call (an invalid problem) is a
/// thrown `SwapProblemError`, never a solution.
public struct SwapSolution: Sendable, Equatable {
    public enum Status: String, Sendable {
        /// Proven optimal (within 1e-9 relative).
        case optimal
        /// Feasible; `gap` bounds the relative distance to optimal.
        case feasible
        /// No feasible assignment exists (`reason` says why), or none was found.
        case infeasible
    }

    public var status: Status
    /// The model's objective of `node` and `allocation`; `.nan` when infeasible.
    public var objective: Double
    /// A proven lower bound on the optimum.
    public var lowerBound: Double
    /// Node of each instance (index into the problem's `nodeIDs`).
    public var node: [Int]
    /// New allocation, flat: `allocation[instance * resourceCount + r]`.
    public var allocation: [Double]
    /// Why the problem is infeasible, naming node or instance and resource.
    public var reason: String?
    /// The capacity prices (flat `[node * R + r]`) of the lower bound, when one was computed:
    /// where the next round's bound starts (`SwapWarmStart`).
    public var prices: [Double] = []

    public init(status: Status, objective: Double, lowerBound: Double, node: [Int], allocation: [Double], reason: String? = nil) {
        self.status = status
        self.objective = objective
        self.lowerBound = lowerBound
        self.node = node
        self.allocation = allocation
        self.reason = reason
    }

    /// Relative gap between the objective and the lower bound, 0 when optimal.
    public var gap: Double { Self.gap(objective: objective, lowerBound: lowerBound) }

    /// Relative gap under which a plan counts as proven optimal: HiGHS's `mip_rel_gap` in the
    /// benchmarks, well inside the model's 1e-6.
    public static let optimalityTolerance = 1e-7

    /// The relative gap of an objective and a bound (0 within `optimalityTolerance`, ∞ without a bound).
    public static func gap(objective: Double, lowerBound: Double) -> Double {
        guard objective.isFinite, lowerBound.isFinite else { return .infinity }
        let difference = max(0, objective - lowerBound)
        return difference <= optimalityTolerance * max(1, abs(objective)) ? 0 : difference / max(abs(objective), 1e-12)
    }

    public static func infeasible(_ reason: String, problem: SwapProblem) -> SwapSolution {
        SwapSolution(status: .infeasible, objective: .nan, lowerBound: .infinity,
                     node: problem.node, allocation: problem.allocation, reason: reason)
    }
}
