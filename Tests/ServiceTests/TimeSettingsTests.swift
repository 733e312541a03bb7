import Execution
import Testing
@testable import Service

/// Service settings that mean a span of time keep it at any interval.
@Suite struct TimeSettingsTests {
    @Test func theWorkingSetIsAWeekOfRoundsAtAnyIntervalUnlessSet() async throws {
        for (interval, rounds) in [(10, 60_480), (60, 10_080), (300, 2016), (3600, 168)] {
            #expect(RiskPolicy().workingSetRounds(interval: interval) == rounds, "\(interval) s")
        }
        var policy = RiskPolicy()
        policy.workingSetRounds = 24
        #expect(policy.workingSetRounds(interval: 60) == 24, "a value set is rounds, as it says")
        let harness = try await ServiceHarness { $0.interval = 60 }
        #expect(await harness.service.runtime.monitor.memoryRounds == 10_080, "the service's floor at 60 s spans a week")
    }

    @Test func aForecastBacksAShrinkFor15MinutesWithoutSamplesOr3SlotsWhenLonger() {
        // (interval, slots since the last sample that still count, the first that does not)
        for (interval, fresh, stale) in [(10, 89, 90), (60, 14, 15), (300, 2, 3), (3600, 2, 3)] as [(Int64, Int64, Int64)] {
            var forecaster = PoolForecaster()
            forecaster.slotInterval = interval
            forecaster.lastObservedSlot["a"] = 0
            forecaster.lastSlot = fresh * interval
            #expect(forecaster.recentlyObserved("a"), "\(interval) s, \(fresh) slots")
            forecaster.lastSlot = stale * interval
            #expect(!forecaster.recentlyObserved("a"), "\(interval) s, \(stale) slots")
        }
    }
}
