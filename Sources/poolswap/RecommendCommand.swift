import ArgumentParser
import Foundation
import SwapSolver

struct RecommendCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recommend",
        abstract: "Solve a swap problem (swap-problem.md, version 1) and write its solution.",
        discussion: """
            Nobody can move (no candidates or no migration budget): solved exactly. With migrations: \
            exhaustive when the move sets are few, otherwise local search with a Lagrangian lower \
            bound, reported as the certified gap. Every solution is re-checked by an independent \
            checker before it is written. Timing goes to stderr.
            """)

    @Option(name: .long, help: "The problem file (JSON).")
    var input: String

    @Option(name: .long, help: "Write the solution here instead of to stdout.")
    var output: String?

    @Option(name: .long, help: "Seconds the search may take before it returns its best solution with its gap.")
    var timeLimit: Double = 10

    @Flag(name: .long, help: "Add an explanation of every change: demand, old and new allocation, cost saved, binding limit.")
    var explain = false

    @Option(name: .long, help: "Check this solution file against the problem instead of solving.")
    var check: String?

    #if Cbc
    @Flag(name: .long, help: "Solve with COIN-OR Cbc's MILP instead (build with --traits Cbc), for comparison.")
    var cbc = false
    #endif

    func validate() throws {
        guard timeLimit.isFinite, timeLimit > 0 else { throw ValidationError("--time-limit must be a positive number of seconds, not \(timeLimit)") }
    }

    func run() throws {
        let clock = ContinuousClock()
        let started = clock.now
        let problem = try read(input) { data throws(SwapProblemError) in try SwapProblemDecoding.decode(data) }
        let parsed = clock.now
        if let check {
            let (node, allocation) = try read(check) { data throws(SwapProblemError) in
                try SwapSolutionCoding.decode(data, problem: problem)
            }
            let report = SolutionChecker.check(problem, node: node, allocation: allocation)
            print("objective \(report.objective), \(report.migrations) migrations")
            guard report.isFeasible else {
                for violation in report.violations { print("violation: \(violation)") }
                throw ExitCode(1)
            }
            print("feasible")
            return
        }
        let deadline = started.advanced(by: .seconds(timeLimit))
        let solution: SwapSolution
        #if Cbc
        if cbc {
            var solver = CbcSolver()
            solver.timeLimit = timeLimit
            solution = solver.solve(problem)
        } else {
            solution = SwapSolver().solve(problem) { clock.now >= deadline }
        }
        #else
        solution = SwapSolver().solve(problem) { clock.now >= deadline }
        #endif
        let solved = clock.now
        var checkedObjective = Double.nan
        if solution.status != .infeasible {
            let report = SolutionChecker.check(problem, node: solution.node, allocation: solution.allocation)
            guard report.isFeasible else {
                throw ValidationError("internal error: the solver's solution fails the checker: \(report.violations.prefix(3).joined(separator: "; "))")
            }
            let difference = abs(report.objective - solution.objective)
            guard difference <= 1e-6 * max(1, abs(report.objective)) else {
                throw ValidationError("internal error: solver objective \(solution.objective), checker \(report.objective)")
            }
            checkedObjective = report.objective
        }
        let checked = clock.now
        let explanations = explain ? SwapExplanation.explain(problem, solution) : nil
        let text = SwapSolutionCoding.encode(solution, problem: problem, explanations: explanations)
        if let output {
            do { try text.write(toFile: output, atomically: true, encoding: .utf8) }
            catch { throw ValidationError("cannot write \(output): \(error.localizedDescription)") }
        } else {
            print(text, terminator: "")
        }
        let written = clock.now
        func ms(_ d: Duration) -> String { String(format: "%.1f ms", Double(d.components.seconds) * 1e3 + Double(d.components.attoseconds) * 1e-15) }
        var summary = "\(solution.status.rawValue): objective \(checkedObjective)"
        if solution.status == .feasible { summary += ", lower bound \(solution.lowerBound), gap \(String(format: "%.4f%%", solution.gap * 100))" }
        if let reason = solution.reason { summary += ", \(reason)" }
        FileHandle.standardError.write(Data("""
            \(summary)
            \(problem.nodeCount) nodes, \(problem.instanceCount) instances; parse \(ms(parsed - started)), solve \(ms(solved - parsed)), check \(ms(checked - solved)), write \(ms(written - checked)), total \(ms(written - started))

            """.utf8))
        if solution.status == .infeasible { throw ExitCode(2) }
    }

    private func read<T>(_ path: String, _ decode: (Data) throws(SwapProblemError) -> T) throws -> T {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("cannot read \(path)")
        }
        do { return try decode(data) }
        catch { throw ValidationError("\(path): \(error)") }
    }
}
