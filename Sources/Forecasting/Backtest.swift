import PoolCore

/// A rolling-origin backtest of the forecasting engine on a trace, as protocol PSF-1 defines
/// it: hourly origins from a cut-off, every series forecast at each origin from what was
/// observed strictly before it.
public struct Backtest: Sendable {
    public var cutoff: Int64
    public var originCount: Int
    /// Seconds between origins.
    public var originEvery: Int64
    /// Scored horizons, in slots (1 = the slot starting at the origin); nil: 5, 15 and 30
    /// minutes in slots of the trace (1, 3, 6 at 300 s; 5, 16, 32 at 57 s).
    public var horizons: [Int]?
    public var resources: [Resource]
    public var configuration: ForecastConfiguration

    /// PSF-1's defaults: cut-off 2013-09-15T00:00:00Z, 336 hourly origins, horizons 5, 15 and
    /// 30 minutes, cpu and memory.
    public init(
        cutoff: Int64 = 1_379_203_200, originCount: Int = 336, originEvery: Int64 = 3_600, horizons: [Int]? = nil,
        resources: [Resource] = [.cpu, .memory], configuration: ForecastConfiguration = ForecastConfiguration()
    ) {
        self.cutoff = cutoff
        self.originCount = originCount
        self.originEvery = originEvery
        self.horizons = horizons
        self.resources = resources
        self.configuration = configuration
    }

    public struct Row: Sendable, Equatable {
        /// The member (instance, container) and the target (`cpu`, `gpu_util`, ...).
        public var id: String
        public var target: String
        /// Epoch seconds.
        public var origin: Int64
        public var horizon: Int
        public var forecast: IntervalForecast
    }

    /// Why a backtest cannot run.
    public struct Problem: Error, CustomStringConvertible {
        public var description: String
    }

    /// The scored horizons at `interval`-second slots (at long intervals 5, 15 and 30 minutes
    /// may round to the same slot: it is scored once).
    public func scoredHorizons(interval: Int) -> [Int] {
        var seen = Set<Int>()
        return (horizons ?? ForecastConfiguration.reportedHorizonSeconds.map(Cadence(interval: interval).slots)).filter { seen.insert($0).inserted }
    }

    /// Why the scored horizons cannot be forecast at `interval`-second slots, if they cannot:
    /// each must be one of the engine's.
    public func horizonProblem(interval: Int) -> String? {
        var configuration = self.configuration
        configuration.interval = interval
        let engine = configuration.horizons, missing = scoredHorizons(interval: interval).filter { !engine.contains($0) }
        guard !missing.isEmpty else { return nil }
        return "horizons \(missing) are not among the engine's \(engine) steps of \(interval) s (every 5 minutes to 30)"
    }

    public var origins: [Int64] { (0..<originCount).map { cutoff + Int64($0) * originEvery } }

    /// Time before the first origin from which a network's forecasts are scored by the model
    /// selection (two days), at most half the trace before the first origin.
    public var networkWarmupSeconds = 2 * 86_400

    /// Time before the first origin from which the engine is fed (14 days; nil: from the
    /// trace's start). Its baselines keep 8 days of history and weigh their errors with a
    /// 3-day half-life, so earlier slots hardly move what it forecasts at the origins.
    public var engineWarmupSeconds: Int? = 14 * 86_400

    /// The network's warm-up on `panel`, in its slots: `networkWarmupSeconds`, at most half the
    /// slots before the first origin, so that a short trace leaves the network the other half
    /// to train on.
    public func networkWarmup(_ panel: ForecastPanel) -> Int {
        let before = Int((cutoff - panel.origin) / Int64(panel.interval))
        return min(Cadence(interval: panel.interval).slots(networkWarmupSeconds), max(0, before / 2))
    }

    /// The series of target `target` as training input: one per member on the grid from slot
    /// 0, NaN where missing, with the member's other target (when there are two) and the
    /// allocation, cut `networkWarmup` slots before the first origin, so that the slots on which
    /// the model selection first scores the network are ones it was not trained on.
    public func trainingSeries(_ panel: ForecastPanel, _ target: Int) -> (series: [TrainingSeries], end: Int) {
        let end = Int((cutoff - panel.origin) / Int64(panel.interval)) - networkWarmup(panel)
        let other = panel.targets.count == 2 ? 1 - target : nil
        let series = panel.members.map { member in
            TrainingSeries(values: (0..<max(0, end)).map { member.value(target, at: $0) },
                           other: other.map { other in (0..<max(0, end)).map { member.value(other, at: $0) } },
                           allocation: (0..<max(0, end)).map { member.allocation(target, at: $0) })
        }
        return (series, end)
    }

    /// `trainingSeries` of `resource`, one of `resources`, on `trace`.
    public func trainingSeries(_ trace: UsageTrace, _ resource: Resource) -> (series: [TrainingSeries], end: Int) {
        trainingSeries(ForecastPanel(trace, resources: resources), resources.firstIndex(of: resource)!)
    }

    /// The backtest of `resources` of `trace` (see the other `run`).
    public func run<C: Clock>(
        on trace: UsageTrace, networks: [Resource: RecurrentNetwork] = [:],
        clock: C = ContinuousClock(), originTime: (C.Duration) -> Void = { _ in },
        progress: (Double) -> Void = { _ in }, emit: (Row) -> Void
    ) throws(Problem) {
        var byTarget: [String: RecurrentNetwork] = [:]
        for (resource, network) in networks { byTarget["\(resource)"] = network }
        try run(on: ForecastPanel(trace, resources: resources), networks: byTarget, clock: clock, originTime: originTime, progress: progress, emit: emit)
    }

    /// Runs the backtest, handing every row to `emit` in origin order and the fraction done
    /// to `progress` after each origin. Reads no sample at or after the last origin. Each
    /// target with a network in `networks` (trained only on data before the cut-off) gets
    /// it as one more model beside the baselines, scored from `networkWarmup` slots before
    /// the first origin on.
    /// `originTime` receives, for each origin, how long `clock` saw the forecasts of every
    /// series at it take: the engine taking the slot before the origin (which runs the
    /// networks) and the forecasts read at it (emitting rows excluded).
    public func run<C: Clock>(
        on panel: ForecastPanel, networks: [String: RecurrentNetwork] = [:],
        clock: C = ContinuousClock(), originTime: (C.Duration) -> Void = { _ in },
        progress: (Double) -> Void = { _ in }, emit: (Row) -> Void
    ) throws(Problem) {
        let interval = Int64(panel.interval)
        var configuration = self.configuration
        configuration.interval = panel.interval
        if let problem = configuration.problem { throw Problem(description: problem) }
        if let problem = horizonProblem(interval: panel.interval) { throw Problem(description: problem) }
        let horizons = scoredHorizons(interval: panel.interval)
        guard originCount > 0, originEvery > 0 else { throw Problem(description: "there must be at least one origin, at a positive spacing") }
        for origin in origins where (origin - panel.origin) % interval != 0 {
            throw Problem(description: "origin \(UTCTime.iso8601(origin)) is not on the trace's \(interval) s grid")
        }
        let originSlots = origins.map { Int(($0 - panel.origin) / interval) }
        guard let first = originSlots.first, first >= 0 else {
            throw Problem(description: "the first origin \(UTCTime.iso8601(cutoff)) is before the trace starts at \(UTCTime.iso8601(panel.origin))")
        }
        guard first < panel.slotCount else {
            throw Problem(description: "the trace ends at \(UTCTime.iso8601(panel.origin + Int64(panel.slotCount) * interval)), before the first origin \(UTCTime.iso8601(cutoff))")
        }
        let targets = panel.targets, members = panel.members
        let cadence = configuration.cadence
        let startSlot = max(0, first - (engineWarmupSeconds.map(cadence.slots) ?? first))
        let activeFrom = max(0, first - networkWarmup(panel) - startSlot)
        var engine = ForecastEngine(seriesCount: members.count * targets.count, configuration: configuration,
                                    firstSlot: panel.origin / interval + Int64(startSlot))
        for member in members.indices where targets.count == 2 {
            engine.pair(member * 2, member * 2 + 1)
        }
        for (index, target) in targets.enumerated() {
            guard let trained = networks[target] else { continue }
            do {
                try NetworkForecaster.check(trained)
                try engine.install(NetworkForecaster(network: trained, activeFrom: activeFrom), as: index,
                                   serving: members.indices.map { $0 * targets.count + index })
            } catch {
                throw Problem(description: "the \(target) network: \(error)")
            }
        }
        var values = [Double](repeating: .nan, count: members.count * targets.count)
        var allocations = values
        var nextOrigin = 0
        var slot = startSlot
        var lastObserve = clock.now.duration(to: clock.now)
        while nextOrigin < originSlots.count {
            if slot == originSlots[nextOrigin] {
                var rows: [Row] = []
                rows.reserveCapacity(members.count * targets.count * horizons.count)
                let started = clock.now
                for (memberIndex, member) in members.enumerated() {
                    for (targetIndex, target) in targets.enumerated() {
                        for horizon in horizons {
                            let forecast = engine.forecast(series: memberIndex * targets.count + targetIndex, horizon: horizon)
                            rows.append(Row(id: member.id, target: target, origin: origins[nextOrigin], horizon: horizon, forecast: forecast))
                        }
                    }
                }
                originTime(lastObserve + started.duration(to: clock.now))
                rows.forEach(emit)
                nextOrigin += 1
                progress(Double(nextOrigin) / Double(originSlots.count))
                if nextOrigin == originSlots.count { break }
            }
            for (memberIndex, member) in members.enumerated() {
                for targetIndex in targets.indices {
                    values[memberIndex * targets.count + targetIndex] = member.value(targetIndex, at: slot)
                    allocations[memberIndex * targets.count + targetIndex] = member.allocation(targetIndex, at: slot)
                }
            }
            let observing = clock.now
            engine.observe(values, allocations: allocations)
            lastObserve = observing.duration(to: clock.now)
            slot += 1
        }
    }
}
