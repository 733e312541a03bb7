import Testing
@testable import SwapSolver

@Suite("Explanations")
struct ExplanationTests {
    /// One node, cpu only: x is over-provisioned, y and z starve; z weighs 10.
    func problem(capacity: Double) -> SwapProblem {
        SwapProblem(
            resources: ["cpu"], integral: [false], waste: [1], shortfall: [10], change: [0.05],
            maxChange: [4], maxMigrations: 0,
            nodeIDs: ["n1"], capacity: [capacity], reserve: [0],
            instanceIDs: ["x", "y", "z"], node: [0, 0, 0],
            allocation: [6, 2, 1], demand: [2, 12, 5], minimum: [1, 0, 0], maximum: [20, 20, 20],
            weight: [1, 1, 10], locked: [false, false, false], migrationCost: [0, 0, 0], alternatives: [[], [], []])
    }

    @Test func eachChangeSaysWhatBoundIt() throws {
        let p = problem(capacity: 10)
        let solution = SwapSolver().solve(p)
        #expect(solution.status == .optimal)
        #expect(solution.allocation == [2, 3, 5])
        let byInstance = Dictionary(uniqueKeysWithValues: SwapExplanation.explain(p, solution).map { ($0.instance, $0) })
        let x = try #require(byInstance["x"]), y = try #require(byInstance["y"]), z = try #require(byInstance["z"])
        #expect(x.limit == .demand)
        #expect(abs(x.saved - (1 - 0.05) * 4) < 1e-12, "4 cores of waste less, for 4 cores of change")
        #expect(z.limit == .demand)
        #expect(y.limit == .nodeCapacity)
        #expect(abs(y.nodePrice - 9.95) < 1e-12, "one more core for y would save 10 - 0.05")
        #expect(y.old == 2 && y.new == 3 && y.demand == 12)
        #expect(y.json.contains("\"limit\":\"nodeCapacity\""))
    }

    @Test func maxChangeAndMinimumAreNamed() {
        var p = problem(capacity: 30)
        p.demand = [0, 12, 5]
        p.minimum = [3, 0, 0]
        let solution = SwapSolver().solve(p)
        let limits = Dictionary(uniqueKeysWithValues: SwapExplanation.explain(p, solution).map { ($0.instance, $0.limit) })
        #expect(limits["x"] == .slaMinimum, "x shrinks to its minimum 3 (maxChange would allow 2)")
        #expect(limits["y"] == .maxChange, "y grows by the most maxChange allows")
        #expect(solution.allocation == [3, 6, 5])
    }
}
