import PoolCore
@testable import Service
import Testing

/// The working set's window: exact up to 288 rounds, in buckets beyond.
struct PeakWindowTests {
    /// The peak of the last `rounds` of `readings` (NaN: absent), nil when none is present.
    func peak(_ readings: [Double], last rounds: Int) -> Double? {
        readings.suffix(rounds).filter { !$0.isNaN }.max()
    }

    @Test func upToADayEveryReadingCountsExactly() {
        var random = SplitMix64(seed: 3)
        var window = PeakWindow(rounds: 288)
        var readings: [Double] = []
        var compared = 0
        for round in 0..<2_000 {
            let reading = random.next() % 7 == 0 ? Double.nan : Double(random.next() % 10_000) / 100
            readings.append(reading)
            window.record(reading)
            #expect(window.peak == peak(readings, last: 288), "round \(round)")
            compared += 1
        }
        #expect(window.bucket == 1 && compared == 2_000)
    }

    @Test func aWeekIsKeptInBucketsThatCoverAtMostABucketMore() {
        var random = SplitMix64(seed: 4)
        let rounds = 2_016
        var window = PeakWindow(rounds: rounds)
        #expect(window.bucket == 7)
        var readings: [Double] = []
        var exact = 0
        for _ in 0..<6_000 {
            // Mostly low, a spike now and then: the spike leaves the window about a week later.
            let reading = random.next() % 500 == 0 ? 50 + Double(random.next() % 100) : Double(random.next() % 100) / 10
            readings.append(reading)
            window.record(reading)
            let got = window.peak
            let atLeast = peak(readings, last: rounds), atMost = peak(readings, last: rounds + window.bucket - 1)
            #expect(got != nil && got! >= atLeast! && got! <= atMost!)
            if got == atLeast { exact += 1 }
        }
        #expect(exact > 5_000, "the bucket's extra rounds change the peak rarely: \(exact) of 6000 exact")
    }

    @Test func nothingPresentIsNoPeak() {
        var window = PeakWindow(rounds: 10)
        for _ in 0..<30 { window.record(.nan) }
        #expect(window.peak == nil)
        window.record(2)
        #expect(window.peak == 2)
        for _ in 0..<10 { window.record(.nan) }
        #expect(window.peak == nil, "the reading left the window")
    }
}
