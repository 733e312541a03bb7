import ArgumentParser
import Drivers
import Execution
import Foundation
import PoolCore
import Service
import Simulation

struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Replay a usage trace through a pool under allocation policies and compare slack, shortfall and changes.",
        discussion: """
            Policies: \(PolicyName.allCases.map(\.rawValue).joined(separator: ", ")). `predictive` is the service's control loop \
            (forecast, formulate, solve, assess, execute, verify) through the reactive simulated driver, with networks trained \
            once on the trace before --from; it is not in the default list because that training takes a minute or more. \
            SLA tiers: the trace's instances get weights 1, 3, 10 in turn (standard, premium, critical: demand read at the \
            80%, 90%, 95% interval).
            """)

    @OptionGroup var source: TraceSource

    @Option(name: .long, help: "Comma-separated policies to compare.")
    var policy: String = PolicyName.defaults.map(\.rawValue).joined(separator: ",")

    @Option(name: .long, help: "Account from this UTC time on (2013-09-15 or 2013-09-15T00:00:00Z); every policy sees the trace before it as history.")
    var from: String?
    @Option(name: .long, help: "Account up to this UTC time (exclusive).")
    var to: String?

    @Option(name: .long, help: "predictive: minutes ahead a plan looks (5, 15 or 30).")
    var horizon = 30
    @Option(name: .long, help: "predictive: scales the chance of usage above an allocation each SLA tier accepts before a shrink is held (risk.approveWithin).")
    var risk = 1.0
    @Option(name: .long, help: "predictive: rounds whose peak memory is the floor no shrink goes below (risk.workingSetRounds; 288 is a day).")
    var workingSetRounds = RiskPolicy().workingSetRounds
    @Option(name: .long, help: "predictive: training windows per epoch (the service's default is 200000).")
    var trainingSamples = 100_000
    @Option(name: .long, help: "predictive: training epochs.")
    var trainingEpochs = 2
    @Flag(name: .long, help: "Show a progress bar on standard error.")
    var progress = false

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
        _ = try Self.time(from, "--from")
        _ = try Self.time(to, "--to")
        guard [5, 15, 30].contains(horizon) else { throw ValidationError("--horizon must be 5, 15 or 30 minutes, not \(horizon)") }
        guard risk.isFinite, risk >= 0 else { throw ValidationError("--risk must be a finite number ≥ 0, not \(risk)") }
        guard workingSetRounds >= 1 else { throw ValidationError("--working-set-rounds must be at least 1, not \(workingSetRounds)") }
        guard trainingSamples >= 1, trainingEpochs >= 1 else { throw ValidationError("--training-samples and --training-epochs must be at least 1") }
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

    /// `text` as UTC seconds: a date or an ISO 8601 time.
    static func time(_ text: String?, _ option: String) throws -> Int64? {
        guard let text else { return nil }
        let full = ISO8601DateFormatter()
        let day = ISO8601DateFormatter()
        day.formatOptions = [.withFullDate]
        guard let date = full.date(from: text) ?? day.date(from: text) else {
            throw ValidationError("\(option) must be a UTC date (2013-09-15) or time (2013-09-15T00:00:00Z), not '\(text)'")
        }
        return Int64(date.timeIntervalSince1970)
    }

    /// The accounted slots of `trace`, nil for all of it.
    func window(of trace: UsageTrace) throws -> Range<Int>? {
        let first = try Self.time(from, "--from"), last = try Self.time(to, "--to")
        guard first != nil || last != nil else { return nil }
        let interval = Int64(trace.interval)
        let lower = first.map { Int((max(0, $0 - trace.origin) + interval - 1) / interval) } ?? 0
        let upper = last.map { Int(max(0, $0 - trace.origin) / interval) } ?? trace.slotCount
        guard lower < min(upper, trace.slotCount) else {
            throw ValidationError("--from and --to leave no slot of the trace (it covers \(ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(trace.origin)))) "
                                  + "and \(trace.slotCount) slots of \(trace.interval) s after)")
        }
        return lower..<upper
    }

    /// The service's settings the predictive policy runs with: its defaults, with these options.
    func predictiveSettings(interval: Int) -> ServiceConfiguration {
        var settings = ServiceConfiguration()
        settings.demo = false
        settings.interval = interval
        settings.retrainHours = 0  // trained once, before the window
        settings.horizonSlots = max(1, horizon * 60 / interval)
        settings.risk.approveWithin = risk
        settings.trainingSamples = trainingSamples
        settings.trainingEpochs = trainingEpochs
        settings.risk.workingSetRounds = workingSetRounds
        return settings
    }

    func run() async throws {
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
        let window = try window(of: trace)
        let chosen = try policies()
        let (first, accountFrom, end) = simulator.slots(window: window)
        if chosen.contains(.predictive) {
            guard trace.interval == 300 else {
                throw ValidationError("predictive: the networks read 5-minute slots; this trace's interval is \(trace.interval) s")
            }
            guard accountFrom - first >= 2 * 288 else {
                throw ValidationError("predictive trains its networks on the trace before the window and runs a day before it: "
                                      + "give --from at least two days after the trace starts")
            }
        }
        let replayed = chosen.filter { $0 != .predictive }
        var results = parallelMap(replayed.count) { replayed[$0].run(on: simulator, window: window) }
        if chosen.contains(.predictive) {
            let bar = ProgressBar(label: "predictive", enabled: progress)
            var run = PredictiveRun(trace: trace, pool: pool, window: window, settings: predictiveSettings(interval: trace.interval))
            run.progress = { done, total in bar.update(done, of: total) }
            results.append(try await run.run())
            bar.finish()
        }
        results.sort { chosen.firstIndex(of: PolicyName(rawValue: $0.policy)!)! < chosen.firstIndex(of: PolicyName(rawValue: $1.policy)!)! }
        let finished = ContinuousClock.now
        let summary = SimulationSummary(
            source: source.name, trace: trace, report: report, pool: pool, shape: shape, results: results,
            readTime: loaded - started, simulateTime: finished - loaded, window: window.map { _ in accountFrom..<end })
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
    case `static`, percentile, predictive, oracle

    /// What `simulate` compares unless told otherwise.
    static let defaults: [PolicyName] = [.static, .percentile, .oracle]

    /// The replayed policies; `predictive` runs through the service (`PredictiveRun`).
    func run(on simulator: Simulator, window: Range<Int>?) -> SimulationResult {
        switch self {
        case .static: simulator.run(StaticPolicy(trace: simulator.trace), window: window)
        case .percentile: simulator.run(PercentilePolicy(trace: simulator.trace), window: window)
        case .oracle: simulator.run(OraclePolicy(trace: simulator.trace), window: window)
        case .predictive: preconditionFailure("predictive runs through the service, in PredictiveRun")
        }
    }
}
