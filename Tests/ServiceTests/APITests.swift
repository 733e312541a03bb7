import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Storage
import Testing
@testable import Service

@Suite("HTTP API and control loop")
struct APITests {
    /// A swap stored with measurements that are not numbers (SQLite keeps NaN as NULL) is
    /// served with those fields left out, not a failed page; a sample lacking a resource keeps
    /// the instance's last measured use of it.
    @Test func measurementsThatAreNotNumbersAreLeftOutOfTheAnswer() async throws {
        let harness = try await ServiceHarness()
        _ = try await harness.store.record(swaps: [SwapRecord(plan: "p", instance: "a1", tenant: "acme", time: ServiceHarness.start,
                                                              fromNode: "n1", toNode: "n1", before: [2, 4, 0], after: [3, 4, 0],
                                                              predictedBenefit: .nan, utilisationBefore: .nan,
                                                              durationMilliseconds: .nan, outcome: .verifying)])
        try await harness.test { client in
            try await client.execute(uri: "/swap_history", method: .get, headers: harness.headers("admin")) { response in
                #expect(response.status == .ok, "\(String(buffer: response.body))")
                let swaps = try #require(try json(response.body)["swaps"] as? [[String: Any]])
                #expect(swaps.count == 1)
                #expect(swaps.first?["utilisationBefore"] == nil && swaps.first?["predictedBenefit"] == nil
                        && swaps.first?["durationMilliseconds"] == nil && swaps.first?["outcome"] as? String == "verifying")
            }
        }
        var forecaster = PoolForecaster()
        forecaster.remember([2, 3, .nan], for: "x")
        forecaster.remember([.nan, 5, 1], for: "x")
        #expect(forecaster.lastUsed["x"] == [2, 5, 1])
    }

    @Test func usageIsValidatedPerSampleAndStored() async throws {
        let harness = try await ServiceHarness()
        try await harness.test { client in
            try await harness.registerPool(client)
            try await harness.feed(client, rounds: 2)
            let t = ServiceHarness.start + 2 * 300 + 20
            let batch = #"{"samples":[{"instance":"a1","time":\#(t),"cpu":1,"memory":1},{"instance":"a1","time":\#(t - 1),"cpu":1,"memory":1},{"instance":"a2","time":\#(t),"cpu":-1,"memory":1},{"instance":"a2","time":\#(t + 86400),"cpu":1,"memory":1},{"instance":"zz","time":\#(t),"cpu":1,"memory":1},{"instance":"g1","time":\#(t),"cpu":"NaN","memory":1}]}"#
            let before = try await harness.store.sampleCount()
            let malformed = batch.replacingOccurrences(of: #""cpu":"NaN""#, with: #""cpu":"lots""#)
            try await client.execute(uri: "/usage", method: .post, headers: harness.headers("operator"), body: ByteBuffer(string: malformed)) { response in
                #expect(response.status == .badRequest, "a string where a number belongs is a malformed body")
                #expect(errorMessage(response.body)?.hasPrefix("samples[5].cpu") == true, "\(String(buffer: response.body))")
            }
            #expect(try await harness.store.sampleCount() == before, "a malformed batch stores nothing")
            try await client.execute(uri: "/usage", method: .post, headers: harness.headers("operator"), body: ByteBuffer(string: batch)) { response in
                let receipt = try json(response.body)
                #expect(receipt["accepted"] as? Int == 1)
                #expect(receipt["rejected"] as? Int == 5)
                #expect(receipt["reasons"] as? [String: Int] == ["out of order": 1, "negative": 1, "far future": 1, "unknown instance": 1, "NaN": 1])
            }
            #expect(try await harness.store.sampleCount() == before + 1)
        }
    }

    @Test func aLivePoolAcceptsSamplesOfThePresentWhileItsClockLagsBehind() async throws {
        // The pool's clock stays where the rounds left it (as after a long warm start); the wall
        // clock is two hours on. A fixed clock stands in for the wall clock, so the test does not
        // depend on when it runs.
        let now = ServiceHarness.start + 7_200
        let harness = try await ServiceHarness(wallClock: { now })
        try await harness.test { client in
            try await harness.registerPool(client)
            try await harness.feed(client, rounds: 2)
            let batch = #"{"samples":[{"instance":"a1","time":\#(now - 5),"cpu":1,"memory":1},{"instance":"a2","time":\#(now + 2 * 300),"cpu":1,"memory":1}]}"#
            try await client.execute(uri: "/usage", method: .post, headers: harness.headers("operator"), body: ByteBuffer(string: batch)) { response in
                let receipt = try json(response.body)
                #expect(receipt["accepted"] as? Int == 1, "a sample of the present is in")
                #expect(receipt["reasons"] as? [String: Int] == ["far future": 1], "one ahead of the wall clock is not")
            }
        }
    }

    @Test func registrationKeepsThePoolValid() async throws {
        let harness = try await ServiceHarness()
        try await harness.test { client in
            try await harness.registerPool(client)
            for (body, expected) in [
                (#"{"id":"x","tenant":"acme","node":"n1","allocation":{"cpu":9,"memory":1,"gpu":0},"sla":{"maximum":{"cpu":8,"memory":2,"gpu":0}}}"#, "above"),
                (#"{"id":"x","tenant":"acme","node":"n7","allocation":{"cpu":1,"memory":1,"gpu":0},"sla":{"maximum":{"cpu":8,"memory":2,"gpu":0}}}"#, "n7"),
                (#"{"id":"x","tenant":"acme","node":"n1","allocation":{"cpu":7,"memory":1,"gpu":0},"sla":{"maximum":{"cpu":8,"memory":2,"gpu":0}}}"#, "n1"),
            ] {
                try await client.execute(uri: "/instances", method: .post, headers: harness.headers("admin"), body: ByteBuffer(string: body)) { response in
                    #expect(response.status == .unprocessableContent, "\(body)")
                    #expect(errorMessage(response.body)?.contains(expected) == true, "\(errorMessage(response.body) ?? "")")
                }
            }
            try await client.execute(uri: "/instances", method: .post, headers: harness.headers("admin"), body: ByteBuffer(string: #"{"id":"x","tenant":"acme"}"#)) { response in
                #expect(response.status == .badRequest)
                #expect(errorMessage(response.body)?.contains("node") == true, "\(errorMessage(response.body) ?? "")")
            }
            #expect(await harness.service.runtime.instance("x") == nil)
            try await client.execute(uri: "/nowhere", method: .get, headers: harness.headers("admin")) { response in
                #expect(response.status == .notFound)
                #expect(errorMessage(response.body) != nil)
            }
        }
    }

    @Test func predictionsComeWithIntervalsAndMeasuredCoverage() async throws {
        let harness = try await ServiceHarness()
        try await harness.test { client in
            try await harness.registerPool(client)
            try await harness.feed(client, rounds: 30)
            try await client.execute(uri: "/prediction?instance=a1&horizon=5m&horizon=30m", method: .get, headers: harness.headers("reader")) { response in
                #expect(response.status == .ok)
                let view = try json(response.body)
                let predictions = try #require(view["predictions"] as? [[String: Any]])
                #expect(predictions.compactMap { $0["horizon"] as? String } == ["5m", "30m"])
                #expect(predictions.allSatisfy { $0["gpu"] == nil }, "a1 has no GPUs: no gpu forecast")
                let cpu = try #require(predictions[0]["cpu"] as? [String: Any])
                let point = try #require(cpu["point"] as? Double)
                #expect(point > 2.8 && point < 3.3, "a1 runs near 3 cores: \(point)")
                let intervals = try #require(cpu["intervals"] as? [[String: Double]])
                #expect(intervals.map { $0["level"] } == [0.8, 0.9, 0.95])
                for (inner, outer) in zip(intervals, intervals.dropFirst()) {
                    #expect(outer["lower"]! <= inner["lower"]! && outer["upper"]! >= inner["upper"]!, "wider at higher levels")
                }
                #expect((cpu["scored"] as? Int ?? 0) >= 25, "coverage measured on the instance's own past")
                #expect(view["lastObserved"] as? Int64 != nil || view["lastObserved"] as? Int != nil)
            }
            try await client.execute(uri: "/prediction?instance=a1&horizon=7m", method: .get, headers: harness.headers("reader")) { response in
                #expect(response.status == .badRequest)
                #expect(errorMessage(response.body)?.contains("horizon") == true)
            }
        }
    }

    @Test func aRoundStoresEveryAnswerAndATenantStillSeesOnlyItsOwn() async throws {
        let harness = try await ServiceHarness()
        let runtime = harness.service.runtime
        try await harness.test { client in
            try await harness.registerPool(client)
            try await harness.feed(client, rounds: 12)
            #expect(runtime.predictionCache.count == 4, "the round stored the answers of all four instances")
            // The stored answer is the one a request computes: cleared, it is computed again alike.
            var stored: [String: NSDictionary] = [:]
            for id in ["a1", "g1"] {
                try await client.execute(uri: "/prediction?instance=\(id)", method: .get, headers: harness.headers("reader")) { response in
                    #expect(response.status == .ok)
                    stored[id] = try json(response.body) as NSDictionary
                }
            }
            runtime.predictionCache.clear()
            for id in ["a1", "g1"] {
                try await client.execute(uri: "/prediction?instance=\(id)&horizon=5m,15m,30m", method: .get, headers: harness.headers("reader")) { response in
                    let again = try json(response.body) as NSDictionary
                    #expect(again == stored[id], "\(id): computed on request as the round stored it")
                }
            }
            #expect(runtime.predictionCache.count == 2)
            // Answers stored without the asker's tenant are still shown only to those who see theirs.
            await runtime.refreshPredictions()
            #expect(runtime.predictionCache.count == 4)
            try await client.execute(uri: "/prediction?instance=g1", method: .get, headers: harness.headers("acme-reader")) { response in
                #expect(response.status == .notFound)
                #expect(errorMessage(response.body) == "instance g1 not found")
            }
            try await client.execute(uri: "/prediction?instance=a1", method: .get, headers: harness.headers("acme-reader")) { #expect($0.status == .ok) }
            // An answer computed before the cache was cleared is not stored after it.
            let before = runtime.predictionCache.generation
            runtime.predictionCache.clear()
            runtime.predictionCache.set([("late", .init(tenant: nil, body: ByteBuffer(string: "{}")))], computedIn: before)
            #expect(runtime.predictionCache.get("late") == nil && runtime.predictionCache.count == 0)
        }
    }

    @Test func theHeadroomIsAddedToEveryDemandThePlanMeets() async throws {
        actor Demands { var values: [Double] = []; func add(_ x: Double) { values.append(x) } }
        let found = Demands()
        for headroom in [0.0, 0.5] {
            let harness = try await ServiceHarness { $0.headroom = [headroom, 0, 0] }
            try await harness.test { client in
                try await harness.registerPool(client)
                try await harness.feed(client, rounds: 30)
                try await client.execute(uri: "/swap_request", method: .post, headers: harness.headers("operator"),
                                         body: ByteBuffer(string: #"{"instances":["a2"],"dryRun":true}"#)) { response in
                    let swaps = try #require((try json(response.body))["swaps"] as? [[String: Any]])
                    let change = try #require((swaps.first?["changes"] as? [[String: Any]])?.first { $0["resource"] as? String == "cpu" },
                                              "a2 idles at about 0.5 of 4 cores: its cpu shrinks")
                    let demand = try #require(change["demand"] as? Double)
                    await found.add(demand)
                }
            }
        }
        let demands = await found.values
        #expect(demands.count == 2 && abs(demands[1] - demands[0] - 0.5) < 1e-9, "\(demands)")
    }

    @Test func aSwapRequestPlansDryAndExecutesWhenQueued() async throws {
        let harness = try await ServiceHarness()
        try await harness.test { client in
            try await harness.registerPool(client)
            try await harness.feed(client, rounds: 30)
            var planned: [String: Any] = [:]
            try await client.execute(uri: "/swap_request", method: .post, headers: harness.headers("operator"),
                                     body: ByteBuffer(string: #"{"target":"both","horizon":"15m","dryRun":true}"#)) { response in
                #expect(response.status == .ok)
                planned = try json(response.body)
            }
            let before = try #require(planned["objectiveBefore"] as? Double), after = try #require(planned["objectiveAfter"] as? Double)
            #expect(after < before, "shrinking the idle and growing the starving pays")
            let swaps = try #require(planned["swaps"] as? [[String: Any]])
            #expect(swaps.contains { $0["instance"] as? String == "a2" }, "a2 idles at 0.5 of 4 cores")
            for swap in swaps {
                #expect((swap["changes"] as? [[String: Any]])?.isEmpty == false, "every swap explains itself")
                #expect(swap["risk"] != nil)
            }
            #expect(try await harness.store.swapHistory(SwapHistoryQuery()).isEmpty, "a dry run changes nothing")

            var location = ""
            try await client.execute(uri: "/swap_request", method: .post, headers: harness.headers("operator"),
                                     body: ByteBuffer(string: #"{"dryRun":false,"horizon":"15m"}"#)) { response in
                #expect(response.status == .accepted)
                location = response.headers[.location] ?? ""
                let answer = try json(response.body)
                #expect(answer["status"] as? String == "queued")
            }
            #expect(location.hasPrefix("/swaps/"))
            try await harness.feed(client, rounds: 1, from: 30)
            try await client.execute(uri: location, method: .get, headers: harness.headers("reader")) { response in
                let view = try json(response.body)
                #expect(view["status"] as? String == "executed")
                let journal = try #require(view["journal"] as? [String])
                #expect(!journal.isEmpty && journal.count % 2 == 0, "each step journaled before and after")
                #expect(journal.first?.contains("intent") == true)
            }
            // The ledger kept every node within capacity minus reserve.
            try await client.execute(uri: "/pool", method: .get, headers: harness.headers("reader")) { response in
                for node in try #require((try json(response.body))["nodes"] as? [[String: Any]]) {
                    let capacity = node["capacity"] as! [String: Double], reserve = node["reserve"] as! [String: Double], allocated = node["allocated"] as! [String: Double]
                    for r in ["cpu", "memory", "gpu"] { #expect(allocated[r]! <= capacity[r]! - reserve[r]! + 1e-9) }
                }
            }
            #expect(try await harness.store.swapHistory(SwapHistoryQuery()).allSatisfy { $0.outcome == .verifying && $0.realisedBenefit == nil },
                    "a swap that took effect is watched before it commits")
            try await harness.feed(client, rounds: 3, from: 31)
            let history = try await harness.store.swapHistory(SwapHistoryQuery())
            #expect(!history.isEmpty)
            #expect(history.allSatisfy { $0.outcome == .committed && $0.realisedBenefit != nil && $0.utilisationAfter != nil && $0.endedAt != nil },
                    "the verification window measures what each swap gave, then commits it: \(history.map { "\($0.instance) \($0.outcome)" })")
            if let a2 = history.first(where: { $0.instance == "a2" }) {
                #expect(a2.realisedBenefit! > 0, "shrinking the idle a2 saved waste: \(a2.realisedBenefit!)")
            }
            try await client.execute(uri: "/swap_history?limit=1", method: .get, headers: harness.headers("reader")) { response in
                let page = try json(response.body)
                #expect((page["swaps"] as? [Any])?.count == 1)
                let cursor = try #require(page["nextCursor"] as? String)
                try await client.execute(uri: "/swap_history?limit=1&cursor=\(cursor)", method: .get, headers: harness.headers("reader")) { next in
                    let ids = ((try json(next.body))["swaps"] as? [[String: Any]])?.compactMap { $0["id"] as? Int }
                    #expect(ids?.first.map { $0 < Int(cursor)! } == true, "the next page is older")
                }
            }
            try await client.execute(uri: "/swap_history?instance=a2&outcome=committed", method: .get, headers: harness.headers("acme-reader")) { response in
                let swaps = (try json(response.body))["swaps"] as? [[String: Any]] ?? []
                #expect(swaps.allSatisfy { $0["instance"] as? String == "a2" && $0["tenant"] as? String == "acme" })
            }
            try await client.execute(uri: "/swap_history?outcome=maybe", method: .get, headers: harness.headers("reader")) { response in
                #expect(response.status == .badRequest)
                #expect(errorMessage(response.body)?.contains("outcome") == true)
            }
        }
    }

    @Test func metricsAreExported() async throws {
        let harness = try await ServiceHarness()
        try await harness.test { client in
            try await harness.registerPool(client)
            try await harness.feed(client, rounds: 2)
            try await client.execute(uri: "/metrics", method: .get, headers: harness.headers("reader")) { response in
                let text = String(buffer: response.body)
                #expect(text.contains("poolswap_rounds_total 2"))
                #expect(text.contains(#"poolswap_loop_step_duration_seconds_count{step="forecast"} 2"#))
            }
        }
    }
}
