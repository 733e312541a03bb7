import ArgumentParser
import Drivers
import Execution
import Foundation
import Logging
import PoolCore
import Service
import Storage

/// Measurements of the execution path for `Benchmarks/execution.sh`, each on the code the
/// service runs: a round of cgroup resizes, a whole round of a large simulated pool, the risk
/// assessment.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmarks of the execution path (see Benchmarks/execution.sh).",
        subcommands: [CgroupRound.self, SimulatedRound.self, Risk.self, SeedPool.self])

    static func milliseconds(_ d: Duration) -> Double {
        Double(d.components.seconds) * 1e3 + Double(d.components.attoseconds) * 1e-15
    }

    static func quiet() -> Logger {
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        return logger
    }

    /// One round in which the service resizes `instances` real cgroups (shrinks, then a round
    /// of grows back), through the executor with every step journaled in SQLite.
    struct CgroupRound: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "cgroup-round")
        @Option var instances = 1_000

        func run() async throws {
            let parent = "poolswap-bench-\(ProcessInfo.processInfo.processIdentifier)"
            let ids = (0..<instances).map { InstanceID(String(format: "c%05d", $0)) }
            let setup = try CgroupDriver(parent: parent, nodeName: "bench", capacity: ResourceVector(cpu: Double(instances) * 2, memory: Double(instances) * 2))
            for id in ids { try setup.create(id) }
            defer {
                for id in ids { try? setup.remove(id) }
                for root in Set([setup.layout.cpu, setup.layout.cpuacct, setup.layout.memory]) { rmdir("\(root)/\(parent)") }
            }
            var settings = ServiceConfiguration()
            settings.demo = false
            settings.driver = "cgroup"
            settings.cgroupParent = parent
            settings.nodeName = "bench"
            settings.nodeCapacity = [Double(instances) * 2, Double(instances) * 2, 0]
            settings.discoveredMaximum = [4, 4, 0]
            settings.autoSwap = false
            settings.retrainHours = 0
            settings.interval = 60
            let path = NSTemporaryDirectory() + "poolswap-bench-\(UUID().uuidString).sqlite"
            defer { try? FileManager.default.removeItem(atPath: path) }
            let clock = ContinuousClock()
            var started = clock.now
            let service = try await ServiceApplication(configuration: settings, store: try SQLiteStore(path: path), logger: quiet(), now: 1_800_000_000)
            print("registered \(await service.runtime.allInstances().count) cgroups (each resized to its first limits) in \(String(format: "%.2f", milliseconds(clock.now - started) / 1000)) s")
            for k in 0..<3 { try await service.loop.runOnce(time: 1_800_000_000 + Int64(k) * 60) }
            for (label, cpu, memory) in [("shrink", 0.5, 0.5), ("grow", 1.0, 1.0)] {
                let amounts = ids.map { "\"\($0.rawValue)\":{\"cpu\":\(cpu),\"memory\":\(memory),\"gpu\":0}" }.joined(separator: ",")
                let request = try JSONDecoder().decode(SwapRequestBody.self, from: Data("{\"allocations\":{\(amounts)},\"force\":true}".utf8))
                started = clock.now
                let plan = try await service.runtime.plan(request, tenantScope: nil, solverSeconds: nil)
                let planned = clock.now
                let ran = try await service.runtime.execute(plan, request: "{}", tenant: nil, force: true, reassess: false)
                let done = clock.now
                let applied = ran.swaps.filter { $0.state == "verifying" }.count
                var exact = 0
                for id in ids where abs(try await setup.allocation(of: id).cpu - cpu) < 1e-5 { exact += 1 }
                print("\(label) round: \(applied) of \(ids.count) resizes took effect (\(exact) cgroup files read back exact); "
                      + "plan \(String(format: "%.0f", milliseconds(planned - started))) ms, execute \(String(format: "%.0f", milliseconds(done - planned))) ms, "
                      + "\(String(format: "%.2f", milliseconds(done - planned) / Double(max(1, applied)))) ms per journaled resize")
                try await service.loop.runOnce(time: 1_800_000_000 + 3 * 60)
                // The next round verifies them; cooldowns are lifted for the next measurement.
                for k in 4..<(4 + settings.cooldownRounds + settings.verification.rounds) { try await service.loop.runOnce(time: 1_800_000_000 + Int64(k) * 60) }
            }
            started = clock.now
            for id in ids { try await setup.apply(ResourceVector(cpu: 0.75, memory: 0.75), to: id) }
            print("the driver alone: \(ids.count) resizes in \(String(format: "%.0f", milliseconds(clock.now - started))) ms "
                  + "(\(String(format: "%.3f", milliseconds(clock.now - started) / Double(ids.count))) ms each)")
        }
    }

    /// Whole rounds (ingest → forecast → verify → plan → assess → execute → record) of a pool
    /// of `instances` simulated VMs: the bundled trace's VMs tiled, each copy shifted in time.
    struct SimulatedRound: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "simulated-round")
        @Option var instances = 10_000
        @Option var rounds = 30
        @Option var trace: String = BundledSample.folder

        func run() async throws {
            let (base, _) = try BitbrainsTraceReader().read(folder: trace, instanceLimit: nil)
            let replay = try TraceReplay(trace: tiled(base, instances))
            let path = NSTemporaryDirectory() + "poolswap-bench-\(UUID().uuidString).sqlite"
            defer { try? FileManager.default.removeItem(atPath: path) }
            let store = try SQLiteStore(path: path)
            for node in replay.nodes { try await store.upsert(node: node) }
            for record in replay.instances { try await store.upsert(instance: record) }
            var settings = ServiceConfiguration()
            settings.retrainHours = 0
            let service = try await ServiceApplication(configuration: settings, store: store, logger: quiet(), now: base.origin,
                                                       driver: try replay.driver(stateFile: nil))
            print("\(instances) simulated instances on \(replay.nodes.count) nodes; rounds from the \(settings.warmupRounds)th plan and execute")
            var times: [Double] = [], steps: [String: [Double]] = [:], swaps = 0
            let clock = ContinuousClock()
            for k in 0..<rounds {
                let started = clock.now
                let report = try await service.loop.runOnce(time: base.origin + Int64(k) * Int64(base.interval))
                guard k >= settings.warmupRounds else { continue }
                times.append(milliseconds(clock.now - started))
                for (name, d) in report.steps { steps[name, default: []].append(milliseconds(d)) }
                swaps += report.swaps
            }
            func median(_ x: [Double]) -> Double { x.isEmpty ? 0 : x.sorted()[x.count / 2] }
            print("round: median \(String(format: "%.0f", median(times))) ms, max \(String(format: "%.0f", times.max() ?? 0)) ms over \(times.count) rounds; \(swaps) swaps took effect")
            for name in ["ingest", "forecast", "predictions", "verify", "formulate_solve", "execute"] {
                print("  \(name): median \(String(format: "%.1f", median(steps[name] ?? []))) ms")
            }
        }
    }

    /// `count` instances: the trace's VMs tiled, each copy rotated in time by its own shift.
    static func tiled(_ base: UsageTrace, _ count: Int) -> UsageTrace {
        var tiled: [InstanceSeries] = []
        for k in 0..<count {
            var series = base.instances[k % base.instances.count]
            let shift = (k / base.instances.count) * 37 % max(1, series.span)
            series.id = InstanceID("\(series.id.rawValue)-\(k / base.instances.count)")
            series.used = series.used.map { Array($0[shift...] + $0[..<shift]) }
            series.allocated = series.allocated.map { Array($0[shift...] + $0[..<shift]) }
            tiled.append(series)
        }
        return UsageTrace(origin: base.origin, interval: base.interval, instances: tiled)
    }

    /// A store in the state a pool reaches after `days` of running: `instances` instances (the
    /// bundled trace tiled) with their samples up to now, and the networks the service trains
    /// on them, saved as the service saves them. `serve --database` on it warm-starts every
    /// instance's forecasts from real history.
    struct SeedPool: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "seed-pool")
        @Option var database: String
        @Option var instances = 10_000
        @Option var days = 8
        @Option var trace: String = BundledSample.folder

        func run() async throws {
            let (base, _) = try BitbrainsTraceReader().read(folder: trace, instanceLimit: nil)
            let pool = tiled(base, instances)
            let replay = try TraceReplay(trace: pool)
            let store = try SQLiteStore(path: database)
            for node in replay.nodes { try await store.upsert(node: node) }
            for record in replay.instances { try await store.upsert(instance: record) }
            let interval = Int64(pool.interval)
            let now = Int64(Date().timeIntervalSince1970) / interval * interval
            let slots = days * 86_400 / pool.interval
            let clock = ContinuousClock()
            var started = clock.now
            var batch: [UsageSample] = [], stored = 0
            batch.reserveCapacity(50_000)
            for j in 0..<slots {
                let time = now - Int64(slots - j) * interval
                // The replay's trace: a sample missing a value is a gap there, as the service stores whole samples.
                for series in replay.trace.instances {
                    // The trace's slots in turn, from each series' first one, wrapping around.
                    let slot = series.firstSlot + j % series.span
                    guard series.isPresent(at: slot) else { continue }
                    let used = series.used(at: slot)
                    batch.append(UsageSample(instance: series.id.rawValue, time: time, used: [used.cpu, used.memory, used.gpu]))
                }
                if batch.count >= 50_000 || j == slots - 1 {
                    stored += try await store.append(samples: batch)
                    batch.removeAll(keepingCapacity: true)
                }
            }
            print("stored \(replay.nodes.count) nodes, \(instances) instances and \(stored) samples (\(days) days) in \(String(format: "%.1f", milliseconds(clock.now - started) / 1000)) s")
            var settings = ServiceConfiguration()
            settings.demo = false
            settings.autoSwap = false
            // Training reads the store; the forecaster's warm start is the server's to do.
            settings.warmStartSlots = 0
            started = clock.now
            let service = try await ServiceApplication(configuration: settings, store: store, logger: quiet(), now: now)
            let problems = await service.loop.trainNetworks(until: now)
            for problem in problems { print("training: \(problem)") }
            print("trained the networks as the service does (\(settings.trainingSamples) windows × \(settings.trainingEpochs) epochs on up to \(settings.trainingDays) days) in \(String(format: "%.1f", milliseconds(clock.now - started) / 1000)) s")
            guard problems.isEmpty else { throw ValidationError("the networks did not train") }
        }
    }

    /// The risk assessment of `swaps` swaps as one plan, each with a 3-slot forecast of cpu and memory.
    struct Risk: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "risk")
        @Option var swaps = 100_000

        func run() async throws {
            var random = SplitMix64(seed: 7)
            let levels = [0.025, 0.05, 0.1, 0.5, 0.9, 0.95, 0.975]
            let inputs = (0..<swaps).map { k -> RiskInput in
                let usage = 0.5 + Double(random.next() % 1000) / 500
                let quantiles = (0..<3).map { h in levels.map { usage * (0.6 + $0 * 0.8) + Double(h) * 0.01 } }
                let before = ResourceVector(cpu: usage * 2, memory: usage * 4)
                let after = ResourceVector(cpu: usage * (1 + Double(random.next() % 100) / 100), memory: usage * 3)
                return RiskInput(change: SwapChange(instance: InstanceID("i\(k)"), tenant: "t\(k % 50)", fromNode: NodeID("n\(k % 500)"), toNode: NodeID("n\(k % 500)"),
                                                    before: before, after: after),
                                 benefit: Double(k % 97), forecasts: [.cpu: ForecastQuantiles(levels: levels, slots: quantiles),
                                                                     .memory: ForecastQuantiles(levels: levels, slots: quantiles.map { $0.map { $0 * 2 } })],
                                 workingSet: usage * 2, gpuInUse: 0)
            }
            let clock = ContinuousClock()
            var policy = RiskPolicy()
            policy.maxInstances = swaps
            policy.maxNodes = swaps
            policy.maxTenants = swaps
            for (label, run) in [("each swap on its own", { () -> [RiskReport] in inputs.map { RiskAssessment.assess($0, policy: policy) } }),
                                 ("as one plan (with the blast radius)", { RiskAssessment.assess(plan: inputs, policy: policy) })] {
                var best = Duration.seconds(1_000)
                var decisions: [RiskReport.Decision: Int] = [:]
                for _ in 0..<3 {
                    let started = clock.now
                    let reports = run()
                    best = min(best, clock.now - started)
                    decisions = Dictionary(grouping: reports, by: \.decision).mapValues(\.count)
                }
                print("risk assessment of \(swaps) swaps, \(label): \(String(format: "%.0f", milliseconds(best))) ms, "
                      + "\(String(format: "%.2f", milliseconds(best) * 1000 / Double(swaps))) µs per swap (best of 3); "
                      + decisions.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.value) \($0.key.rawValue)" }.joined(separator: ", "))
            }
        }
    }
}
