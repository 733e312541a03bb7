@testable import Forecasting
import PoolCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Seasons, windows, lags and horizons are set in time: the same series sampled at two
/// intervals is forecast alike.
@Suite struct IntervalTests {
    @Test func spansBecomeSlotsAtAnyInterval() {
        let psfg = Cadence(interval: 57)
        // PSF-G's horizons: about 5, 15 and 30 minutes in 57-second steps.
        #expect([300, 900, 1_800].map(psfg.slots) == [5, 16, 32])
        #expect(psfg.day == 1_516 && psfg.stride == 5)
        #expect(Cadence(interval: 10).slots(1_800) == 180 && Cadence(interval: 10).stride == 30)
        #expect(Cadence(interval: 300).day == 288 && Cadence(interval: 300).week == 2_016 && Cadence(interval: 300).stride == 1)
        // Slots longer than the span: still one slot.
        #expect(Cadence(interval: 3_600).slots(300) == 1)
        var configuration = ForecastConfiguration()
        #expect(configuration.horizons == [1, 2, 3, 4, 5, 6] && configuration.calibrationWindow == 288 && configuration.historySlots == 2_304)
        configuration.interval = 10
        #expect(configuration.horizons == [30, 60, 90, 120, 150, 180])
        // A day of calibration residuals, one per 5 minutes: the same count as at 300 s.
        #expect(configuration.calibrationWindow == 288 && configuration.networkCalibrationWindow == 864)
        #expect(configuration.selectionHalfLife == 25_920)
        #expect(standardBaselines(Cadence(interval: 60)).map(\.name) == standardBaselines().map(\.name))
    }

    /// Usage over 9 days: a daily wave, an hourly ripple and noise drawn once a minute.
    static func usage(minutes: Int) -> [Double] {
        var random = SplitMix64(seed: 77)
        return (0..<minutes).map { minute in
            let t = Double(minute) * 60
            return 10 + 4 * sin(2 * Double.pi * t / 86_400) + 0.8 * sin(2 * Double.pi * t / 3_600) + 0.3 * random.normal()
        }
    }

    @Test func oneSeriesResampledAtTwoIntervalsIsForecastAlike() {
        let minutes = 9 * 1_440
        let truth = Self.usage(minutes: minutes)
        let origins = stride(from: 8 * 1_440, to: minutes - 30, by: 60).map { $0 } // hourly over the last day
        // The same usage read every minute, and every 5 minutes (the last minute of each 5):
        // at an origin both have read up to the minute before it, and "h minutes ahead" is the
        // same minute in both.
        var configuration = ForecastConfiguration()
        configuration.interval = 60
        var fine = ForecastEngine(seriesCount: 1, configuration: configuration)
        var coarse = ForecastEngine(seriesCount: 1)
        var forecasts: [Int: [(fine: IntervalForecast, coarse: IntervalForecast, target: Double)]] = [:]
        for minute in 0...origins.last! {
            if origins.contains(minute) {
                for ahead in [5, 15, 30] {
                    forecasts[ahead, default: []].append((fine.forecast(series: 0, horizon: ahead), coarse.forecast(series: 0, horizon: ahead / 5),
                                                          truth[minute + ahead - 1]))
                }
            }
            fine.observe([truth[minute]])
            if minute % 5 == 4 { coarse.observe([truth[minute]]) }
        }
        var compared = 0
        for ahead in [5, 15, 30] {
            var gap = 0.0, fineError = 0.0, coarseError = 0.0, fineWidth = 0.0, coarseWidth = 0.0
            for (f, c, target) in forecasts[ahead]! {
                gap += abs(f.point - c.point)
                fineError += abs(f.point - target)
                coarseError += abs(c.point - target)
                fineWidth += f.upper[1] - f.lower[1]
                coarseWidth += c.upper[1] - c.lower[1]
                compared += 1
            }
            let n = Double(origins.count)
            // The wave spans 8 units a day and the noise 0.3 a minute: forecasts this close read the same shape.
            #expect(gap / n < 0.3, "\(ahead) min: mean gap \(gap / n) between the forecasts at 60 s and 300 s")
            #expect(fineError / n < 0.5 && coarseError / n < 0.5, "\(ahead) min: error \(fineError / n) at 60 s, \(coarseError / n) at 300 s")
            let ratio = fineWidth / coarseWidth
            #expect(ratio > 0.67 && ratio < 1.5, "\(ahead) min: 90% intervals \(fineWidth / n) at 60 s, \(coarseWidth / n) at 300 s")
        }
        #expect(compared == 3 * origins.count && origins.count == 24)
    }

    @Test func aNetworkServesAnEngineOfItsOwnIntervalAndHorizonsOnly() throws {
        let values = Self.usage(minutes: 4 * 1_440)
        var settings = NetworkTrainer.Configuration()
        settings.samples = 2_000
        settings.epochs = 1
        settings.hidden = 8
        settings.mlp = 16
        settings.batch = 32
        var configuration = ForecastConfiguration()
        configuration.interval = 60
        settings.adopt(configuration)
        let trained = NetworkTrainer(configuration: settings).train(series: [TrainingSeries(values: values)], startSlot: 0, end: 3 * 1_440)
        #expect(!trained.losses.isEmpty)
        let network = try Checkpoint.decode(Checkpoint.encode(trained.network))
        #expect(network.shape.interval == 60 && network.shape.horizonSlots == [5, 10, 15, 20, 25, 30])
        try NetworkForecaster.check(network)
        var engine = ForecastEngine(seriesCount: 1, configuration: configuration)
        try engine.install(NetworkForecaster(network: network), as: 0, serving: [0])
        // The network's 5-minute forecasts over the last day, against what came: the series
        // moves 0.3 a minute at random, so a network reading the wrong spans would miss by far more.
        var pending: [Int: Double] = [:], error = 0.0, scored = 0
        for (slot, value) in values.enumerated() {
            if let forecast = pending.removeValue(forKey: slot) { error += abs(forecast - value); scored += 1 }
            engine.observe([value])
            let point = engine.series[0].networkPoint(k: 0)
            if slot >= 3 * 1_440, !point.isNaN { pending[slot + 5] = point }
        }
        #expect(scored > 1_400, "the network forecast \(scored) of the last day's slots")
        #expect(error / Double(max(1, scored)) < 1.0, "mean error \(error / Double(max(1, scored)))")
        // At 300 s the same network would read the wrong spans: it is refused.
        var other = ForecastEngine(seriesCount: 1)
        #expect(throws: ForecastEngine.Unsuitable.self) { try other.install(NetworkForecaster(network: network), as: 0, serving: [0]) }
    }

    @Test func aCheckpointRecordsItsIntervalAndHorizonsAndReadsOldHeadersAsFiveMinutes() throws {
        let old = RecurrentNetwork(shape: .init(features: 4, context: 108, hidden: 3, horizons: 6, quantiles: [0.5]), seed: 2)
        let bytes = Checkpoint.encode(old)
        // The header of a 5-minute network is the one written before intervals existed: 8 fields.
        let header = String(decoding: bytes[16..<(16 + Int(bytes[12]))], as: UTF8.self)
        #expect(header == "gru 4 108 3 0 6 12 0.5")
        let read = try Checkpoint.decode(bytes)
        #expect(read.shape.interval == 300 && read.shape.horizonSlots == [1, 2, 3, 4, 5, 6])
        let gpu = RecurrentNetwork(shape: .init(features: 4, context: 99, hidden: 3, horizons: 3, quantiles: [0.5], interval: 57, horizonSlots: [5, 16, 32]), seed: 2)
        let back = try Checkpoint.decode(Checkpoint.encode(gpu))
        #expect(back == gpu && back.shape.interval == 57 && back.shape.horizonSlots == [5, 16, 32])
    }

    @Test func theNetworkReadsOneValuePerFiveMinutesAtFinerIntervals() {
        let features = NetworkFeatures(cadence: Cadence(interval: 60), horizons: [5, 10, 15, 20, 25, 30])
        #expect(features.stride == 5 && features.contextCount == 108 && features.reach == 10_081)
        // The value at lag L is L: relative to the anchor (lag 1), lag L reads L − 1.
        let count = 12_000
        let values = (0..<count).map { Double(count - $0) }
        var sequence = [Double](repeating: .nan, count: 12 * NetworkFeatures.stepCount)
        var context = [Double](repeating: .nan, count: features.contextCount)
        var scratch: [Double] = []
        let anchor = values.withUnsafeBufferPointer { v in
            sequence.withUnsafeMutableBufferPointer { s in
                context.withUnsafeMutableBufferPointer { c in
                    features.fill(series: .init(values: v, scale: 1), other: nil, allocation: .nan, firstTarget: 1_000_000, steps: 12,
                                  sequence: s.baseAddress!, context: c.baseAddress!, scratch: &scratch)
                }
            }
        }
        #expect(anchor == 1)
        // Steps, oldest first: lags 56, 51, ..., 6, 1 (clipped at 20).
        let steps: [Double] = (0..<12).map { sequence[$0 * 4] }
        let expected: [Double] = (0..<12).map { (step: Int) -> Double in min(20, Double((11 - step) * 5)) }
        #expect(steps == expected)
        // Lags 1, 6, 11, ... in the context (log-compressed).
        #expect((0..<36).allSatisfy { abs(context[$0] - log1p(Double($0 * 5))) < 1e-12 })
        // A day and a week back from the anchor: lags 1441 and 10081.
        #expect(abs(context[36 + 35] - log1p(1_440)) < 1e-12 && abs(context[36 + 35 + 7] - log1p(10_080)) < 1e-12)
    }

    @Test func slotsLongerThanTheHorizonsForecastOneSlotAheadOnce() throws {
        var configuration = ForecastConfiguration()
        configuration.interval = 3_600
        #expect(configuration.horizons == [1] && configuration.calibrationWindow == 24)
        let hours = 24 * 20
        let data = UsageTrace(origin: 0, interval: 3_600, instances: [
            InstanceSeries(id: "h", firstSlot: 0, used: [(0..<hours).map { 2 + sin(Double($0) * 2 * .pi / 24) }, Array(repeating: 1, count: hours), Array(repeating: 0, count: hours)],
                           allocated: [Array(repeating: 4, count: hours), Array(repeating: 8, count: hours), Array(repeating: 0, count: hours)]),
        ])
        var rows: [Backtest.Row] = []
        try Backtest(cutoff: 3_600 * 24 * 18, originCount: 24, originEvery: 3_600, resources: [.cpu]).run(on: data) { rows.append($0) }
        // 5, 15 and 30 minutes all round to the next hour: one row per origin, not three.
        #expect(rows.count == 24 && rows.allSatisfy { $0.horizon == 1 })
        let error = rows.map { abs($0.forecast.point - (2 + sin(Double(($0.origin / 3_600)) * 2 * .pi / 24))) }.reduce(0, +) / 24
        #expect(error < 0.1, "a daily wave at hourly slots, mean error \(error)")
    }
}
