import Drivers
import Execution
import Forecasting
import Foundation
import Logging
import PoolCore
import Storage
import SwapSolver

/// The pool as the service holds it, and the steps of the control loop over it. Each step's
/// state is its own value: the registry and its ledger (`PoolRegistry`), ingest
/// (`SampleIntake`, `DriverSampler`), forecast (`PoolForecaster`), verification
/// (`SwapMonitor`); formulation is `PlanFormulation`, the risk gates and the swap state
/// machines are `Execution`'s, and the driver actions go through the `SwapExecutor`. The
/// runtime composes them and keeps the store current; the HTTP layer and the loop call in.
public actor PoolRuntime {
    public let configuration: ServiceConfiguration
    let store: any PoolStore
    /// What applies the swaps and reads the instances.
    public nonisolated let driver: any InstanceDriver
    /// The demo's driver, whose clock the loop moves one slot a round.
    nonisolated let simulated: SimulatedDriver?

    var registry = PoolRegistry()
    var intake = SampleIntake()
    var sampler = DriverSampler()
    var forecaster = PoolForecaster()
    var monitor: SwapMonitor
    /// The installed networks per resource and what is known of them.
    var networks: [Resource: (network: RecurrentNetwork, status: NetworkStatus)] = [:]
    /// Whether a training runs now, and what went wrong with the last restore or training.
    var training = false
    var networkProblems: [String] = []
    /// The last champion-and-challenger decision per resource (`NetworkTraining`), and the
    /// networks installed so far.
    var challenges: [Resource: NetworkChallenge] = [:]
    var networkInstalls = 0
    /// Pool time of the samples the last training read up to (or the saved networks were
    /// trained on): the training schedule.
    var lastTraining: Int64?
    /// Pool time until which each swapped instance stays locked (anti-thrashing).
    var cooldownUntil: [String: Int64] = [:]
    /// Pure grows committed early because a later swap of their instance took effect, since
    /// the loop last counted them (`takeSupersededCommits`).
    var supersededCommits = 0
    /// Instances the driver registered and no longer lists.
    var missing: Set<String> = []
    /// Instances with a swap waiting for approval, and since when (pool time).
    var held: [String: Int64] = [:]
    /// What each instance did in the slot last observed.
    var roundDeltas: [String: SignalDelta] = [:]
    /// Start of the next slot the loop will take; nil before the first round.
    public private(set) var slot: Int64?
    /// The pool over the last 2016 rounds and each node over the last 288, for the dashboard.
    var timeline = PoolTimeline(keep: 2016, keepPerNode: 288)
    /// Whether the rounds keep what the HTTP API and the dashboard show: every instance's
    /// `GET /prediction` answer and the timeline (not in `simulate`, which serves nothing).
    public internal(set) var servesHTTP = true
    /// Usage above allocation in the slot last observed, summed over the instances, taken
    /// before the round's swaps change the allocations.
    var lastShortfall = [0.0, 0, 0]
    public private(set) var round = 0
    public private(set) var startedAt: Int64 = 0
    /// Pool time now: the start of the next slot, or the start time before the first round.
    public var poolTime: Int64 { slot ?? startedAt }
    /// The wall clock of a live pool (nil in demo mode and in tests that drive the rounds):
    /// samples of the present are accepted even while the pool's clock lags behind it, as it
    /// does after a long warm start until the first round.
    private var wallClock: (@Sendable () -> Int64)?
    func useWallClock(_ clock: @escaping @Sendable () -> Int64) { wallClock = clock }
    func serveHTTP(_ serves: Bool) { servesHTTP = serves }
    var planSerial = 0
    /// What the control loop's last plan's solve leaves for its next (`SwapWarmStart`).
    var lastSolve: SwapWarmStart?
    private var executorBox: SwapExecutor?
    /// Runs the executor performs now, by id.
    var runs: [String: RunContext] = [:]
    /// Swaps (record ids) a rollback run has taken on, and plans an approval runs now: a second
    /// request for either is refused until the first ends.
    var rollingBack: Set<Int64> = []
    var approving: Set<String> = []
    /// Instances the driver lists that could not be registered (no room, a limit refused).
    var unadoptable: Set<String> = []
    /// Rollbacks a regression asked for that an error stopped before they ran: tried next round.
    var retryRollbacks: [(SwapRecord, SwapLifecycle)] = []
    /// The registry's lock: one change of it (and of its records in the store) at a time.
    var registryBusy = false
    var registryWaiters: [CheckedContinuation<Void, Never>] = []

    /// Encoded `GET /prediction` answers of this round; forecasts change only when a slot is observed.
    public nonisolated let predictionCache = PredictionCache()
    /// What goes wrong outside any caller's answer (a run an error stopped, a rollback a round started).
    nonisolated let logger = Logger(label: "poolswap")

    public init(configuration: ServiceConfiguration, store: any PoolStore, driver: any InstanceDriver) {
        self.configuration = configuration
        self.store = store
        self.driver = driver
        simulated = driver as? SimulatedDriver
        monitor = SwapMonitor(keep: configuration.verification.baselineRounds, memoryRounds: configuration.risk.workingSetRounds(interval: configuration.interval))
        forecaster.riskLevel = configuration.riskLevel
        forecaster.configuration = configuration.forecastConfiguration
        forecaster.reset(firstSlot: 0)
    }

    /// Performs driver actions, one run at a time.
    var executor: SwapExecutor {
        if let executorBox { return executorBox }
        let made = SwapExecutor(driver: driver, host: RuntimeExecutionHost(runtime: self))
        executorBox = made
        return made
    }

    var interval: Int64 { Int64(configuration.interval) }

    /// Loads the pool from the store (after a restart), replays the last `warmStartSlots` of
    /// stored samples into the forecaster, installs the saved networks, registers what the
    /// driver finds, restores cooldowns and the swaps being verified, and recovers every
    /// execution a stop interrupted.
    public func restore(startingAt time: Int64) async throws {
        do {
            registry = try PoolRegistry(nodes: try await store.nodes(), instances: try await store.instances(tenant: nil))
        } catch let error as LedgerError {
            throw StoreError("the stored pool breaks the ledger's invariants: \(error)")
        }
        startedAt = time
        slot = (time / interval) * interval
        // Only slots from the oldest stored sample on are worth replaying, and none when even the
        // newest is older than the window.
        var warm = warmStartSlots(instances: registry.records.count)
        if let stored = try await store.sampleTimes() {
            let first = max(stored.lowerBound / interval, time / interval - Int64(warm))
            warm = stored.upperBound / interval < first ? 0 : Int(max(0, time / interval - first))
        } else {
            warm = 0
        }
        forecaster.reset(firstSlot: time / interval - Int64(warm))
        for id in registry.records.keys.sorted() { admit(id) }
        try await warmStart(slots: warm, before: slot!)
        await loadNetworks()
        try await discover()
        let recent = try await store.swapHistory(SwapHistoryQuery(from: time - Int64(configuration.cooldownRounds) * interval - interval, limit: 1_000_000))
        for swap in recent where swap.tookEffect {
            cooldownUntil[swap.instance] = max(cooldownUntil[swap.instance] ?? .min, swap.time + Int64(configuration.cooldownRounds) * interval)
        }
        for record in try await store.swapHistory(SwapHistoryQuery(outcome: .verifying, limit: 1_000_000)) {
            monitor.watch(record, SwapRecords.lifecycle(record))
        }
        for record in try await store.swapHistory(SwapHistoryQuery(outcome: .held, limit: 1_000_000)) { held[record.instance] = record.time }
        try await recover(at: time)
    }

    func admit(_ id: String) {
        let record = registry.records[id]
        forecaster.admit(id, servedBy: Set(networks.keys), gpu: (record?.allocation[2] ?? 0) > 0 || (record?.maximum[2] ?? 0) > 0)
    }

    // MARK: Registration

    /// Registers or updates a node; refused if its instances would no longer fit.
    public func register(node: NodeRecord) async throws {
        await acquireRegistry()
        defer { releaseRegistry() }
        var next = registry
        try next.upsert(node: node)
        try await store.upsert(node: node)
        registry = next
    }

    /// Registers or updates an instance; the pool's invariants are checked first. An update
    /// of an instance a swap is changing waits for the swap.
    public func register(instance: InstanceRecord) async throws {
        guard registry.node(instance.node) != nil else {
            throw APIFailure.unprocessable("instance \(instance.id) refers to unknown node \(instance.node)")
        }
        await acquireRegistry()
        defer { releaseRegistry() }
        if runs.values.contains(where: { $0.lifecycles.contains { $0.change.instance.rawValue == instance.id && $0.phase == .applying } }) {
            throw APIFailure.conflict("instance \(instance.id) is being swapped now; register it again once the swap is done")
        }
        var next = registry
        try next.upsert(instance: instance)
        try await store.upsert(instance: instance)
        registry = next
        admit(instance.id)
        predictionCache.forget(instance.id)
    }

    /// Registers the nodes and instances the driver lists that the pool does not know yet,
    /// with the configured SLA, and notes those it no longer lists.
    func discover() async throws {
        guard simulated == nil, driver.name != "none" else { return }
        let inventory = try await driver.inventory()
        for node in inventory.nodes where registry.node(node.id.rawValue) == nil {
            let reserve = ResourceVector.minimum(vector(configuration.nodeReserve), node.capacity)
            try await register(node: NodeRecord(id: node.id.rawValue, capacity: values(node.capacity), reserve: values(reserve)))
        }
        missing = Set(registry.records.keys).subtracting(inventory.instances.map(\.id.rawValue))
        for found in inventory.instances where registry.records[found.id.rawValue] == nil && !unadoptable.contains(found.id.rawValue) {
            do { try await adoptDiscovered(found) } catch {
                // One instance that cannot be taken on does not stop the others or the round.
                unadoptable.insert(found.id.rawValue)
                logger.warning("instance \(found.id) on \(found.node) left alone: \(error)")
            }
        }
    }

    /// Registers an instance found on the driver with the limits it has. One without a limit
    /// gets the configured allocation (memory at least 1.25 × its working set), applied to it:
    /// the ledger holds finite amounts only. Its SLA bounds widen to hold what it has; one the
    /// node has no room for is refused (the ledger's check), never squeezed.
    private func adoptDiscovered(_ found: DiscoveredInstance) async throws {
        guard let node = registry.node(found.node.rawValue) else { return }
        let allocatable = zip(node.capacity, node.reserve).map { $0 - $1 }
        var maximum = configuration.discoveredMaximum ?? allocatable
        var minimum = configuration.discoveredMinimum
        let used = (try? await driver.signals(of: [found.id]))?[found.id]
        var allocation = values(found.allocation)
        for r in 0..<3 where !allocation[r].isFinite {
            allocation[r] = min(configuration.discoveredAllocation[r], maximum[r])
            if r == 1, let workingSet = used?.workingSet { allocation[r] = max(allocation[r], workingSet * 1.25) }
        }
        allocation[2] = allocation[2].rounded(.down)
        for r in 0..<3 {
            minimum[r] = min(minimum[r], allocation[r])
            maximum[r] = max(maximum[r], allocation[r])
        }
        let record = InstanceRecord(id: found.id.rawValue, tenant: configuration.discoveredTenant, node: node.id, allocation: allocation,
                                    minimum: minimum, maximum: maximum, weight: configuration.discoveredWeight)
        var check = registry
        try check.upsert(instance: record)  // fits the node, or nothing is applied
        if vector(allocation) != found.allocation { try await driver.apply(vector(allocation), to: found.id) }
        try await register(instance: record)
    }

    public func instance(_ id: String) -> InstanceRecord? { registry.records[id] }
    public func allInstances() -> [InstanceRecord] { forecaster.order.compactMap { registry.records[$0] } }
    public func allNodes() -> [NodeRecord] { registry.nodes }
    public func used(_ id: String) -> [Double]? { forecaster.lastUsed[id] }
    var instances: [String: InstanceRecord] { registry.records }

    // MARK: Ingest

    /// Validates and stores a batch of samples. Bad samples are counted by reason and skipped;
    /// the rest are stored before this returns.
    public func accept(_ batch: [UsageSampleBody], allowed: (String) -> Bool) async throws -> UsageReceipt {
        var now = (slot ?? batch.map(\.time).max() ?? 0) + interval
        if let wallClock { now = max(now, wallClock()) }
        let (good, receipt, said) = intake.check(batch, now: now, interval: interval, known: { registry.records[$0] != nil && allowed($0) },
                                           limit: { registry.records[$0]?.allocation[1] })
        _ = try await store.append(samples: good)
        intake.keep(good, said: said)
        return receipt
    }

    /// Reads the driver for the slot starting at `time`: the simulated pool runs the slot,
    /// real drivers are listed and read; what each instance did becomes its sample, with the
    /// cpu throttled counted in (the forecaster learns demand, not what the quota let through).
    func sampleDriver(slot time: Int64) async throws -> UsageReceipt? {
        if let simulated {
            simulated.advance(toSlot: Int((time - simulated.trace.origin) / Int64(simulated.trace.interval)), time: time)
        }
        guard driver.name != "none" else { return nil }
        try await discover()
        guard readsDriver else { return nil }
        let ids = forecaster.order.map { InstanceID($0) }
        roundDeltas = sampler.take(try await driver.signals(of: ids))
        // The demand is what the instance would have used: cpu served plus cpu throttled; memory
        // of a slot with an OOM kill is bumped above the limit (`OOMDemand`).
        let batch = roundDeltas.sorted { $0.key < $1.key }.compactMap { id, delta -> UsageSampleBody? in
            guard delta.present else { return nil }
            return UsageSampleBody(instance: id, time: time, cpu: delta.cpu + delta.throttled, memory: delta.memory, gpu: delta.gpu,
                                   throttled: delta.throttled, oomKills: delta.oomKills)
        }
        return try await accept(batch) { _ in true }
    }

    /// Whether rounds read usage from the driver (the simulated pool always; cgroup and oci
    /// unless `driverSamples` is off) rather than from what is pushed or pulled.
    var readsDriver: Bool { simulated != nil || configuration.samplesFromDriver }

    /// Feeds the forecaster the slot starting at `time` (each instance's newest sample in it, or
    /// a gap) and the verification its round.
    func observeSlot(_ time: Int64) {
        guard alignForecaster(to: time / interval) else { return }
        var used: [String: [Double]] = [:]
        for id in forecaster.order {
            if let sample = intake.sample(id, inSlotAt: time, interval: interval) { used[id] = sample.used }
        }
        // The verification compares each round with the forecast made for it.
        let watchedInstances = Set(monitor.watched.values.map(\.record.instance))
        var forecastFor: [String: [Double]] = [:]
        for id in watchedInstances { if let record = registry.records[id] { forecastFor[id] = forecaster.upper(record, horizon: 1, level: 2) } }
        forecaster.observe(slot: time, interval: interval, used: used) { registry.records[$0]?.allocation }
        if !readsDriver {
            // No counters: the round is the sample pushed, with the throttling and OOM kills it gave.
            roundDeltas = [:]
            for (id, u) in used {
                let said = intake.signals[id] ?? (0, 0)
                roundDeltas[id] = SignalDelta(seconds: Double(interval), cpu: u[0] - said.throttled, throttled: said.throttled,
                                              memory: u[1], gpu: u[2], oomKills: said.oomKills)
            }
        }
        for id in forecaster.order {
            let delta = roundDeltas[id] ?? SignalDelta(seconds: Double(interval), cpu: 0, throttled: 0, memory: 0, present: false)
            let upper = forecastFor[id]
            monitor.record(VerificationRound(time: time, delta: delta, forecastCPU: upper?[0], forecastMemory: upper?[1]), for: id)
        }
        intake.drop(before: time + interval)
        slot = time + interval
        // Served answers stay until the round replaces them; anything else forgets them now.
        if servesHTTP { predictionCache.invalidate() } else { predictionCache.clear() }
        var shortfall = [0.0, 0, 0]
        for (id, sample) in used {
            guard let allocation = registry.records[id]?.allocation else { continue }
            for r in 0..<3 { shortfall[r] += max(0, sample[r] - allocation[r]) }
        }
        lastShortfall = shortfall
    }

    // MARK: Forecasts

    public func prediction(_ id: String, horizons: [Int]) -> PredictionView? {
        guard let series = forecaster.seriesOf[id] else { return nil }
        let base = poolTime
        let predictions = horizons.map { asked -> HorizonPrediction in
            // The engine's horizon that covers the one asked for: every 5 minutes to 30.
            let k = forecaster.engine.horizonPosition(covering: asked)
            let horizon = forecaster.engine.horizons[k]
            let h = forecaster.coverageHorizons.firstIndex(of: horizon)
            func view(_ index: Int, _ resource: Int) -> ResourcePrediction {
                let f = forecaster.forecastOrNone(index, k: k)
                var (shares, scored) = ([Double.nan, .nan, .nan], 0)
                if let h { (shares, scored) = forecaster.coverage(id, resource: resource, horizon: h) }
                var measured: [String: Double] = [:]
                for (level, share) in zip(["80", "90", "95"], shares) where !share.isNaN { measured[level] = share }
                return ResourcePrediction(
                    point: f.point,
                    intervals: IntervalForecast.levels.indices.map { IntervalView(level: IntervalForecast.levels[$0], lower: f.lower[$0], upper: f.upper[$0]) },
                    model: f.model, coverage: measured, scored: scored)
            }
            let minutes = (horizon * configuration.interval + 30) / 60
            return HorizonPrediction(horizon: "\(minutes)m", minutes: minutes,
                                     target: base + Int64(horizon - 1) * interval,
                                     cpu: view(series.cpu, 0), memory: view(series.memory, 1), gpu: series.gpu >= 0 ? view(series.gpu, 2) : nil)
        }
        return PredictionView(instance: id, trainedSince: startedAt, lastObserved: forecaster.lastObservedSlot[id], predictions: predictions)
    }

    /// The pure grows committed early since the last call (see `commitSuperseded`).
    func takeSupersededCommits() -> Int {
        defer { supersededCommits = 0 }
        return supersededCommits
    }

    /// The demand a plan meets for `id` (see `PoolForecaster.demand`).
    func demand(_ id: String, horizon: Int) -> [Double] {
        guard let record = registry.records[id] else { return [0, 0, 0] }
        return forecaster.demand(record, horizon: horizon)
    }

    public func poolView() -> PoolView {
        var nodeViews: [PoolView.NodeView] = []
        var total = [0.0, 0, 0], allocated = [0.0, 0, 0], used = [0.0, 0, 0], forecast = [0.0, 0, 0]
        var byNode: [String: [InstanceRecord]] = [:]
        for record in registry.records.values { byNode[record.node, default: []].append(record) }
        for node in registry.nodes {
            var a = [0.0, 0, 0], u = [0.0, 0, 0], ahead = [0.0, 0, 0]
            let held = byNode[node.id] ?? []
            for record in held {
                for r in 0..<3 { a[r] += record.allocation[r]; u[r] += forecaster.lastUsed[record.id]?[r] ?? 0 }
                let f = forecaster.point(record.id, horizon: configuration.horizonSlots)
                for r in 0..<3 { ahead[r] += f[r] }
            }
            for r in 0..<3 { total[r] += node.capacity[r]; allocated[r] += a[r]; used[r] += u[r]; forecast[r] += ahead[r] }
            nodeViews.append(.init(id: node.id, capacity: Amounts(node.capacity), reserve: Amounts(node.reserve),
                                   allocated: Amounts(a), used: Amounts(u), forecast: Amounts(ahead), instances: held.count))
        }
        return PoolView(time: slot, round: round, capacity: Amounts(total), allocated: Amounts(allocated),
                        used: Amounts(used), forecast: Amounts(forecast), nodes: nodeViews)
    }

    func advanceRound() { round += 1 }

    /// Slots of history the forecaster holds, the warm start's included: what the loop's warm-up counts.
    var historySlots: Int { forecaster.engine.slotCount }
}
