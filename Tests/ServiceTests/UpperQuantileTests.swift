import Execution
import Forecasting
import Testing

/// `IntervalForecast.upperQuantile`: the demand a risk level reads, consistent with the risk
/// assessment's reading of the same forecast (`ForecastQuantiles.exceedance`).
@Suite("Upper quantile of an interval forecast")
struct UpperQuantileTests {
    let forecast = IntervalForecast(point: 1, lower: [0.6, 0.5, 0.4], upper: [1.5, 1.8, 2.2], model: "test")

    @Test func theIntervalEndsAreTheTiersQuantilesAndOrderHolds() {
        for (chance, end) in [(0.1, 1.5), (0.05, 1.8), (0.025, 2.2)] {
            #expect(abs(forecast.upperQuantile(exceedance: chance) - end) < 1e-9, "chance \(chance)")
        }
        #expect(forecast.upperQuantile(exceedance: 0.5) == 1)
        #expect(forecast.upperQuantile(exceedance: 0.9) == 1)
        var previous = 0.0
        var compared = 0
        for e in stride(from: 0.5, through: 0.001, by: -0.001) {
            let q = forecast.upperQuantile(exceedance: e)
            #expect(q >= previous - 1e-12, "quantile fell from \(previous) to \(q) at chance \(e)")
            previous = q
            compared += 1
        }
        #expect(compared >= 499)
        #expect(forecast.upperQuantile(exceedance: 0.005) > 2.2)
    }

    @Test func aFlatTailIsAPointMassTheGateReadsAsNeverExceeded() {
        let flat = IntervalForecast(point: 1, lower: [1, 1, 1], upper: [1.4, 1.6, 1.6], model: "test")
        let quantiles = ForecastQuantiles(levels: [0.025, 0.05, 0.1, 0.5, 0.9, 0.95, 0.975],
                                          slots: [flat.lower.reversed() + [flat.point] + flat.upper])
        let amount = flat.upperQuantile(exceedance: 0.005)
        #expect(amount >= 1.6 && amount < 1.6 + 1e-9)
        #expect(quantiles.exceedance(amount) <= 0.005, "reads \(quantiles.exceedance(amount))")
    }

    @Test func theRiskAssessmentReadsTheSameChanceBack() {
        let quantiles = ForecastQuantiles(levels: [0.025, 0.05, 0.1, 0.5, 0.9, 0.95, 0.975],
                                          slots: [forecast.lower.reversed() + [forecast.point] + forecast.upper])
        for e in [0.3, 0.1, 0.07, 0.04, 0.02, 0.01, 0.004] {
            let amount = forecast.upperQuantile(exceedance: e)
            #expect(abs(quantiles.exceedance(amount) - e) < 1e-9, "chance \(e): amount \(amount) reads \(quantiles.exceedance(amount))")
        }
    }
}
