import Foundation
import HummingbirdTesting
import NIOCore
@testable import Service
import Testing

/// GPU usage is forecast beside cpu and memory: `GET /prediction` answers for it, and a
/// plan's GPU demand, in whole devices, follows from its forecast.
@Suite struct GPUForecastTests {
    @Test func devicesAreWholeAndADeviceInUseIsNeverCountedFree() {
        #expect(PoolForecaster.gpuDevices(forecast: 0.3, last: 0, peak: 1) == 1)
        #expect(PoolForecaster.gpuDevices(forecast: 2.000_000_000_1, last: 2, peak: 2) == 2)
        #expect(PoolForecaster.gpuDevices(forecast: 2.2, last: 1, peak: 3) == 3)
        // No more than the most it ever used: a wide interval asks for no device never used.
        #expect(PoolForecaster.gpuDevices(forecast: 2.2, last: 1, peak: 2) == 2)
        #expect(PoolForecaster.gpuDevices(forecast: 0.3, last: 0, peak: 0) == 0)
        // A device holding a resident model reads as used, however idle: it stays in the demand.
        #expect(PoolForecaster.gpuDevices(forecast: 0, last: 1, peak: 1) == 1)
        #expect(PoolForecaster.gpuDevices(forecast: .nan, last: nil, peak: nil) == 0)
    }

    @Test func aGPUInstanceIsForecastAndItsDemandFollowsTheForecast() async throws {
        let harness = try await ServiceHarness(configure: { c in c.retrainHours = 0 })
        try await harness.test { client in
            let node = #"{"id":"g","capacity":{"cpu":16,"memory":64,"gpu":4}}"#
            try await client.execute(uri: "/nodes", method: .post, headers: harness.headers("admin"), body: ByteBuffer(string: node)) { response in
                #expect(response.status == .created, "\(String(buffer: response.body))")
            }
            let instance = #"{"id":"train","tenant":"acme","node":"g","allocation":{"cpu":4,"memory":8,"gpu":3},"sla":{"minimum":{"cpu":1,"memory":1,"gpu":0},"maximum":{"cpu":8,"memory":16,"gpu":4},"weight":3}}"#
            try await client.execute(uri: "/instances", method: .post, headers: harness.headers("admin"), body: ByteBuffer(string: instance)) { response in
                #expect(response.status == .created, "\(String(buffer: response.body))")
            }
            // Two devices in use every slot for a day (the intervals are calibrated on a day of
            // errors: before, they are wide and so is the demand), then a third for an hour.
            let rounds = 300
            for k in 0..<rounds {
                let t = ServiceHarness.start + Int64(k) * 300
                let gpu = k < 288 ? 2 : 3
                let body = #"{"samples":[{"instance":"train","time":\#(t + 10),"cpu":2,"memory":4,"gpu":\#(gpu)}]}"#
                try await client.execute(uri: "/usage", method: .post, headers: harness.headers("operator"), body: ByteBuffer(string: body)) { response in
                    #expect(response.status == .ok)
                }
                try await harness.service.loop.runOnce(time: t)
                if k == 10 {
                    // Its own errors do not calibrate its intervals yet: they are wide, the demand is not.
                    let demand = await harness.service.runtime.demand("train", horizon: 1)[2]
                    #expect(demand == 2, "a day's first hour: \(demand)")
                }
                if k == 287 {
                    let demand = await harness.service.runtime.demand("train", horizon: 1)[2]
                    #expect(demand == 2, "two devices held, two forecast: \(demand)")
                }
            }
            let demand = await harness.service.runtime.demand("train", horizon: 1)[2]
            #expect(demand == 3, "\(demand)")
            try await client.execute(uri: "/prediction?instance=train&horizon=5m", method: .get, headers: harness.headers("reader")) { response in
                #expect(response.status == .ok)
                let predictions = try #require(try json(response.body)["predictions"] as? [[String: Any]])
                let gpu = try #require(predictions.first?["gpu"] as? [String: Any])
                let point = try #require(gpu["point"] as? Double)
                #expect(abs(point - 3) < 0.5, "the gpu forecast follows the devices used: \(point)")
                let intervals = try #require(gpu["intervals"] as? [[String: Double]])
                #expect(intervals.count == 3 && intervals.allSatisfy { ($0["lower"] ?? .nan) <= point && point <= ($0["upper"] ?? .nan) })
                #expect((gpu["scored"] as? Int ?? 0) > 0, "its intervals' coverage is measured too")
            }
        }
    }
}
