import ArgumentParser
import Drivers
import Foundation
import PoolCore
import Simulation

struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Replay a usage trace through a pool under allocation policies and compare slack, shortfall and changes.",
        discussion: "Policies: \(PolicyName.allCases.map(\.rawValue).joined(separator: ", ")).")

    @OptionGroup var source: TraceSource

    @Option(name: .long, help: "Comma-separated policies to compare.")
    var policy: String = PolicyName.allCases.map(\.rawValue).joined(separator: ",")

    @Option(name: .long, help: "Cores per node.")
    var nodeCPU: Double = PoolShape().nodeCapacity.cpu
    @Option(name: .long, help: "GiB of memory per node.")
    var nodeMemory: Double = PoolShape().nodeCapacity.memory
    @Option(name: .long, help: "GPU devices per node.")
    var nodeGPU: Double = PoolShape().nodeCapacity.gpu
    @Option(name: .long, help: "Cores each node keeps for itself.")
    var reserveCPU: Double = PoolShape().nodeReserve.cpu
    @Option(name: .long, help: "GiB of memory each node keeps for itself.")
    var reserveMemory: Double = PoolShape().nodeReserve.memory
    @Option(name: .long, help: "Fraction (0...1) of each instance's first provisioned allocation guaranteed by its SLA.")
    var slaMinimum: Double = PoolShape().minimumFraction

    @Flag(name: .long, help: "Print JSON instead of a table.")
    var json = false

    @Option(name: .long, help: "Also write an SVG chart of slack, shortfall and pool allocation over time to this file.")
    var svg: String?

    func validate() throws {
        _ = try policies()
        for (name, value) in [("--node-cpu", nodeCPU), ("--node-memory", nodeMemory), ("--node-gpu", nodeGPU),
                              ("--reserve-cpu", reserveCPU), ("--reserve-memory", reserveMemory)] where !(value.isFinite && value >= 0) {
            throw ValidationError("\(name) must be a finite amount of at least 0, not \(value)")
        }
    }

    func policies() throws -> [PolicyName] {
        let names = policy.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard !names.isEmpty else { throw ValidationError("--policy names no policy") }
        return try names.map { name in
            guard let known = PolicyName(rawValue: name) else {
                throw ValidationError("unknown policy '\(name)'; the policies are \(PolicyName.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return known
        }
    }

    func run() throws {
        let started = ContinuousClock.now
        let (trace, report) = try source.load()
        let loaded = ContinuousClock.now
        guard !trace.instances.isEmpty else { throw ValidationError("\(source.name) holds no samples") }
        let shape = PoolShape(
            nodeCapacity: ResourceVector(cpu: nodeCPU, memory: nodeMemory, gpu: nodeGPU),
            nodeReserve: ResourceVector(cpu: reserveCPU, memory: reserveMemory),
            minimumFraction: slaMinimum)
        let pool = try shape.buildPool(for: trace)
        let simulator = Simulator(trace: trace, pool: pool)
        let chosen = try policies()
        let results = parallelMap(chosen.count) { chosen[$0].run(on: simulator) }
        let finished = ContinuousClock.now
        let summary = SimulationSummary(
            source: source.name, trace: trace, report: report, pool: pool, shape: shape, results: results,
            readTime: loaded - started, simulateTime: finished - loaded)
        if json {
            print(try summary.json())
        } else {
            print(summary.table())
        }
        if let svg {
            let chart = SimulationChart(results: results, origin: trace.origin).svg()
            do {
                try chart.write(toFile: svg, atomically: true, encoding: .utf8)
            } catch {
                throw ValidationError("cannot write the chart to \(svg): \(error.localizedDescription)")
            }
        }
    }
}

/// The policies the simulator knows by name. A new policy is one new type and one case here.
enum PolicyName: String, CaseIterable {
    case `static`, percentile, oracle

    func run(on simulator: Simulator) -> SimulationResult {
        switch self {
        case .static: simulator.run(StaticPolicy(trace: simulator.trace))
        case .percentile: simulator.run(PercentilePolicy(trace: simulator.trace))
        case .oracle: simulator.run(OraclePolicy(trace: simulator.trace))
        }
    }
}
