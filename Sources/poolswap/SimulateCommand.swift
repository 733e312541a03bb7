import ArgumentParser
import Drivers
import Execution
import Foundation
import PoolCore
import Service
import Simulation
import Storage

struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Replay a usage trace through a pool under allocation policies and compare slack, shortfall and changes.",
        discussion: """
            Policies: \(PolicyName.allCases.map(\.rawValue).joined(separator: ", ")). `predictive` is the service's control loop \
            (forecast, formulate, solve, assess, execute, verify) through the reactive simulated driver, with networks trained \
            once on the trace before --from; it is not in the default list because that training takes a minute or more. \
            SLA tiers (--tiers): the trace's instances get weights 1, 3, 10 (standard, premium, critical: demand read at the \
            80%, 90%, 95% interval) in turn, or drawn from a seeded generator. The predictive policy runs on the service's \
            defaults, or on the settings of --config FILE (the JSON `poolswap serve --config` reads), with the options below \
            taking precedence.
            """)

    @OptionGroup var source: TraceSource

    @Option(name: .long, help: "Comma-separated policies to compare.")
    var policy: String = PolicyName.defaults.map(\.rawValue).joined(separator: ",")

    @Option(name: .long, help: "Account from this UTC time on (2013-09-15 or 2013-09-15T00:00:00Z); every policy sees the trace before it as history.")
    var from: String?
    @Option(name: .long, help: "Account up to this UTC time (exclusive).")
    var to: String?

    @Option(name: .long, help: "predictive: the service's settings, a JSON file as `serve --config` reads (default: the service's defaults).")
    var config: String?
    @Option(name: .long, help: "predictive: minutes ahead a plan looks (5, 15 or 30; default: the settings' horizonSlots).")
    var horizon: Int?
    @Option(name: .long, help: "predictive: minutes between the loop's plans (the planning interval, a multiple of the trace's interval; default: the settings' planEveryRounds).")
    var planEvery: Int?
    @Option(name: .long, help: "predictive: rounds after a swap in which its instance may not shrink or move (default: the settings' cooldownRounds).")
    var cooldown: Int?
    @Option(name: .long, help: "SLA tiers of the trace's instances: 'cycle' (standard, premium, critical in turn) or 'random:SEED[:S,P,C]' (each drawn with shares S, P, C, default equal, from a generator seeded with SEED).")
    var tiers = "cycle"
    @Option(name: .long, help: "predictive: risk level, comma-separated for a sweep: scales the chance of usage above its allocation each SLA tier accepts (10%, 5%, 2.5% at 1), the quantile demand is read at and the risk gate's limit (default: the settings' riskLevel).")
    var risk: String?
    @Option(name: .long, help: "percentile: safety margin on every percentile, comma-separated for a sweep (VPA: 0.15).")
    var margin = "0.15"
    @Option(name: .long, help: "percentile: cores added to its cpu target and bounds (VPA: 0), to compare with predictive's headroom.")
    var percentileHeadroom = 0.0
    @Option(name: .long, help: "Also write an SVG chart of slack against short intervals, per resource, for every policy and setting run (the trade-off a sweep traces) to this file.")
    var tradeoffSvg: String?
    @Option(name: .long, help: "predictive: rounds whose peak memory is the floor no shrink goes below (risk.workingSetRounds; 288 is a day, 2016 a week), comma-separated for a sweep (with --risk: every pair).")
    var workingSetRounds: String?
    @Option(name: .long, help: "predictive: training windows per epoch (default: the settings' trainingSamples).")
    var trainingSamples: Int?
    @Option(name: .long, help: "predictive: training epochs (default: the settings' trainingEpochs).")
    var trainingEpochs: Int?
    @Flag(name: .long, inversion: .prefixedNo, help: "A progress bar for predictive on standard error (default: when standard error is a terminal).")
    var progress = isatty(STDERR_FILENO) != 0

    @Option(name: .long, help: "Cores per node (default: 64, or what the largest instance needs beside the reserve).")
    var nodeCPU: Double?
    @Option(name: .long, help: "GiB of memory per node (default: 512, or what the largest instance needs beside the reserve).")
    var nodeMemory: Double?
    @Option(name: .long, help: "GPU devices per node (default: 0, or what the largest instance needs).")
    var nodeGPU: Double?
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
        if let horizon, ![5, 15, 30].contains(horizon) { throw ValidationError("--horizon must be 5, 15 or 30 minutes, not \(horizon)") }
        if let planEvery, planEvery < 1 { throw ValidationError("--plan-every must be at least 1 minute, not \(planEvery)") }
        if let cooldown, cooldown < 0 { throw ValidationError("--cooldown must be at least 0 rounds, not \(cooldown)") }
        _ = try tierRule()
        _ = try risks()
        _ = try margins()
        guard percentileHeadroom.isFinite, percentileHeadroom >= 0 else { throw ValidationError("--percentile-headroom must be a finite number of cores ≥ 0, not \(percentileHeadroom)") }
        _ = try workingSets()
        if (trainingSamples ?? 1) < 1 || (trainingEpochs ?? 1) < 1 { throw ValidationError("--training-samples and --training-epochs must be at least 1") }
        for (name, value) in [("--node-cpu", nodeCPU ?? 0), ("--node-memory", nodeMemory ?? 0), ("--node-gpu", nodeGPU ?? 0),
                              ("--reserve-cpu", reserveCPU), ("--reserve-memory", reserveMemory)] where !(value.isFinite && value >= 0) {
            throw ValidationError("\(name) must be a finite amount of at least 0, not \(value)")
        }
    }

    /// The rule of `--tiers`.
    func tierRule() throws -> TierRule {
        do { return try TierRule(parsing: tiers) } catch { throw ValidationError("--\(error.description)") }
    }

    /// The working-set windows of `--working-set-rounds`, nil for the settings'.
    func workingSets() throws -> [Int]? {
        guard let workingSetRounds else { return nil }
        return try Self.numbers(workingSetRounds, "--working-set-rounds") { $0 >= 1 && $0 == $0.rounded() && $0 <= 100_000 ? nil : "must be a whole number of rounds in 1...100000" }
            .map { Int($0) }
    }

    /// The risk levels of `--risk`, nil for the settings'.
    func risks() throws -> [Double]? {
        try risk.map { try Self.numbers($0, "--risk") { $0 > 0 && $0 <= 2.5 ? nil : "must be in (0, 2.5]" } }
    }

    /// The percentile margins of `--margin`.
    func margins() throws -> [Double] {
        try Self.numbers(margin, "--margin") { $0 >= 0 && $0 <= 10 ? nil : "must be in [0, 10]" }
    }

    static func numbers(_ text: String, _ option: String, _ problem: (Double) -> String?) throws -> [Double] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        return try parts.map { part in
            guard let value = Double(part), value.isFinite else { throw ValidationError("\(option): '\(part)' is not a number") }
            if let why = problem(value) { throw ValidationError("\(option): \(part) \(why)") }
            return value
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

    /// The service's settings the predictive policy runs with: its defaults or `--config`'s,
    /// with these options.
    func predictiveSettings(interval: Int, risk: Double?, workingSetRounds: Int?) throws -> ServiceConfiguration {
        var settings = try ServiceConfiguration.load(file: config, environment: [:])
        settings.demo = false
        settings.driver = nil
        settings.prometheus = nil
        settings.interval = interval
        settings.retrainHours = 0  // trained once, before the window
        if let horizon { settings.horizonSlots = max(1, horizon * 60 / interval) }
        if let planEvery {
            guard planEvery * 60 % interval == 0 else {
                throw ValidationError("--plan-every must be a multiple of the trace's interval (\(interval) s), not \(planEvery) minutes")
            }
            settings.planEveryRounds = planEvery * 60 / interval
        }
        if let cooldown { settings.cooldownRounds = cooldown }
        if let risk { settings.riskLevel = risk }
        if let trainingSamples { settings.trainingSamples = trainingSamples }
        if let trainingEpochs { settings.trainingEpochs = trainingEpochs }
        if let workingSetRounds { settings.risk.workingSetRounds = workingSetRounds }
        try settings.validate()
        return settings
    }

    func run() async throws {
        let (summary, results, origin) = try await evaluate()
        if json {
            print(try summary.json())
        } else {
            print(summary.table())
        }
        if let tradeoffSvg {
            let chart = TradeoffChart(results: results).svg()
            do {
                try chart.write(toFile: tradeoffSvg, atomically: true, encoding: .utf8)
            } catch {
                throw ValidationError("cannot write the chart to \(tradeoffSvg): \(error.localizedDescription)")
            }
        }
        if let svg {
            let chart = SimulationChart(results: results, origin: origin).svg()
            do {
                try chart.write(toFile: svg, atomically: true, encoding: .utf8)
            } catch {
                throw ValidationError("cannot write the chart to \(svg): \(error.localizedDescription)")
            }
        }
    }

    /// Runs the policies: the summary, every result, and the trace's origin.
    func evaluate() async throws -> (SimulationSummary, [SimulationResult], Int64) {
        let started = ContinuousClock.now
        let (trace, report) = try source.load()
        let loaded = ContinuousClock.now
        guard !trace.instances.isEmpty else { throw ValidationError("\(source.name) holds no samples") }
        let defaults = PoolShape().nodeCapacity
        var given: Set<Resource> = []
        if nodeCPU != nil { given.insert(.cpu) }
        if nodeMemory != nil { given.insert(.memory) }
        if nodeGPU != nil { given.insert(.gpu) }
        let shape = PoolShape(
            nodeCapacity: ResourceVector(cpu: nodeCPU ?? defaults.cpu, memory: nodeMemory ?? defaults.memory, gpu: nodeGPU ?? defaults.gpu),
            nodeReserve: ResourceVector(cpu: reserveCPU, memory: reserveMemory),
            minimumFraction: slaMinimum, tiers: try tierRule()).fitted(to: trace, keeping: given)
        let pool = try shape.buildPool(for: trace)
        let simulator = Simulator(trace: trace, pool: pool)
        let window = try window(of: trace)
        let chosen = try policies()
        let (first, accountFrom, end) = simulator.slots(window: window)
        if chosen.contains(.predictive) {
            guard accountFrom - first >= 2 * 86_400 / trace.interval else {
                throw ValidationError("predictive trains its networks on the trace before the window and runs a day before it: "
                                      + "give --from at least two days after the trace starts")
            }
        }
        // The predictive runs' settings, checked before anything runs.
        let sets: [Int?] = try workingSets() ?? [nil]
        let levels: [Double?] = try risks() ?? [nil]
        let runs = levels.flatMap { level in sets.map { (level, $0) } }
        let settings = chosen.contains(.predictive)
            ? try runs.map { try predictiveSettings(interval: trace.interval, risk: $0.0, workingSetRounds: $0.1) } : []
        // One run per policy and setting; a setting is named only when a sweep runs several.
        let margins = try margins()
        let replayed: [(PolicyName, Double?)] = chosen.filter { $0 != .predictive }.flatMap { name in
            name == .percentile ? margins.map { (name, Optional($0)) } : [(name, nil)]
        }
        var results = parallelMap(replayed.count) { index in
            let (name, margin) = replayed[index]
            var result = name.run(on: simulator, window: window, margin: margin ?? 0.15, cpuHeadroom: percentileHeadroom)
            var parts: [String] = []
            if let margin, margins.count > 1 { parts.append("margin \(Int((margin * 100).rounded()))%") }
            if name == .percentile, percentileHeadroom > 0 { parts.append("+\(formatAmount(percentileHeadroom)) cores") }
            if !parts.isEmpty { result.setting = parts.joined(separator: ", ") }
            return result
        }
        if chosen.contains(.predictive) {
            var networks: [String: CheckpointRecord] = [:]
            for (index, (level, set)) in runs.enumerated() {
                var parts: [String] = []
                if levels.count > 1, let level { parts.append("risk \(formatAmount(level))") }
                if sets.count > 1, let set { parts.append("memory floor \(set) rounds") }
                let label = parts.isEmpty ? nil : parts.joined(separator: ", ")
                let bar = ProgressBar(label: label.map { "predictive \($0)" } ?? "predictive", enabled: progress)
                var run = PredictiveRun(trace: trace, pool: pool, window: window, settings: settings[index])
                run.networks = networks
                if index > 0 { run.networksNote = "those of the first run" }
                run.progress = { done, total in bar.update(done, of: total) }
                var (result, trained) = try await run.run()
                bar.finish()
                result.setting = label
                results.append(result)
                if networks.isEmpty { networks = trained }
            }
        }
        let order = chosen.map(\.rawValue)
        results = results.enumerated().sorted {
            let a = order.firstIndex(of: $0.element.policy)!, b = order.firstIndex(of: $1.element.policy)!
            return a != b ? a < b : $0.offset < $1.offset
        }.map(\.element)
        let finished = ContinuousClock.now
        let summary = SimulationSummary(
            source: source.name, trace: trace, report: report, pool: pool, shape: shape, results: results,
            readTime: loaded - started, simulateTime: finished - loaded, window: window.map { _ in accountFrom..<end })
        return (summary, results, trace.origin)
    }
}

/// The policies the simulator knows by name. A new policy is one new type and one case here.
enum PolicyName: String, CaseIterable {
    case `static`, percentile, predictive, oracle

    /// What `simulate` compares unless told otherwise.
    static let defaults: [PolicyName] = [.static, .percentile, .oracle]

    /// The replayed policies; `predictive` runs through the service (`PredictiveRun`).
    func run(on simulator: Simulator, window: Range<Int>?, margin: Double = 0.15, cpuHeadroom: Double = 0) -> SimulationResult {
        switch self {
        case .static: return simulator.run(StaticPolicy(trace: simulator.trace), window: window)
        case .percentile:
            var configuration = PercentilePolicy.Configuration()
            configuration.safetyMargin = margin
            configuration.cpuHeadroom = cpuHeadroom
            return simulator.run(PercentilePolicy(trace: simulator.trace, configuration: configuration), window: window)
        case .oracle: return simulator.run(OraclePolicy(trace: simulator.trace), window: window)
        case .predictive: preconditionFailure("predictive runs through the service, in PredictiveRun")
        }
    }
}
