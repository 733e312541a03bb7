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
        var networkPoints = 0
        for value in values {
            engine.observe([value])
            for k in engine.horizons.indices where engine.series[0].point(k: k).model == "gru" { networkPoints += 1 }
        }
        // The network forecasts every slot; the model choice picks it at some horizons at least.
        #expect(networkPoints > 0)
        for k in engine.horizons.indices { #expect(engine.forecast(series: 0, k: k).point.isFinite) }
        // At 300 s the same network would read the wrong spans: it is refused.
        var other = ForecastEngine(seriesCount: 1)
        #expect(throws: ForecastEngine.Unsuitable.self) { try other.install(NetworkForecaster(network: network), as: 0, serving: [0]) }
    }
}
