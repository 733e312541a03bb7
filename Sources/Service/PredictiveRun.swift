import Drivers
import Foundation
import Logging
import PoolCore
import Simulation
import Storage

/// The `predictive` policy: the service's own control loop (forecast with the online engine,
/// formulate, solve, assess the risk, execute, verify, roll back) run over the trace through
/// the reactive simulated driver, one round per slot: first a day of rounds before the window
/// (unaccounted, as a service already running), then the window. The store first holds the
/// trace before those rounds, as history; the networks are trained on it once, and not again
/// (nothing in the window is seen before it happens). Slack and
/// shortfall are accounted from the driver's allocations against the trace's demand, as for
/// every policy; throttling and OOM kills are what the driver counted.
public struct PredictiveRun {
    public var trace: UsageTrace
    public var pool: AllocationLedger
    public var window: Range<Int>?
    public var settings: ServiceConfiguration
    /// Called after each round with the rounds done and the rounds in all.
    public var progress: (Int, Int) -> Void = { _, _ in }
    /// Networks (checkpoints by name) trained by an earlier run on the same trace before the
    /// same loop start: installed instead of training again (a sweep trains once).
    public var networks: [String: CheckpointRecord] = [:]
    /// What the networks of a run were.
    public var networksNote: String?

    public init(trace: UsageTrace, pool: AllocationLedger, window: Range<Int>?, settings: ServiceConfiguration) {
        self.trace = trace
        self.pool = pool
        self.window = window
        self.settings = settings
        burnInSlots = max(1, 86_400 / max(1, settings.interval))
    }

    /// Rounds the loop runs before the window, unaccounted, so that it enters the window as a
    /// running service would (allocations adapted): a day. The warm start seeds the memory
    /// floor's window from the stored history (up to `warmStartSlots`, 8 days).
    public var burnInSlots: Int

    /// The run's accounting, and the networks it forecast with (to hand to the next run).
    public func run() async throws -> (result: SimulationResult, networks: [String: CheckpointRecord]) {
        try settings.validate()
        let simulator = Simulator(trace: trace, pool: pool)
        let (firstSlot, accountFrom, endSlot) = simulator.slots(window: window)
        let loopFrom = max(firstSlot, accountFrom - burnInSlots)
        let replay = try TraceReplay(trace: trace, pool: pool)
        let path = NSTemporaryDirectory() + "poolswap-predictive-\(UUID().uuidString).sqlite"
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let store = try SQLiteStore(path: path)
        for node in replay.nodes { try await store.upsert(node: node) }
        for record in replay.instances { try await store.upsert(instance: record) }
        for (name, checkpoint) in networks { try await store.saveCheckpoint(name: name, data: checkpoint.data, time: checkpoint.time) }

        // History: what the store would hold when the loop starts (the training's days and the
        // warm start's slots, at most); from then on the driver's samples.
        let historySlots = max(settings.trainingDays * 86_400 / trace.interval, settings.warmStartSlots ?? settings.forecastConfiguration.historySlots)
        let historyFrom = max(firstSlot, loopFrom - historySlots)
        // The store holds whole samples, as the replay's driver reports them; the accounting
        // reads the trace as every other policy does.
        let whole = replay.trace
        var batch: [UsageSample] = []
        batch.reserveCapacity(60_000)
        for slot in historyFrom..<loopFrom {
            for series in whole.instances where series.isPresent(at: slot) {
                let used = series.used(at: slot)
                batch.append(UsageSample(instance: series.id.rawValue, time: replay.time(ofSlot: slot), used: [used.cpu, used.memory, used.gpu]))
            }
            if batch.count >= 50_000 || slot == loopFrom - 1 {
                _ = try await store.append(samples: batch)
                batch.removeAll(keepingCapacity: true)
            }
        }

        var logger = Logger(label: "simulate")
        logger.logLevel = .error
        let driver = try replay.driver(stateFile: nil)
        let service = try await ServiceApplication(configuration: settings, store: store, logger: logger,
                                                   now: replay.time(ofSlot: loopFrom), driver: driver, servesHTTP: false)
        var result = SimulationResult(policy: "predictive", resources: simulator.resources, interval: trace.interval, firstSlot: accountFrom)
        if !networks.isEmpty {
            result.networks = networksNote ?? "trained by an earlier run"
        } else if loopFrom > historyFrom {
            let problems = await service.loop.trainNetworks(until: replay.time(ofSlot: loopFrom))
            for problem in problems { FileHandle.standardError.write(Data("predictive: \(problem)\n".utf8)) }
            result.networks = problems.isEmpty ? "trained on the \(loopFrom - historyFrom) slots before the loop" : "baselines: " + problems.joined(separator: "; ")
        } else {
            result.networks = "baselines: no history before the loop to train on"
        }
        result.poolAllocatable = pool.nodes.reduce(.zero) { $0 + $1.allocatable }
        result.measuredByDriver = true
        let tiers = simulator.tiers
        let ids = trace.instances.map(\.id)
        let hoursPerSlot = Double(trace.interval) / 3_600
        var before: [InstanceID: InstanceSignals] = [:]
        var allocations = try await held(ids, on: driver)
        var nodes = try await placement(on: driver)
        for slot in loopFrom..<endSlot {
            let accounted = slot >= accountFrom
            if slot == accountFrom { before = try await driver.signals(of: ids) }
            if accounted {
                result.account(instances: ids.count, tiers: tiers, hoursPerSlot: hoursPerSlot, present: { trace.instances[$0].isPresent(at: slot) },
                               usage: { trace.instances[$0].used(at: slot) }, allocation: { allocations[$0] })
            }
            try await service.loop.runOnce(time: replay.time(ofSlot: slot))
            // What the round changed on the driver, in effect from the next slot: counted when
            // that slot is in the window.
            let next = try await held(ids, on: driver)
            let counted = slot + 1 >= accountFrom && slot + 1 < endSlot
            if counted {
                for index in ids.indices where allocations[index] != next[index] {
                    result.resizes += 1
                    result.tiers[tiers[index].rawValue].resizes += 1
                }
            }
            allocations = next
            if driver.capabilities.migrates {
                let moved = try await placement(on: driver)
                if counted {
                    for (index, id) in ids.enumerated() where nodes[id] != moved[id] {
                        result.migrations += 1
                        result.tiers[tiers[index].rawValue].migrations += 1
                    }
                }
                nodes = moved
            }
            progress(slot - loopFrom + 1, endSlot - loopFrom)
        }
        // Throttling and OOM kills as the driver counted them over the window.
        let after = try await driver.signals(of: ids)
        result.throttledCoreHours = 0
        result.oomKills = 0
        for k in result.tiers.indices { (result.tiers[k].oomKills, result.tiers[k].throttledCoreHours) = (0, 0) }
        for (index, id) in ids.enumerated() {
            guard let start = before[id], let end = after[id] else { continue }
            let tier = tiers[index].rawValue
            result.throttledCoreHours += (end.throttledSeconds - start.throttledSeconds) / 3_600
            result.tiers[tier].throttledCoreHours += (end.throttledSeconds - start.throttledSeconds) / 3_600
            result.oomKills += end.oomKills - start.oomKills
            result.tiers[tier].oomKills += end.oomKills - start.oomKills
        }
        var trained: [String: CheckpointRecord] = [:]
        for name in NetworkTraining.resources.map(NetworkTraining.checkpointName) + [NetworkTraining.scheduleName] {
            if let saved = try await store.checkpoint(name: name) { trained[name] = saved }
        }
        return (result, trained)
    }

    private func held(_ ids: [InstanceID], on driver: SimulatedDriver) async throws -> [ResourceVector] {
        var out: [ResourceVector] = []
        out.reserveCapacity(ids.count)
        for id in ids { out.append(try await driver.allocation(of: id)) }
        return out
    }

    private func placement(on driver: SimulatedDriver) async throws -> [InstanceID: NodeID] {
        Dictionary(try await driver.inventory().instances.map { ($0.id, $0.node) }, uniquingKeysWith: { a, _ in a })
    }
}
