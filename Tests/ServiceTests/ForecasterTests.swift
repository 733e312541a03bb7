import Forecasting
import Foundation
import HummingbirdTesting
import Logging
import NIOCore
@testable import Service
import Storage
import Testing

/// The service's forecaster on a real SQLite store: networks trained from stored samples,
/// saved as checkpoints, loaded after a restart together with the history they forecast from.
@Suite struct ForecasterTests {
    static func configure(_ c: inout ServiceConfiguration) {
        c.retrainHours = 0 // the tests start trainings themselves
        c.trainingSamples = 512
        c.trainingEpochs = 1
    }

    func forecaster(_ harness: ServiceHarness, _ client: any TestClientProtocol) async throws -> [String: Any] {
        var body: [String: Any] = [:]
        try await client.execute(uri: "/forecaster", method: .get, headers: harness.headers("reader")) { response in
            #expect(response.status == .ok)
            body = try json(response.body)
        }
        return body
    }

    @Test func networksTrainedFromTheStoreAreSavedAndLoadedWithTheHistoryAfterARestart() async throws {
        let harness = try await ServiceHarness(configure: Self.configure)
        let rounds = 40
        try await harness.test { client in
            try await harness.registerPool(client)
            #expect((try await forecaster(harness, client)["networks"] as? [Any])?.isEmpty == true)
            try await harness.feed(client, rounds: rounds)
            let problems = await harness.service.training.run(until: ServiceHarness.start + Int64(rounds) * 300)
            #expect(problems.isEmpty, "\(problems)")
            let view = try await forecaster(harness, client)
            let networks = try #require(view["networks"] as? [[String: Any]])
            #expect(networks.map { $0["resource"] as? String } == ["cpu", "memory"])
            #expect(networks.allSatisfy { $0["source"] as? String == "trained" && ($0["loss"] as? Double ?? .nan).isFinite })
        }
        for resource in NetworkTraining.resources {
            let saved = try #require(try await harness.store.checkpoint(name: NetworkTraining.checkpointName(resource)))
            #expect(saved.time == ServiceHarness.start + Int64(rounds) * 300)
            let network = try Checkpoint.decode(saved.data)
            try NetworkForecaster.check(network)
            #expect(network.shape.hidden == NetworkTrainer.Configuration().hidden)
        }

        // A new process on the same store: the networks come from their checkpoints, and the
        // stored samples give the forecaster its history before the first live round.
        var configuration = ServiceConfiguration()
        configuration.demo = false
        Self.configure(&configuration)
        let restarted = try await ServiceApplication(configuration: configuration, store: harness.store, logger: Logger(label: "test"),
                                                     now: ServiceHarness.start + Int64(rounds) * 300)
        let view = await restarted.runtime.forecasterView()
        #expect(view.networks.map(\.source) == [.checkpoint, .checkpoint])
        #expect(view.problems.isEmpty)
        #expect(view.slotsObserved == rounds, "the slots the store holds samples of, not the 2304 the warm start may replay")
        let prediction = try #require(await restarted.runtime.prediction("a1", horizons: [1]))
        let cpu = prediction.predictions[0].cpu
        // a1 ran at 3.0–3.1 cores: a forecaster without its history would answer "none" and 0.
        #expect(cpu.model != "none")
        // The loaded network forecasts at once from that history, before any live slot (not
        // yet scored, it goes first).
        #expect(cpu.model == "gru" && prediction.predictions[0].memory.model == "gru", "\(cpu.model)")
        #expect(abs(cpu.point - 3.05) < 0.3, "point \(cpu.point)")
        // The schedule goes on from the saved networks' training, not from this start.
        #expect(await restarted.runtime.trainingSchedule.lastTraining == ServiceHarness.start + Int64(rounds) * 300)
        #expect(view.networks.map(\.trainedUntil) == [ServiceHarness.start + Int64(rounds) * 300, ServiceHarness.start + Int64(rounds) * 300])

        // Networks trained at 300 s would read the wrong spans at another slot length: not loaded, said so.
        configuration.interval = 60
        let minutely = try await ServiceApplication(configuration: configuration, store: harness.store, logger: Logger(label: "test"),
                                                    now: ServiceHarness.start + Int64(rounds) * 300)
        let other = await minutely.runtime.forecasterView()
        #expect(other.networks.isEmpty)
        #expect(other.problems.contains { $0.contains("300-second slots") }, "\(other.problems)")
    }

    @Test func aPoolOfOneMinuteSlotsTrainsItsNetworksAtThatIntervalAndForecastsWithThem() async throws {
        let harness = try await ServiceHarness(configure: { c in
            Self.configure(&c)
            c.interval = 60
        })
        let rounds = 150
        try await harness.test { client in
            try await harness.registerPool(client)
            try await harness.feed(client, rounds: rounds)
            let problems = await harness.service.training.run(until: ServiceHarness.start + Int64(rounds) * 60)
            #expect(problems.isEmpty, "\(problems)")
            let networks = try #require(try await forecaster(harness, client)["networks"] as? [[String: Any]])
            #expect(networks.count == 2 && networks.allSatisfy { $0["source"] as? String == "trained" }, "\(networks)")
            // 5, 15 and 30 minutes are 5, 15 and 30 slots; a newly installed network goes first.
            try await client.execute(uri: "/prediction?instance=a1&horizon=5m&horizon=15m&horizon=30m", method: .get,
                                     headers: harness.headers("reader")) { response in
                #expect(response.status == .ok)
                let predictions = try #require(try json(response.body)["predictions"] as? [[String: Any]])
                #expect(predictions.compactMap { $0["horizon"] as? String } == ["5m", "15m", "30m"])
                #expect(predictions.compactMap { $0["target"] as? Int } == [4, 14, 29].map { Int(ServiceHarness.start) + (rounds + $0) * 60 })
                let cpu = predictions.compactMap { $0["cpu"] as? [String: Any] }, memory = predictions.compactMap { $0["memory"] as? [String: Any] }
                #expect(cpu.count == 3 && (cpu + memory).allSatisfy { $0["model"] as? String == "gru" }, "\(cpu.map { $0["model"] ?? "" })")
                #expect(cpu.allSatisfy { abs(($0["point"] as? Double ?? .nan) - 3.05) < 0.5 }, "\(cpu.map { $0["point"] ?? "" })")
            }
        }
        for resource in NetworkTraining.resources {
            let saved = try #require(try await harness.store.checkpoint(name: NetworkTraining.checkpointName(resource)))
            let network = try Checkpoint.decode(saved.data)
            #expect(network.shape.interval == 60 && network.shape.horizonSlots == [5, 10, 15, 20, 25, 30])
        }
    }

    @Test func aNewNetworkIsInstalledOnlyWhenItBeatsTheOneInUseOnSlotsNeitherTrainedOn() async throws {
        let harness = try await ServiceHarness(configure: { c in
            Self.configure(&c)
            c.trainingSamples = 2_048
            c.trainingEpochs = 2
        })
        let first = ServiceHarness.start + 60 * 300, second = ServiceHarness.start + 80 * 300
        try await harness.test { client in
            try await harness.registerPool(client)
            try await harness.feed(client, rounds: 60)
            #expect(await harness.service.training.run(until: first).isEmpty)
            let before = await harness.service.runtime.forecasterView()
            // No network ran: the first trains on every slot, with nothing to beat.
            #expect(before.challenges.map(\.winner) == ["challenger", "challenger"])
            #expect(before.challenges.allSatisfy { $0.validationSlots == 0 && $0.challengerLoss == nil && $0.reason.contains("no network in use") })
            #expect(before.networks.map(\.trainedUntil) == [first, first])

            // 20 slots later, a challenger trained on one batch of one epoch: scored against the
            // first on the last 16 slots (a fifth of the 80 with samples), which neither trained on.
            try await harness.feed(client, rounds: 20, from: 60)
            var weak = harness.service.configuration
            weak.trainingSamples = 1
            weak.trainingEpochs = 1
            let challenger = NetworkTraining(configuration: weak, store: harness.store, runtime: harness.service.runtime, logger: Logger(label: "test"))
            #expect(await challenger.run(until: second).isEmpty, "losing is not a problem")
            let after = await harness.service.runtime.forecasterView()
            #expect(after.challenges.map(\.winner) == ["champion", "champion"], "\(after.challenges)")
            #expect(after.challenges.allSatisfy { $0.validationSlots == 16 && ($0.championLoss ?? .infinity) < ($0.challengerLoss ?? 0) && ($0.margin ?? 0) > 0 })
            #expect(after.networks == before.networks, "the networks in use are the first ones")
            for resource in NetworkTraining.resources {
                #expect(try await harness.store.checkpoint(name: NetworkTraining.checkpointName(resource))?.time == first, "and so are the saved ones")
            }
            let body = try await forecaster(harness, client)
            #expect((body["challenges"] as? [[String: Any]])?.compactMap { $0["winner"] as? String } == ["champion", "champion"])

            // The same settings as the first: trained on all but the last 16 slots, it beats nothing
            // better than a network one batch old would; what it must do is be scored on them too.
            let strong = NetworkTraining(configuration: harness.service.configuration, store: harness.store, runtime: harness.service.runtime,
                                         logger: Logger(label: "test"))
            #expect(await strong.run(until: second).isEmpty)
            let last = await harness.service.runtime.forecasterView()
            #expect(last.challenges.allSatisfy { $0.validationSlots == 16 && $0.challengerLoss != nil && $0.championLoss != nil })
            for (network, challenge) in zip(last.networks, last.challenges) where challenge.winner == "challenger" {
                #expect(network.trainedUntil == second - 16 * 300 && network.validationLoss == challenge.challengerLoss)
            }
        }
        // A restart keeps the schedule from the last training, whichever network won it.
        var configuration = ServiceConfiguration()
        configuration.demo = false
        Self.configure(&configuration)
        let restarted = try await ServiceApplication(configuration: configuration, store: harness.store, logger: Logger(label: "test"), now: second)
        #expect(await restarted.runtime.trainingSchedule.lastTraining == second)
    }

    @Test func aLongGapStartsTheForecasterAfreshAndKeepsItsNetworks() async throws {
        let harness = try await ServiceHarness(configure: Self.configure)
        let rounds = 30
        try await harness.test { client in
            try await harness.registerPool(client)
            try await harness.feed(client, rounds: rounds)
            #expect(await harness.service.training.run(until: ServiceHarness.start + Int64(rounds) * 300).isEmpty)
            let runtime = harness.service.runtime
            let series = await runtime.forecasterView().series
            // Nine days without a round: more than the forecaster keeps.
            let later = ServiceHarness.start + Int64(rounds) * 300 + 9 * 86_400
            await runtime.observeSlot(later / 300 * 300)
            let view = await runtime.forecasterView()
            #expect(view.networks.count == 2 && view.problems.isEmpty, "\(view.problems)")
            #expect(view.series == series)
            #expect(view.slotsObserved == 1)
            // Nothing recent is known: the demand of every instance is its allocation until fed.
            #expect(await runtime.demand("a1", horizon: 1) == (await runtime.instances["a1"])?.allocation)
            #expect(await runtime.trainingSchedule.historySince == nil)
        }
    }

    @Test func aDamagedCheckpointIsReportedAndTheServiceStillStarts() async throws {
        let harness = try await ServiceHarness(configure: Self.configure)
        try await harness.store.saveCheckpoint(name: NetworkTraining.checkpointName(.cpu), data: Array("not a network".utf8), time: 0)
        var configuration = ServiceConfiguration()
        configuration.demo = false
        let restarted = try await ServiceApplication(configuration: configuration, store: harness.store, logger: Logger(label: "test"),
                                                     now: ServiceHarness.start)
        let view = await restarted.runtime.forecasterView()
        #expect(view.networks.isEmpty)
        #expect(view.problems.count == 1 && view.problems[0].contains("network.cpu"), "\(view.problems)")
        // Nothing stored was changed: the bytes are still there for an operator to look at.
        #expect(try await harness.store.checkpoint(name: NetworkTraining.checkpointName(.cpu))?.data == Array("not a network".utf8))
    }

    @Test func trainingOnRequestNeedsAnAdminAndOneAtATime() async throws {
        let harness = try await ServiceHarness(configure: Self.configure)
        try await harness.test { client in
            try await harness.registerPool(client)
            try await harness.feed(client, rounds: 30)
            try await client.execute(uri: "/forecaster/train", method: .post, headers: harness.headers("reader")) { response in
                #expect(response.status == .forbidden)
            }
            try await client.execute(uri: "/forecaster/train", method: .post, headers: harness.headers("acme")) { response in
                #expect(response.status == .forbidden)
            }
            // While a training runs, another is refused.
            #expect(await harness.service.runtime.beginTraining(at: ServiceHarness.start))
            try await client.execute(uri: "/forecaster/train", method: .post, headers: harness.headers("admin")) { response in
                #expect(response.status == .conflict)
                #expect(errorMessage(response.body)?.contains("runs already") == true)
            }
            await harness.service.runtime.endTraining(problems: [])
            try await client.execute(uri: "/forecaster/train", method: .post, headers: harness.headers("admin")) { response in
                #expect(response.status == .accepted)
                #expect(response.headers[.location] == "/forecaster")
            }
            // Wait for the background training to finish (it takes seconds in a debug build).
            var view = try await forecaster(harness, client)
            for _ in 0..<600 where view["training"] as? Bool == true {
                try await Task.sleep(for: .milliseconds(100))
                view = try await forecaster(harness, client)
            }
            #expect(view["training"] as? Bool == false)
            #expect((view["networks"] as? [Any])?.count == 2, "\(view)")
        }
    }

    @Test func loopSettingsAreReadAndBoundsRefusedNamingTheField() throws {
        let read = try ServiceConfiguration.load(file: nil, environment: ["POOLSWAP_PLAN_EVERY_ROUNDS": "3", "POOLSWAP_COOLDOWN_ROUNDS": "0"])
        #expect(read.planEveryRounds == 3 && read.cooldownRounds == 0)
        for (key, value, message) in [("POOLSWAP_PLAN_EVERY_ROUNDS", "7", "planEveryRounds must be 1...6"),
                                      ("POOLSWAP_PLAN_EVERY_ROUNDS", "0", "planEveryRounds must be 1...6")] {
            #expect { _ = try ServiceConfiguration.load(file: nil, environment: [key: value]) } throws: { "\($0)".contains(message) }
        }
        var bad = ServiceConfiguration()
        bad.headroom = [0.02, 0, 0.5]
        #expect { try bad.validate() } throws: { "\($0)".contains("headroom's gpu must be whole devices") }
        bad.headroom = [-1, 0, 0]
        #expect { try bad.validate() } throws: { "\($0)".contains("headroom needs three finite amounts") }
    }

    @Test func aFileKeepingFewerDaysThanTheDefaultTrainingTrainsOnWhatItKeeps() throws {
        let path = NSTemporaryDirectory() + "poolswap-config-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try #"{"demo": false, "retentionFullDays": 14}"#.write(toFile: path, atomically: true, encoding: .utf8)
        let read = try ServiceConfiguration.load(file: path, environment: [:])
        #expect(read.trainingDays == 14 && read.retentionFullDays == 14)
        try #"{"demo": false, "retentionFullDays": 14, "trainingDays": 20}"#.write(toFile: path, atomically: true, encoding: .utf8)
        #expect { _ = try ServiceConfiguration.load(file: path, environment: [:]) } throws: { "\($0)".contains("at most retentionFullDays (14)") }
    }

    @Test func trainingSettingsAreReadFromTheEnvironmentAndBoundsRefused() throws {
        let read = try ServiceConfiguration.load(file: nil, environment: ["POOLSWAP_RETRAIN_HOURS": "6", "POOLSWAP_TRAINING_DAYS": "7"])
        #expect(read.retrainHours == 6 && read.trainingDays == 7)
        for (key, value, message) in [("POOLSWAP_RETRAIN_HOURS", "9999999999999", "at most 8760"),
                                      ("POOLSWAP_TRAINING_DAYS", "40", "at most retentionFullDays (28)"),
                                      ("POOLSWAP_TRAINING_EPOCHS", "0", "must be ≥ 1"),
                                      ("POOLSWAP_TRAINING_SAMPLES", "many", "is not a valid Int")] {
            #expect {
                _ = try ServiceConfiguration.load(file: nil, environment: [key: value])
            } throws: { error in
                "\(error)".contains(message)
            }
        }
    }

    @Test func trainingsAreDueAfterTheFirstHoursThenEveryRetrainPeriod() throws {
        var configuration = ServiceConfiguration()
        let store = try SQLiteStore(path: NSTemporaryDirectory() + "poolswap-due-\(UUID().uuidString).sqlite")
        let training = { (c: ServiceConfiguration) in
            NetworkTraining(configuration: c, store: store, runtime: PoolRuntime(configuration: c, store: store, driver: ExternalDriver()), logger: Logger(label: "test"))
        }
        var t = training(configuration)
        let day: Int64 = 86_400
        #expect(!t.isDue(now: 1_000 * day, historySince: nil, lastTraining: nil), "no samples yet")
        #expect(!t.isDue(now: 1_000 * day, historySince: 1_000 * day - day + 300, lastTraining: nil))
        #expect(t.isDue(now: 1_000 * day, historySince: 1_000 * day - day, lastTraining: nil))
        // After a training (or networks saved by an earlier process), every retrain period.
        #expect(!t.isDue(now: 1_000 * day, historySince: 900 * day, lastTraining: 1_000 * day - 3_600))
        #expect(t.isDue(now: 1_000 * day, historySince: 999 * day, lastTraining: 1_000 * day - day))
        configuration.firstTrainingHours = 2
        configuration.retrainHours = 48
        t = training(configuration)
        #expect(t.isDue(now: 1_000 * day, historySince: 1_000 * day - 7_200, lastTraining: nil))
        #expect(!t.isDue(now: 1_000 * day, historySince: 900 * day, lastTraining: 1_000 * day - day))
        configuration.interval = 60
        t = training(configuration)
        #expect(t.isDue(now: 1_000 * day, historySince: 0, lastTraining: nil), "the networks train at any interval")
        configuration.interval = 300
        configuration.retrainHours = 0
        t = training(configuration)
        #expect(!t.isDue(now: 1_000 * day, historySince: 0, lastTraining: 0))
    }
}
