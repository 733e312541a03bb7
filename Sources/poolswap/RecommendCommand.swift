import ArgumentParser
import Drivers
import Foundation
import SwapSolver

struct RecommendCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recommend",
        abstract: "Solve a swap problem (swap-problem.md, version 1) and write its solution.",
        discussion: """
            Nobody can move (no candidates or no migration budget): solved exactly. With migrations: \
            exhaustive when the move sets are few, otherwise local search with a Lagrangian lower \
            bound, reported as the certified gap, then an iterated search that improves the plan \
            until the time limit, the work limit or 1,000 rounds in a row without improvement, \
            then a branch and bound on the migrations that tries to prove the plan optimal. \
            Every solution is re-checked by an independent checker before it is written. Timing \
            goes to stderr.
            """)

    @Option(name: .long, help: "The problem file (JSON, or gzip-compressed JSON).")
    var input: String

    @Option(name: .long, help: "Write the solution here instead of to stdout.")
    var output: String?

    @Option(name: .long, help: "Seconds the search may take before it returns its best solution with its gap.")
    var timeLimit: Double = 10

    @Flag(name: .long, help: "Add an explanation of every change: demand, old and new allocation, cost saved, binding limit.")
    var explain = false

    @Option(name: .long, help: "Check this solution file against the problem instead of solving.")
    var check: String?

    @Option(name: .long, help: "Write the search's trajectory here as CSV (seconds, work, phase, objective, bound, gap): what more time buys.")
    var trace: String?

    @Option(name: .long, help: "Stop after this much work (instances whose moves are weighed, then node-cost evaluations of the bound by node decomposition): the same plan and bound on any machine, unless the time limit comes first.")
    var workLimit: Int?

    @Option(name: .long, help: "Work the branch and bound may spend trying to prove the plan optimal, as a multiple of the searches' work (default 50; 0: none, the node-decomposition bound before it still runs). Warm re-solves run no branch and bound.")
    var proofEffort: Int?

    @Option(name: .long, help: "Seed of the iterated search.")
    var seed: UInt64 = 1

    @Option(name: .long, help: "Measure an incremental re-solve: after the solve, give this fraction of the instances new demands (seeded) and solve again, warm-started from the first solution and cold; both go to stderr.")
    var resolveAfterChange: Double?

    #if Cbc
    @Flag(name: .long, help: "Solve with COIN-OR Cbc's MILP instead (build with --traits Cbc), for comparison.")
    var cbc = false
    #endif

    func validate() throws {
        guard timeLimit.isFinite, timeLimit > 0 else { throw ValidationError("--time-limit must be a positive number of seconds, not \(timeLimit)") }
        if let workLimit, workLimit <= 0 { throw ValidationError("--work-limit must be positive, not \(workLimit)") }
        if let proofEffort, proofEffort < 0 { throw ValidationError("--proof-effort must be 0 or more, not \(proofEffort)") }
        if check != nil, trace != nil || workLimit != nil || resolveAfterChange != nil || proofEffort != nil {
            throw ValidationError("--check only checks: --trace, --work-limit, --proof-effort and --resolve-after-change are for a solve")
        }
        if let resolveAfterChange, !(resolveAfterChange > 0 && resolveAfterChange <= 1) {
            throw ValidationError("--resolve-after-change must be a fraction in (0, 1], not \(resolveAfterChange)")
        }
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
        var solver = SwapSolver()
        solver.workLimit = workLimit
        if let proofEffort { solver.proofEffort = proofEffort }
        solver.seed = seed
        var trajectory = "seconds,work,phase,objective,bound,gap\n"
        func record(_ step: SwapSolver.Progress) {
            let gap = SwapSolution.gap(objective: step.objective, lowerBound: step.bound)
            trajectory += String(format: "%.6f,%ld,%@,%.9g,%.9g,%.6g\n", (clock.now - parsed) / .seconds(1), step.work,
                                 step.phase.rawValue, step.objective, step.bound, gap)
        }
        let solution: SwapSolution
        #if Cbc
        if cbc {
            var solver = CbcSolver()
            solver.timeLimit = timeLimit
            solution = solver.solve(problem)
        } else {
            solution = solver.solve(problem, shouldStop: { clock.now >= deadline }, progress: record)
        }
        #else
        solution = solver.solve(problem, shouldStop: { clock.now >= deadline }, progress: record)
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
        if let trace {
            do { try trajectory.write(toFile: trace, atomically: true, encoding: .utf8) }
            catch { throw ValidationError("cannot write \(trace): \(error.localizedDescription)") }
        }
        let explanations = explain ? SwapExplanation.explain(problem, solution) : nil
        let text = SwapSolutionCoding.encode(solution, problem: problem, explanations: explanations)
        if let output {
            do { try text.write(toFile: output, atomically: true, encoding: .utf8) }
            catch { throw ValidationError("cannot write \(output): \(error.localizedDescription)") }
        } else {
            print(text, terminator: "")
        }
        let written = clock.now
        func ms(_ d: Duration) -> String { String(format: "%.1f ms", d / .milliseconds(1)) }
        var summary = "\(solution.status.rawValue): objective \(checkedObjective)"
        if solution.status == .feasible { summary += ", lower bound \(solution.lowerBound), gap \(String(format: "%.4f%%", solution.gap * 100))" }
        if let reason = solution.reason { summary += ", \(reason)" }
        FileHandle.standardError.write(Data("""
            \(summary)
            \(problem.nodeCount) nodes, \(problem.instanceCount) instances; parse \(ms(parsed - started)), solve \(ms(solved - parsed)), check \(ms(checked - solved)), write \(ms(written - checked)), total \(ms(written - started))

            """.utf8))
        if let resolveAfterChange, solution.status != .infeasible {
            try resolve(problem, after: solution, changing: resolveAfterChange, solver: solver)
        }
        if solution.status == .infeasible { throw ExitCode(2) }
    }

    /// Reads a file, gzip-compressed or not.
    private func read<T>(_ path: String, _ decode: (Data) throws(SwapProblemError) -> T) throws -> T {
        let bytes: [UInt8]
        do { bytes = try CompressedFile.read(path) }
        catch { throw ValidationError("cannot read \(path): \(error.message)") }
        do { return try decode(Data(bytes)) }
        catch { throw ValidationError("\(path): \(error)") }
    }
}
