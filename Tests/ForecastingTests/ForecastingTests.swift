import Foundation
import Drivers
@testable import Forecasting
import PoolCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension SplitMix64 {
    /// A standard normal draw (Box–Muller).
    mutating func normal() -> Double {
        let u = Double.random(in: Double.ulpOfOne..<1, using: &self)
        let v = Double.random(in: 0..<1, using: &self)
        return sqrt(-2 * log(u)) * cos(2 * Double.pi * v)
    }
}

func history(_ values: [Double], capacity: Int = 2016) -> RecentHistory {
    var history = RecentHistory(capacity: capacity)
    for value in values { history.append(value) }
    return history
}

func forecast(_ model: some Forecaster, _ values: [Double], horizons: Int = 3) -> [Double] {
    forecast(model, values, at: Array(1...horizons))
}

/// The forecasts of `model` after `values`, at the horizons `at` (slots ahead).
func forecast(_ model: some Forecaster, _ values: [Double], at horizons: [Int]) -> [Double] {
    var model = model
    var recent = RecentHistory(capacity: 2016)
    for value in values {
        recent.append(value)
        model.observe(value, history: recent)
    }
    var output = [Double](repeating: .nan, count: horizons.count)
    var scratch: [Double] = []
    output.withUnsafeMutableBufferPointer { model.forecast(recent, horizons: horizons, into: $0, scratch: &scratch) }
    return output
}

@Suite struct BaselineTests {
    @Test func naiveRepeatsTheLastPresentValue() {
        #expect(forecast(NaiveForecaster(), [1, 2, 3, .nan]) == [3, 3, 3])
    }

    @Test func seasonalNaiveReadsOneSeasonBeforeEachTarget() {
        // Season 4: the slots after [10 20 30 40 | 11 21 31 41] are forecast as 11, 21, 31.
        #expect(forecast(SeasonalNaiveForecaster(season: 4), [10, 20, 30, 40, 11, 21, 31, 41]) == [11, 21, 31])
        // A missing seasonal value falls back to the last observation.
        #expect(forecast(SeasonalNaiveForecaster(season: 4), [10, 20, 30, 40, .nan, 21, 31, 41]) == [41, 21, 31])
    }

    @Test func seasonalDifferenceAddsLastSeasonsChangeToTheCurrentLevel() {
        // Last season went 40 -> 11 -> 21 -> 31 (from lag 5); now at 50: 50 + (11 - 40) = 21, 50 + (21 - 40) = 31.
        #expect(forecast(SeasonalDifferenceForecaster(season: 4), [1, 2, 3, 40, 11, 21, 31, 50], horizons: 2) == [21, 31])
    }

    @Test func windowsSkipMissingSlots() {
        #expect(forecast(WindowForecaster(.mean, of: 3), [100, 1, .nan, 2, 3]) == [2, 2, 2])
        #expect(forecast(WindowForecaster(.median, of: 3), [0, 9, 1, 5]) == [5, 5, 5])
        #expect(forecast(WindowForecaster(.median, of: 4), [0, 9, 1, 5]) == [3, 3, 3])
    }

    @Test func exponentialSmoothingIgnoresMissingSlots() {
        #expect(forecast(ExponentialSmoothingForecaster(alpha: 0.5), [2, .nan, 4]) == [3, 3, 3])
    }

    @Test func quantileSelectionMatchesSorting() {
        var random = SplitMix64(seed: 7)
        for _ in 0..<200 {
            let values = (0..<Int.random(in: 1...300, using: &random)).map { _ in Double(Int.random(in: 0...50, using: &random)) }
            let q = Double.random(in: 0...1, using: &random)
            var copy = values
            let sorted = values.sorted()
            #expect(selectQuantile(&copy, q) == sorted[Int((q * Double(values.count - 1)).rounded(.down))])
        }
    }
}

@Suite struct CalibrationTests {
    /// Feeds `values` to a one-series engine; after `warmup` slots, checks each 1-step interval
    /// against the next value and returns the coverage per level.
    func coverage(_ values: [Double], warmup: Int) -> [Double] {
        var engine = ForecastEngine(seriesCount: 1)
        var hits = [0, 0, 0]
        var scored = 0
        for (slot, value) in values.enumerated() {
            if slot >= warmup {
                let f = engine.forecast(series: 0, horizon: 1)
                for level in 0..<3 where f.lower[level] <= value && value <= f.upper[level] { hits[level] += 1 }
                scored += 1
            }
            engine.observe([value])
        }
        return hits.map { Double($0) / Double(scored) }
    }

    @Test func gaussianNoiseIsCoveredAtTheNominalLevels() {
        var random = SplitMix64(seed: 11)
        let values = (0..<8_000).map { _ in max(0, 10 + random.normal()) }
        let measured = coverage(values, warmup: 2_016)
        for (level, nominal) in IntervalForecast.levels.enumerated() {
            #expect(abs(measured[level] - nominal) < 0.025, "level \(nominal): coverage \(measured[level])")
        }
    }

    @Test func skewedHeavyTailedUsageIsCoveredToo() {
        // Mostly near 0.2 cores with exponential bursts: the shape of idle VMs' cpu.
        var random = SplitMix64(seed: 12)
        let values = (0..<8_000).map { _ in 0.2 - 0.15 * log(Double.random(in: Double.ulpOfOne..<1, using: &random)) }
        let measured = coverage(values, warmup: 2_016)
        for (level, nominal) in IntervalForecast.levels.enumerated() {
            #expect(abs(measured[level] - nominal) < 0.025, "level \(nominal): coverage \(measured[level])")
        }
    }

    @Test func intervalsAreNestedNonNegativeAndWideAtColdStart() {
        var engine = ForecastEngine(seriesCount: 1)
        engine.observe([1.0])
        let cold = engine.forecast(series: 0, horizon: 1)
        #expect(cold.point == 1)
        #expect(cold.upper[0] >= 3 && cold.lower[0] == 0)
        var random = SplitMix64(seed: 13)
        for _ in 0..<500 { engine.observe([abs(random.normal())]) }
        for horizon in 1...6 {
            let f = engine.forecast(series: 0, horizon: horizon)
            #expect(f.lower[2] <= f.lower[1] && f.lower[1] <= f.lower[0] && f.lower[0] <= f.upper[0])
            #expect(f.upper[0] <= f.upper[1] && f.upper[1] <= f.upper[2])
            #expect(f.lower[2] >= 0)
        }
    }

    @Test func aSeriesWithoutOwnHistoryBorrowsThePooledResidualsScaledToIt() {
        var engine = ForecastEngine(seriesCount: 2)
        var random = SplitMix64(seed: 14)
        for slot in 0..<1_000 {
            engine.observe([5 + random.normal(), slot < 990 ? .nan : 5 + random.normal()])
        }
        let pooled = engine.forecast(series: 1, horizon: 1)
        let own = engine.forecast(series: 0, horizon: 1)
        #expect(engine.series[1].residualCount(k: 0) < 20)
        // Both see noise of the same size: the borrowed width is within a factor 2 of the own.
        let ratio = (pooled.upper[1] - pooled.lower[1]) / (own.upper[1] - own.lower[1])
        #expect(ratio > 0.5 && ratio < 2, "width ratio \(ratio)")
    }
}

@Suite struct SelectionTests {
    @Test func aDailyPatternIsForecastByASeasonalModel() {
        var engine = ForecastEngine(seriesCount: 1)
        var random = SplitMix64(seed: 21)
        // Idle with a 2-hour batch job every day at the same time.
        for slot in 0..<(288 * 4) {
            let busy = slot % 288 >= 100 && slot % 288 < 124
            engine.observe([(busy ? 4 : 0.2) + 0.01 * random.normal()])
        }
        // Slot 4 * 288 + 99: the job starts at the next slot but one.
        for _ in (288 * 4)..<(288 * 4 + 98) { engine.observe([0.2 + 0.01 * random.normal()]) }
        let ahead = engine.forecast(series: 0, horizon: 3)
        #expect(ahead.model.hasPrefix("seasonal"))
        #expect(abs(ahead.point - 4) < 0.5)
    }
}

@Suite struct BacktestTests {
    func trace(_ values: [[Double]]) -> UsageTrace {
        UsageTrace(origin: 0, interval: 300, instances: values.enumerated().map { index, cpu in
            InstanceSeries(id: InstanceID("\(index)"), firstSlot: 0, used: [cpu, cpu.map { $0 / 2 }, cpu.map { _ in 0 }], allocated: [cpu, cpu, cpu])
        })
    }

    @Test func aForecastNeverDependsOnDataAtOrAfterItsOrigin() throws {
        var random = SplitMix64(seed: 31)
        let values = (0..<3).map { _ in (0..<2_000).map { _ in abs(random.normal()) } }
        let backtest = Backtest(cutoff: 300 * 1_000, originCount: 12, originEvery: 3_600)
        var original: [Backtest.Row] = []
        try backtest.run(on: trace(values)) { original.append($0) }
        // Replace everything from the 6th origin's slot on.
        let cut = 1_000 + 5 * 12
        var altered = values
        for series in altered.indices { for slot in cut..<2_000 { altered[series][slot] = 100 + abs(random.normal()) } }
        var changed: [Backtest.Row] = []
        try backtest.run(on: trace(altered)) { changed.append($0) }
        #expect(original.count == 12 * 3 * 2 * 3)
        let before = original.filter { $0.origin <= 300 * Int64(cut) }
        #expect(before.count == 6 * 3 * 2 * 3)
        #expect(before == Array(changed.prefix(before.count)))
        // And the data after the cut does change later forecasts, so the check can fail.
        #expect(original.suffix(18) != changed.suffix(18))
    }

    /// A user's own export: one-minute samples, cpu only, read from the CSV format with its
    /// interval inferred, backtested on cpu alone.
    @Test func aBacktestRunsOnACPUOnlyCSVExportAt60Seconds() throws {
        var random = SplitMix64(seed: 5)
        var text = "instance,timestamp,cpu_used,cpu_allocated\n"
        let start: Int64 = 1_714_521_600, minutes = 3 * 1_440
        var truth: [String: [Double]] = [:]
        for name in ["web", "db", "batch"] {
            let phase = Double(truth.count)
            for minute in 0..<minutes {
                let value = max(0, 2 + 1.5 * sin(2 * Double.pi * Double(minute) / 1_440 + phase) + 0.1 * random.normal())
                truth[name, default: []].append(value)
                text += "\(name),\(start + Int64(minute) * 60),\(value),4\n"
            }
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cpu-only-\(UInt64.random(in: 0...UInt64.max)).csv").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (data, _) = try UsageCSVReader(interval: nil).read(file: path)
        #expect(data.interval == 60)
        let cutoff = start + 2 * 86_400
        let backtest = Backtest(cutoff: cutoff, originCount: 12, originEvery: 3_600, resources: [.cpu])
        var rows: [Backtest.Row] = []
        try backtest.run(on: data) { rows.append($0) }
        #expect(rows.count == 3 * 12 * 3 && Set(rows.map(\.horizon)) == [5, 15, 30])
        var error = 0.0, scale = 0.0
        for row in rows {
            let f = row.forecast
            #expect(f.point.isFinite && f.lower.allSatisfy(\.isFinite) && f.upper.allSatisfy(\.isFinite))
            #expect(f.lower[2] <= f.lower[0] && f.lower[0] <= f.upper[0] && f.upper[0] <= f.upper[2] && f.lower[2] <= f.point && f.point <= f.upper[2])
            let minute = Int((row.origin - start) / 60) + row.horizon - 1
            let actual = truth[row.id]![minute]
            error += abs(f.point - actual)
            scale += actual
        }
        // The forecasts follow the series: far closer than its mean level.
        #expect(error < 0.2 * scale, "mean absolute error \(error / Double(rows.count)) against a mean level \(scale / Double(rows.count))")
    }

    @Test func originsOffTheGridOrBeforeTheTraceAreRefused() {
        let data = trace([[1, 2, 3]])
        #expect(throws: Backtest.Problem.self) { try Backtest(cutoff: 150, originCount: 1).run(on: data) { _ in } }
        #expect(throws: Backtest.Problem.self) { try Backtest(cutoff: -300, originCount: 1).run(on: data) { _ in } }
        #expect(throws: Backtest.Problem.self) { try Backtest(cutoff: 300, originCount: 1, horizons: [7]).run(on: data) { _ in } }
        #expect(throws: Backtest.Problem.self) { try Backtest(cutoff: 3_000, originCount: 1).run(on: data) { _ in } }
    }
}

@Suite struct NetworkForecasterTests {
    /// A 4-hour wave with noise: its continuation is in the shape of the last hours.
    func wave(slots: Int, seed: UInt64) -> [Double] {
        var random = SplitMix64(seed: seed)
        return (0..<slots).map { slot in 2 + sin(2 * Double.pi * Double(slot) / 48) + 0.05 * random.normal() }
    }

    static func small(samples: Int = 6_000, epochs: Int = 3) -> NetworkTrainer.Configuration {
        var settings = NetworkTrainer.Configuration()
        settings.samples = samples
        settings.epochs = epochs
        settings.hidden = 8
        settings.mlp = 16
        settings.batch = 32
        return settings
    }

    @Test func aTrainedNetworkScoresBetterThanAnUntrainedOneOnSlotsItNeverSaw() throws {
        let series = [wave(slots: 1_500, seed: 1), wave(slots: 1_500, seed: 2)].map { TrainingSeries(values: $0) }
        let trained = NetworkTrainer(configuration: Self.small()).train(series: series, startSlot: 0, end: 1_200).network
        let untrained = NetworkTrainer(configuration: Self.small(samples: 32, epochs: 1)).train(series: series, startSlot: 0, end: 1_200).network
        let good = try #require(NetworkValidation.loss(of: trained, series: series, startSlot: 0, from: 1_200, to: 1_500))
        let bad = try #require(NetworkValidation.loss(of: untrained, series: series, startSlot: 0, from: 1_200, to: 1_500))
        #expect(good < 0.8 * bad, "trained \(good), untrained \(bad)")
        // Every window whose first target is in the slots counts, whatever the series' length.
        #expect(NetworkValidation.loss(of: trained, series: series, startSlot: 0, from: 1_500, to: 1_600) == nil, "no slot to score")
        var gappy = series
        gappy[0].values.replaceSubrange(1_200..<1_500, with: repeatElement(.nan, count: 300))
        gappy[1].values.replaceSubrange(1_200..<1_500, with: repeatElement(.nan, count: 300))
        #expect(NetworkValidation.loss(of: trained, series: gappy, startSlot: 0, from: 1_200, to: 1_500) == nil, "nothing observed there")
        // Slots from `to` on are never read: a different future leaves the loss as it was.
        let cut = try #require(NetworkValidation.loss(of: trained, series: series, startSlot: 0, from: 1_200, to: 1_300))
        var changed = series
        for k in changed.indices { for slot in 1_300..<1_500 { changed[k].values[slot] += 5 } }
        #expect(NetworkValidation.loss(of: trained, series: changed, startSlot: 0, from: 1_200, to: 1_300) == cut)
    }

    @Test func trainingLowersTheLossAndBeatsNaiveWhereTheShapeTellsTheFuture() {
        let settings = Self.small()
        let series = [wave(slots: 1_500, seed: 1), wave(slots: 1_500, seed: 2)].map { TrainingSeries(values: $0) }
        let (network, losses) = NetworkTrainer(configuration: settings).train(series: series, startSlot: 0, end: 1_200)
        #expect(losses.count == 3)
        #expect(losses.last! < losses.first!)
        // Held-out slots 1200...: 6-step-ahead error of the network against the naive forecast.
        var forecaster = NetworkForecaster(network: network)
        let values = series[0].values
        var networkError = 0.0, naiveError = 0.0
        let median = forecaster.medianIndex
        for last in 1_199..<(values.count - 6) {
            forecaster.beginBatch()
            let added = values.withUnsafeBufferPointer { all in
                forecaster.add(series: .init(values: UnsafeBufferPointer(rebasing: all[(last + 1 - 300)...last]), scale: 0.1),
                               other: nil, allocation: .nan, firstTarget: Int64(last + 1))
            }
            #expect(added)
            forecaster.run { _, q in
                networkError += abs(q[5 * 7 + median] - values[last + 6])
                // Heads come out in ascending order at every horizon.
                for h in 0..<6 { #expect((0..<6).allSatisfy { q[h * 7 + $0] <= q[h * 7 + $0 + 1] }) }
            }
            naiveError += abs(values[last] - values[last + 6])
        }
        #expect(networkError < 0.5 * naiveError, "network \(networkError) vs naive \(naiveError)")
    }

    @Test func aNetworkInTheBacktestNeverReadsPastTheOriginThroughAnySeriesOrTheAllocation() throws {
        var random = SplitMix64(seed: 41)
        let values = (0..<2) .map { _ in (0..<1_400).map { _ in abs(random.normal()) } }
        let data = UsageTrace(origin: 0, interval: 300, instances: values.enumerated().map { index, cpu in
            InstanceSeries(id: InstanceID("\(index)"), firstSlot: 0, used: [cpu, cpu.map { $0 * 3 }, cpu.map { _ in 0 }], allocated: [cpu.map { _ in 4 }, cpu.map { _ in 8 }, cpu])
        })
        let backtest = Backtest(cutoff: 300 * 1_200, originCount: 6, originEvery: 3_600)
        let settings = Self.small(samples: 500, epochs: 1)
        let (series, end) = backtest.trainingSeries(data, .cpu)
        // Training stops the warm-up before the first origin: the selection scores the network out of sample.
        #expect(backtest.networkWarmup(ForecastPanel(data, resources: [.cpu, .memory])) == 576 && end == 1_200 - 576)
        #expect(series[0].values.count == end && series[0].other?.count == end && series[0].allocation?.count == end)
        let cpu = NetworkTrainer(configuration: settings).train(series: series, startSlot: 0, end: end).network
        let memory = NetworkTrainer(configuration: settings).train(series: backtest.trainingSeries(data, .memory).series, startSlot: 0, end: end).network
        let networks: [Resource: RecurrentNetwork] = [.cpu: cpu, .memory: memory]
        var original: [Backtest.Row] = []
        try backtest.run(on: data, networks: networks) { original.append($0) }
        // The networks shape these forecasts (their intervals at least), so the check below can fail.
        var withoutNetworks: [Backtest.Row] = []
        try backtest.run(on: data) { withoutNetworks.append($0) }
        #expect(withoutNetworks.count == original.count && withoutNetworks != original)
        // From the 4th origin's slot on, change one resource at a time, and the allocation.
        for change in 0..<3 {
            var altered = data
            for index in altered.instances.indices {
                for slot in 1_236..<1_400 {
                    if change < 2 { altered.instances[index].used[change][slot] = 50 } else { altered.instances[index].allocated[0][slot] = 1 }
                }
            }
            var changed: [Backtest.Row] = []
            try backtest.run(on: altered, networks: networks) { changed.append($0) }
            let kept = original.filter { $0.origin <= 300 * 1_236 }
            #expect(kept.count == 4 * 2 * 2 * 3)
            #expect(kept == Array(changed.prefix(kept.count)), "change \(change)")
            if change < 2 { #expect(original.suffix(12) != changed.suffix(12), "change \(change) must reach later forecasts") }
        }
    }
}

@Suite struct SeasonalMedianTests {
    @Test func medianOfTheSamePhaseOverCycles() {
        // Season 3, cycles 3: the next slot's phase held 10, 90 (a one-off spike) and 12: the
        // median, 12, ignores the spike; the phase after it held 1 every time.
        let values: [Double] = [10, 1, 1, 90, 1, 1, 12, 1, 1]
        #expect(forecast(SeasonalMedianForecaster(season: 3, cycles: 3), values, horizons: 2) == [12, 1])
        // A missing value of the phase is skipped: the median of 10 and 12.
        #expect(forecast(SeasonalMedianForecaster(season: 3, cycles: 3), [10, 1, 1, .nan, 1, 1, 12, 1, 1], horizons: 1) == [11])
    }
}

@Suite struct ConformalisedNetworkTests {
    @Test func theNetworksQuantileHeadsGiveCalibratedNarrowerIntervals() throws {
        var random = SplitMix64(seed: 51)
        // A wave of 37 slots (no daily or hourly season a baseline could use) plus noise: the
        // network reads where the wave goes from the window's shape.
        let values = (0..<3_000).map { slot in 2 + sin(2 * Double.pi * Double(slot) / 37) + 0.1 * random.normal() }
        let settings = NetworkForecasterTests.small()
        let network = NetworkTrainer(configuration: settings).train(series: [TrainingSeries(values: values)], startSlot: 0, end: 1_500).network
        var withNetwork = ForecastEngine(seriesCount: 1)
        try withNetwork.install(NetworkForecaster(network: network), as: 0, serving: [0])
        var withoutNetwork = ForecastEngine(seriesCount: 1)
        var hits = 0, scored = 0
        var widthWith = 0.0, widthWithout = 0.0
        for (slot, value) in values.enumerated() {
            if slot >= 2_000 {
                let a = withNetwork.forecast(series: 0, horizon: 3)
                let b = withoutNetwork.forecast(series: 0, horizon: 3)
                if slot + 2 < values.count {
                    let target = values[slot + 2]
                    if a.lower[1] <= target && target <= a.upper[1] { hits += 1 }
                    scored += 1
                    widthWith += a.upper[1] - a.lower[1]
                    widthWithout += b.upper[1] - b.lower[1]
                }
            }
            withNetwork.observe([value])
            withoutNetwork.observe([value])
        }
        let coverage = Double(hits) / Double(scored)
        #expect(abs(coverage - 0.9) < 0.04, "90% coverage \(coverage)")
        #expect(widthWith < 0.8 * widthWithout, "width \(widthWith / Double(scored)) vs \(widthWithout / Double(scored))")
    }
}
