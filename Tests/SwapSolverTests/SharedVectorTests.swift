import Foundation
import Testing
@testable import SwapSolver

let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

func loadProblem(_ name: String) throws -> SwapProblem {
    try SwapProblemDecoding.decode(Data(contentsOf: fixtures.appendingPathComponent("\(name).problem.json")))
}

func referenceObjective(_ name: String) throws -> Double {
    let data = try Data(contentsOf: fixtures.appendingPathComponent("\(name).highs.json"))
    let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    return try #require(object["objective"] as? Double)
}

@Suite("Shared test vectors (HiGHS references, proven optimal)")
struct SharedVectorTests {
    @Test(arguments: ["tiny-fixed", "tiny-mig", "small-fixed", "small-mig", "medium-fixed"])
    func reproducesTheReferenceOptimum(name: String) throws {
        let problem = try loadProblem(name)
        let reference = try referenceObjective(name)
        let solution = SwapSolver().solve(problem)
        #expect(solution.status == .optimal)
        let check = SolutionChecker.check(problem, node: solution.node, allocation: solution.allocation)
        #expect(check.violations == [])
        #expect(abs(check.objective - reference) <= 1e-6 * reference, "checker \(check.objective), HiGHS \(reference)")
        #expect(abs(solution.objective - check.objective) <= 1e-9 * reference)
    }

    @Test(arguments: ["tiny-fixed", "tiny-mig", "small-fixed", "small-mig", "medium-fixed"])
    func checkerAgreesWithTheReferenceSolution(name: String) throws {
        let problem = try loadProblem(name)
        let data = try Data(contentsOf: fixtures.appendingPathComponent("\(name).highs.json"))
        let (node, allocation) = try SwapSolutionCoding.decode(data, problem: problem)
        let check = SolutionChecker.check(problem, node: node, allocation: allocation)
        #expect(check.violations == [])
        #expect(abs(check.objective - (try referenceObjective(name))) <= 1e-6 * check.objective)
    }

    @Test func localSearchFindsTheMigrationOptimumAndBoundsIt() throws {
        let problem = try loadProblem("small-mig")
        var solver = SwapSolver()
        solver.exhaustiveLimit = 0
        let solution = solver.solve(problem)
        let reference = try referenceObjective("small-mig")
        #expect(solution.lowerBound <= reference + 1e-6)
        #expect(solution.objective >= reference - 1e-6)
        #expect(solution.objective <= reference * 1.01, "local search within 1% of the optimum")
    }

    @Test func solutionFileRoundTrips() throws {
        let problem = try loadProblem("small-mig")
        let solution = SwapSolver().solve(problem)
        let text = SwapSolutionCoding.encode(solution, problem: problem, explanations: SwapExplanation.explain(problem, solution))
        let (node, allocation) = try SwapSolutionCoding.decode(Data(text.utf8), problem: problem)
        #expect(node == solution.node)
        #expect(allocation == solution.allocation)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(object["status"] as? String == "optimal")
        #expect((object["explanations"] as? [Any])?.isEmpty == false)
    }
}
