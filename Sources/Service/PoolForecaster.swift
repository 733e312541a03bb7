import Execution
import Forecasting
import PoolCore
import Storage

/// Forecast: the online engine fed every slot, with two series per instance (cpu and memory,
/// each other's partner) and a third for an instance that may use GPUs (a GPU allocation or
/// maximum, or a sample using one), in its own pool of residuals; and the coverage each
/// instance's intervals have measured. Its slot 0 is aligned with pool
/// time; the networks are installed by the runtime (`PoolRuntimeNetworks`).
struct PoolForecaster {
    /// The engine's settings: the pool's interval (`ServiceConfiguration.forecastConfiguration`).
    var configuration = ForecastConfiguration()
    var engine = ForecastEngine(seriesCount: 0)
    /// Instance ids in the order their series were added.
    var order: [String] = []
    /// Each instance's series; `gpu` is -1 for an instance without GPUs.
    var seriesOf: [String: (cpu: Int, memory: Int, gpu: Int)] = [:]
    /// The most GPU devices each instance used in the samples the forecaster was fed.
    var gpuPeak: [String: Double] = [:]
    /// The engine's pool of residuals for GPU series.
    static let gpuPool = 1
    var coverage: [String: CoverageTracker] = [:]
    /// Each instance's last measured use per resource (a resource a sample lacks, NaN, keeps
    /// the value before it; 0 until one comes).
    private(set) var lastUsed: [String: [Double]] = [:]
    var lastObservedSlot: [String: Int64] = [:]
    /// The slot observed last and the grid's interval.
    var lastSlot: Int64?
    var slotInterval: Int64 = 300
    /// Pool time of the oldest sample the engine was fed.
    var historySince: Int64?
    /// This slot's forecasts, `[series * H + k]` for the engine's horizon at position k: they
    /// change only when a slot is observed, and each costs a selection over its residuals.
    private var cache: [IntervalForecast?] = []
    /// The engine's slot count the cache holds forecasts of.
    private var cacheSlot = -1

    /// The forecast of `series` at the first of the engine's horizons at least `horizon` slots
    /// ahead (the longest when none is), computed once per observed slot.
    mutating func forecast(_ series: Int, horizon: Int) -> IntervalForecast {
        forecast(series, k: engine.horizonPosition(covering: horizon))
    }

    /// The forecast of `series` at the engine's horizon at position `k`.
    mutating func forecast(_ series: Int, k: Int) -> IntervalForecast {
        let width = engine.horizons.count
        if cacheSlot != engine.slotCount || cache.count != engine.series.count * width {
            cache = Array(repeating: nil, count: engine.series.count * width)
            cacheSlot = engine.slotCount
        }
        let key = series * width + k
        if let cached = cache[key] { return cached }
        let made = engine.forecast(series: series, k: k)
        cache[key] = made
        return made
    }

    /// Forgets this slot's forecasts: a network installed since forecasts them anew.
    mutating func forgetForecasts() { cacheSlot = -1 }

    /// The horizons of `CoverageTracker` (5, 15 and 30 minutes) in slots of the engine.
    private(set) var coverageHorizons = [1, 3, 6]

    /// A new, empty engine whose slot 0 is the absolute slot `firstSlot`.
    mutating func reset(firstSlot: Int64) {
        engine = ForecastEngine(seriesCount: 0, configuration: configuration, firstSlot: firstSlot)
        coverageHorizons = CoverageTracker.horizonSeconds.map(configuration.cadence.slots)
        cacheSlot = -1
        seriesOf = [:]
        order = []
        coverage = [:]
    }

    /// Gives `id` its series (once), served by the installed networks of `served` resources;
    /// a GPU series when `gpu`.
    mutating func admit(_ id: String, servedBy served: Set<Resource>, gpu: Bool) {
        guard seriesOf[id] == nil else { return }
        let cpu = engine.addSeries(), memory = engine.addSeries()
        engine.pair(cpu, memory)
        seriesOf[id] = (cpu, memory, gpu ? engine.addSeries(pool: Self.gpuPool) : -1)
        order.append(id)
        coverage[id] = CoverageTracker()
        for (resource, index) in [(Resource.cpu, cpu), (.memory, memory)] where served.contains(resource) {
            engine.serve(index, byNetwork: resource.rawValue)
        }
    }

    /// Feeds the slot starting at `time`: each instance's usage in it (absent: a gap) and
    /// allocation; scores and registers coverage.
    mutating func observe(slot time: Int64, interval: Int64, used: [String: [Double]], allocation: (String) -> [Double]?) {
        lastSlot = time
        slotInterval = interval
        // An instance without a GPU series that reports a GPU in use gets one from now on.
        for (id, sample) in used where sample[2] > 0 && seriesOf[id]?.gpu == -1 {
            seriesOf[id]!.gpu = engine.addSeries(pool: Self.gpuPool)
        }
        var values = [Double](repeating: .nan, count: engine.series.count)
        var allocations = values
        for id in order {
            guard let series = seriesOf[id], let held = allocation(id) else { continue }
            if let sample = used[id] {
                values[series.cpu] = sample[0]
                values[series.memory] = sample[1]
                if series.gpu >= 0 { values[series.gpu] = sample[2] }
                gpuPeak[id] = max(gpuPeak[id] ?? 0, sample[2])
                remember(sample, for: id)
                lastObservedSlot[id] = time
                historySince = historySince ?? time
            }
            allocations[series.cpu] = held[0]
            allocations[series.memory] = held[1]
            if series.gpu >= 0 { allocations[series.gpu] = held[2] }
        }
        engine.observe(values, allocations: allocations)
        // Intervals are scored for one slot in 5 minutes (every slot at 300 s or longer), as the
        // engine keeps its residuals: finer samples add no pending forecasts.
        let expects = engine.slotCount % configuration.cadence.stride == 0
        for id in order {
            guard let series = seriesOf[id] else { continue }
            coverage[id]?.observe(resource: 0, slot: time, value: values[series.cpu])
            coverage[id]?.observe(resource: 1, slot: time, value: values[series.memory])
            if series.gpu >= 0 { coverage[id]?.observe(resource: 2, slot: time, value: values[series.gpu]) }
            for (h, horizon) in coverageHorizons.enumerated() where expects {
                let target = time + Int64(horizon) * interval
                for (r, index) in [series.cpu, series.memory, series.gpu].enumerated() where index >= 0 {
                    let f = forecast(index, horizon: horizon)
                    coverage[id]?.expect(resource: r, horizon: h, target: target, lower: f.lower, upper: f.upper)
                }
            }
        }
    }

    /// Whether `id` has been observed at all: without it there is no forecast.
    func observed(_ id: String) -> Bool { lastObservedSlot[id] != nil }

    /// Time without a sample after which an instance's forecast no longer backs a shrink: 15
    /// minutes, and at least 3 slots.
    static let staleAfterSeconds: Int64 = 900, staleAfterSlots: Int64 = 3

    /// Whether `id` was observed in the last 15 minutes (3 slots when they are longer): a
    /// forecast of an instance not seen for longer does not back a risk assessment.
    func recentlyObserved(_ id: String) -> Bool {
        guard let seen = lastObservedSlot[id], let lastSlot else { return false }
        return lastSlot - seen < max(Self.staleAfterSlots * slotInterval, Self.staleAfterSeconds)
    }

    /// Scales the chance of usage above its allocation every SLA tier accepts (`SLATier.exceedance`):
    /// `ServiceConfiguration.riskLevel`.
    var riskLevel = 1.0

    /// The demand a plan should meet: the amount usage exceeds with the chance the SLA tier
    /// accepts, scaled by `riskLevel` (at 1: the upper end of the 80/90/95% interval for weight
    /// below 3, below 10, 10 or more), the highest over the slots of the horizon (the allocation
    /// is held through all of them); the allocation before any sample. GPUs in whole devices
    /// (`gpuDevices`).
    mutating func demand(_ record: InstanceRecord, horizon: Int) -> [Double] {
        guard let series = seriesOf[record.id], observed(record.id) else { return record.allocation }
        let chance = allowedExceedance(weight: record.weight)
        var cpu = 0.0, memory = 0.0, gpu = 0.0
        for k in 0...engine.horizonPosition(covering: horizon) {
            cpu = max(cpu, forecast(series.cpu, k: k).upperQuantile(exceedance: chance))
            memory = max(memory, forecast(series.memory, k: k).upperQuantile(exceedance: chance))
            if series.gpu >= 0 { gpu = max(gpu, forecast(series.gpu, k: k).upperQuantile(exceedance: chance)) }
        }
        return [cpu, memory, Self.gpuDevices(forecast: gpu, last: lastUsed[record.id]?[2], peak: gpuPeak[record.id])]
    }

    /// GPUs are whole devices and a device in use is not free: its utilisation may be 0 while
    /// it holds a resident model, which the sample reports as a device used. So the demand is
    /// the forecast's upper quantile rounded up to whole devices (a 1e-6 tolerance keeps
    /// 2.0000000001 at 2), at most the most devices the instance used (`peak`: an interval
    /// still wide, before a day of the instance's own errors calibrates it, asks for no device
    /// it never used), and never below the devices the last sample used (a forecast that a
    /// held device frees itself is not acted on: its holder frees it, and a sample says so).
    static func gpuDevices(forecast: Double, last: Double?, peak: Double?) -> Double {
        let held = max(0, last ?? 0).rounded(.up)
        let forecastDevices = forecast.isFinite ? max(0, forecast - 1e-6).rounded(.up) : 0
        return max(held, min(forecastDevices, max(0, peak ?? 0).rounded(.up)))
    }

    /// The forecast of series `series` at horizon position `k`; none (0) when it is -1 (no GPU series).
    mutating func forecastOrNone(_ series: Int, k: Int) -> IntervalForecast {
        series >= 0 ? forecast(series, k: k) : IntervalForecast(point: 0, lower: [0, 0, 0], upper: [0, 0, 0], model: "none")
    }

    /// The interval level (0, 1, 2 = 80, 90, 95%) an SLA weight asks for: its `SLATier`.
    static func tier(weight: Double) -> Int { SLATier(weight: weight).rawValue }

    /// The chance of usage above its allocation an instance of SLA weight `weight` accepts: its
    /// tier's, scaled by the risk level.
    func allowedExceedance(weight: Double) -> Double { min(0.5, SLATier(weight: weight).exceedance * riskLevel) }

    mutating func point(_ id: String, horizon: Int) -> [Double] {
        guard let series = seriesOf[id], observed(id) else { return lastUsed[id] ?? [0, 0, 0] }
        let k = engine.horizonPosition(covering: horizon)
        return [forecast(series.cpu, k: k).point, forecast(series.memory, k: k).point, forecastOrNone(series.gpu, k: k).point]
    }

    /// Upper bounds at interval level `level` (0, 1, 2 = 80, 90, 95%); the allocation before any sample.
    mutating func upper(_ record: InstanceRecord, horizon: Int, level: Int) -> [Double] {
        guard let series = seriesOf[record.id], observed(record.id) else { return record.allocation }
        let k = engine.horizonPosition(covering: horizon)
        return [forecast(series.cpu, k: k).upper[level], forecast(series.memory, k: k).upper[level], forecastOrNone(series.gpu, k: k).upper[level]]
    }

    /// The forecast of the engine's horizons up to the one covering `slots` (every slot at 300 s)
    /// as quantiles, per resource, for the risk assessment; empty when `id` was never observed
    /// (no forecast: no shrink).
    mutating func quantiles(_ id: String, slots: Int) -> [Resource: ForecastQuantiles] {
        guard let series = seriesOf[id], recentlyObserved(id) else { return [:] }
        let levels = IntervalForecast.levels.reversed().map { (1 - $0) / 2 } + [0.5] + IntervalForecast.levels.map { (1 + $0) / 2 }
        var out: [Resource: ForecastQuantiles] = [:]
        for (resource, index) in [(Resource.cpu, series.cpu), (.memory, series.memory)] {
            let rows = (0...engine.horizonPosition(covering: slots)).map { k -> [Double] in
                let f = forecast(index, k: k)
                return f.lower.reversed() + [f.point] + f.upper
            }
            out[resource] = ForecastQuantiles(levels: levels, slots: rows)
        }
        return out
    }

    func coverage(_ id: String, resource: Int, horizon: Int) -> (shares: [Double], scored: Int) {
        coverage[id]?.coverage(resource: resource, horizon: horizon) ?? ([.nan, .nan, .nan], 0)
    }
}

extension PoolForecaster {
    /// Takes `sample`'s measured resources as the instance's last use.
    mutating func remember(_ sample: [Double], for id: String) {
        var last = lastUsed[id] ?? Array(repeating: 0, count: sample.count)
        for (r, value) in sample.enumerated() where r < last.count && !value.isNaN { last[r] = value }
        lastUsed[id] = last
    }
}
