import Foundation
import Testing
@testable import SwapSolver

/// A valid two-node problem as JSON text; each test breaks one thing.
let validProblem = """
{"version":1,"resources":["cpu","memory","gpu"],"integral":["gpu"],
 "costs":{"waste":{"cpu":1,"memory":0.125,"gpu":8},"shortfall":{"cpu":10,"memory":1.25,"gpu":80},"change":{"cpu":0.05,"memory":0.01,"gpu":0.5}},
 "limits":{"maxChange":{"cpu":4,"memory":16,"gpu":1},"maxMigrations":1},
 "nodes":[{"id":"n1","capacity":{"cpu":8,"memory":32,"gpu":1},"reserve":{"cpu":1,"memory":2,"gpu":0}},
          {"id":"n2","capacity":{"cpu":8,"memory":32,"gpu":0}}],
 "instances":[
  {"id":"a","node":"n1","allocation":{"cpu":4,"memory":8,"gpu":1},"demand":{"cpu":1,"memory":4,"gpu":1},
   "min":{"cpu":1,"memory":2,"gpu":1},"max":{"cpu":8,"memory":16,"gpu":1},"weight":1,"migrationCost":1,"candidates":["n2"]},
  {"id":"b","node":"n1","allocation":{"cpu":2,"memory":8,"gpu":0},"demand":{"cpu":5,"memory":8,"gpu":0},
   "min":{"cpu":1,"memory":4,"gpu":0},"weight":3,"migrationCost":1,"candidates":["n1","n2"]}
 ]}
"""

func decodeError(_ text: String) -> SwapProblemError? {
    do { _ = try SwapProblemDecoding.decode(Data(text.utf8)); return nil } catch { return error }
}

@Suite("Problem validation and infeasibility")
struct ValidationTests {
    @Test func validProblemDecodes() throws {
        let problem = try SwapProblemDecoding.decode(Data(validProblem.utf8))
        #expect(problem.instanceCount == 2)
        #expect(problem.alternatives == [[1], [1]], "the current node is not an alternative")
        #expect(problem.maximum[1 * 3 + 0] == .infinity, "absent max is unbounded")
        #expect(problem.usable(node: 0, 0) == 7)
    }

    @Test(arguments: [
        ("\"node\":\"n1\",\"allocation\":{\"cpu\":2", "\"node\":\"n9\",\"allocation\":{\"cpu\":2", "instances[1] (instance \"b\").node", "unknown node \"n9\""),
        ("\"demand\":{\"cpu\":1,\"memory\":4,\"gpu\":1}", "\"demand\":{\"cpu\":1,\"memory\":4}", "instances[0] (instance \"a\").demand.gpu", "missing resource"),
        ("\"demand\":{\"cpu\":1,", "\"demand\":{\"cpu\":\"NaN\",", "instances[0] (instance \"a\").demand.cpu", "NaN"),
        ("\"capacity\":{\"cpu\":8,\"memory\":32,\"gpu\":0}", "\"capacity\":{\"cpu\":-8,\"memory\":32,\"gpu\":0}", "nodes[1] (node \"n2\").capacity.cpu", "negative"),
        ("\"min\":{\"cpu\":1,\"memory\":2,\"gpu\":1}", "\"min\":{\"cpu\":9,\"memory\":2,\"gpu\":1}", "instances[0] (instance \"a\").min.cpu", "above max"),
        ("\"candidates\":[\"n2\"]", "\"candidates\":[\"n7\"]", "instances[0] (instance \"a\").candidates[0]", "unknown node \"n7\""),
        ("{\"id\":\"b\"", "{\"id\":\"a\"", "instances[1].id", "listed twice"),
        ("\"reserve\":{\"cpu\":1,", "\"reserve\":{\"cpu\":10,", "nodes[0] (node \"n1\").reserve.cpu", "above capacity"),
        ("\"version\":1", "\"version\":2", "version", "unsupported"),
        ("\"weight\":3", "\"weight\":\"heavy\"", "instances[1].weight", "expected"),
        ("\"waste\":{\"cpu\":1,", "\"waste\":{\"disk\":1,\"cpu\":1,", "costs.waste.disk", "unknown resource"),
    ])
    func malformedInputNamesTheField(original: String, broken: String, field: String, message: String) throws {
        #expect(validProblem.contains(original))
        let error = try #require(decodeError(validProblem.replacingOccurrences(of: original, with: broken)))
        #expect(error.field == field, "\(error)")
        #expect(error.message.contains(message), "\(error)")
    }

    @Test func bareNaNIsRejectedAsInvalidJSON() throws {
        let error = try #require(decodeError(validProblem.replacingOccurrences(of: "\"demand\":{\"cpu\":1,", with: "\"demand\":{\"cpu\":NaN,")))
        #expect(error.message.contains("not valid JSON"), "\(error)")
    }

    @Test func lockedOutsideItsSLAIsInfeasibleNamingTheInstance() throws {
        var problem = try SwapProblemDecoding.decode(Data(validProblem.utf8))
        problem.locked[0] = true
        problem.minimum[0] = 5
        problem.maximum[0] = 8
        let solution = SwapSolver().solve(problem)
        #expect(solution.status == .infeasible)
        #expect(solution.reason?.contains("instance a cpu") == true, "\(solution.reason ?? "")")
    }

    @Test func minimumsAboveCapacityAreInfeasibleNamingTheNode() throws {
        var problem = try SwapProblemDecoding.decode(Data(validProblem.utf8))
        problem.maxMigrations = 0
        problem.minimum[0 * 3 + 1] = 8
        problem.minimum[1 * 3 + 1] = 24      // memory: 8 + 24 > 32 - 2
        problem.allocation[1 * 3 + 1] = 24
        let solution = SwapSolver().solve(problem)
        #expect(solution.status == .infeasible)
        #expect(solution.reason?.contains("node n1 memory") == true, "\(solution.reason ?? "")")
        #expect(solution.objective.isNaN)
    }

    @Test func anOverloadedStartIsFixedByMigrating() throws {
        var problem = try SwapProblemDecoding.decode(Data(validProblem.utf8))
        problem.minimum[0 * 3 + 1] = 8       // memory: a 8 + b 24 > 32 - 2 on n1
        problem.minimum[1 * 3 + 1] = 24
        problem.allocation[1 * 3 + 1] = 24
        problem.maximum[1 * 3 + 1] = 32
        #expect(FixedSolver.solve(problem).status == .infeasible, "staying put cannot fit n1")
        let solution = SwapSolver().solve(problem)
        #expect(solution.status == .optimal)
        #expect(solution.node[1] == 1, "b moves to n2")
        #expect(SolutionChecker.check(problem, node: solution.node, allocation: solution.allocation).isFeasible)
    }

    @Test func aStartOverCapacityCanShrinkBackWithin() throws {
        var problem = try SwapProblemDecoding.decode(Data(validProblem.utf8))
        problem.maxMigrations = 0
        problem.allocation[1 * 3 + 0] = 6       // a 4 + b 6 = 10 cores > 7 usable
        let solution = SwapSolver().solve(problem)
        #expect(solution.status == .optimal)
        #expect(solution.allocation[0] + solution.allocation[3] <= 7 + 1e-9)
    }
}

@Suite("Solution checker")
struct SolutionCheckerTests {
    @Test func findsEveryKindOfViolation() throws {
        var problem = try SwapProblemDecoding.decode(Data(validProblem.utf8))
        problem.locked[1] = true
        problem.maxMigrations = 0
        var allocation = problem.allocation
        allocation[0] = 0.5         // a cpu below min 1
        allocation[2] = 0.5         // a gpu not whole, and below min
        allocation[1] = 30          // a memory above max 16 and change above 16
        allocation[3] = 3           // b locked, changed
        problem.alternatives[1] = []
        let check = SolutionChecker.check(problem, node: [1, 1], allocation: allocation)
        let text = check.violations.joined(separator: "\n")
        for expected in ["a cpu: 0.5 below SLA minimum", "a gpu: 0.5 is not whole", "a memory: 30.0 above maximum",
                         "exceeds maxChange", "b: locked, but moved", "b cpu: locked at 2.0", "migrations, the budget is 0",
                         "node n2 gpu", "b: node n2 is not among"] {
            #expect(text.contains(expected), "missing \"\(expected)\" in:\n\(text)")
        }
    }

    @Test func recomputesTheObjectiveByHand() throws {
        let problem = try SwapProblemDecoding.decode(Data(validProblem.utf8))
        var allocation = problem.allocation
        allocation[0] = 1           // a cpu: demand 1, was 4
        let check = SolutionChecker.check(problem, node: [0, 0], allocation: allocation)
        // a: cpu 0.05·3; memory waste 0.125·4; gpu 0.  b: cpu shortfall 3·10·3; memory 0.
        #expect(check.isFeasible)
        #expect(abs(check.objective - (0.15 + 0.5 + 90)) < 1e-12)
    }
}

@Suite("Unbounded limits")
struct UnboundedLimitTests {
    @Test func absentMaxAndMaxChangeMeanUnbounded() throws {
        let text = #"{"version":1,"resources":["cpu"],"costs":{"waste":{"cpu":1},"shortfall":{"cpu":10},"change":{"cpu":0.05}},"nodes":[{"id":"n1","capacity":{"cpu":10}}],"instances":[{"id":"i","node":"n1","allocation":{"cpu":2},"demand":{"cpu":5}}]}"#
        let problem = try SwapProblemDecoding.decode(Data(text.utf8))
        let solution = SwapSolver().solve(problem)
        #expect(solution.status == .optimal)
        #expect(solution.allocation == [5])
        #expect(abs(solution.objective - 0.15) < 1e-12, "3 cores of change at 0.05")
    }

    @Test func escapedIDsAndSurrogatePairsStayDistinct() throws {
        var text = validProblem.replacingOccurrences(of: "{\"id\":\"a\"", with: #"{"\u0069d":"a\ud83d\ude00""#)
        text = text.replacingOccurrences(of: "{\"id\":\"b\"", with: #"{"id":"a\ud83d\ude01""#)
        let problem = try SwapProblemDecoding.decode(Data(text.utf8))
        #expect(problem.instanceIDs == ["a😀", "a😁"])
    }
}

@Suite("Overloaded starts")
struct OverloadedStartTests {
    /// The reviewer's case: x and y (7 cores each) on A (12), z (5) on B (10). No single
    /// move fits, but x → B with z → A does.
    @Test func aPairOfMovesRepairsAStartNoSingleMoveCan() {
        let problem = SwapProblem(
            resources: ["cpu"], integral: [false], waste: [1], shortfall: [10], change: [0.05],
            maxChange: [.infinity], maxMigrations: 2,
            nodeIDs: ["A", "B"], capacity: [12, 10], reserve: [0, 0],
            instanceIDs: ["x", "y", "z"], node: [0, 0, 1],
            allocation: [7, 7, 5], demand: [7, 7, 5], minimum: [7, 7, 5], maximum: [7, 7, 5],
            weight: [1, 1, 1], locked: [false, false, false], migrationCost: [1, 1, 1], alternatives: [[1], [1], [0]])
        var local = SwapSolver()
        local.exhaustiveLimit = 0
        let solution = local.solve(problem)
        #expect(solution.status != .infeasible, "\(solution.reason ?? "")")
        #expect(SolutionChecker.check(problem, node: solution.node, allocation: solution.allocation).isFeasible)
        #expect(SwapSolver().solve(problem).objective == 2, "exhaustive: two migrations at cost 1")
    }
}
