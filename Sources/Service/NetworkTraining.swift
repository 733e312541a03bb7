import Forecasting
import Foundation
import Logging
import PoolCore
import Storage

/// How the service learns its forecasting networks: one per resource, trained in the
/// background on the samples the store holds for the last `trainingDays`. Where a network
/// runs, the new one does not train on the last `validationHours` (at most a fifth of the
/// slots since the first sample, and none the one in use trained on): both are scored there
/// (champion and challenger), and only a better new one is installed in the running
/// forecaster, which keeps its state and calibration, and saved to the store as a checkpoint.
/// After a restart the saved networks are loaded instead of trained again.
public struct NetworkTraining: Sendable {
    public static let resources: [Resource] = [.cpu, .memory]
    public static func checkpointName(_ resource: Resource) -> String { "network.\(resource)" }

    let configuration: ServiceConfiguration
    let store: any PoolStore
    let runtime: PoolRuntime
    let logger: Logger

    /// Seconds per slot: the pool's interval, which the networks read at.
    var slotSeconds: Int64 { Int64(configuration.interval) }

    public var isEnabled: Bool { configuration.retrainHours > 0 }

    /// Whether a training is due at pool time `now`: the first once the forecaster has held
    /// samples for `firstTrainingHours` (since `historySince`, the oldest it was fed), then
    /// `retrainHours` after the last one started or the saved networks were trained until
    /// (`lastTraining`), so that restarts keep the schedule.
    func isDue(now: Int64, historySince: Int64?, lastTraining: Int64?) -> Bool {
        guard isEnabled else { return false }
        if let lastTraining { return now - lastTraining >= Int64(configuration.retrainHours) * 3600 }
        guard let historySince else { return false }
        return now - historySince >= Int64(configuration.firstTrainingHours) * 3600
    }

    /// Starts a training on the samples before `time` in the background, unless one runs.
    /// Returns the task, or nil when one was running already.
    @discardableResult
    func start(until time: Int64) async -> Task<[String], Never>? {
        guard await runtime.beginTraining(at: time) else { return nil }
        return Task.detached(priority: .background) {
            let problems = await run(until: time)
            await runtime.endTraining(problems: problems)
            return problems
        }
    }

    /// Trains a network per resource on the samples of the `trainingDays` before `time`; where a
    /// network runs that it can be compared with, holds out the last slots and installs and
    /// saves the new one only when it does better there. Returns what went wrong.
    public func run(until time: Int64) async -> [String] {
        let end = time / slotSeconds
        let start = end - Int64(configuration.trainingDays) * 86_400 / slotSeconds
        let slots = Int(end - start)
        var cpu: [[Double]] = [], memory: [[Double]] = [], allocation: [[[Double]]] = []
        do {
            for record in await runtime.allInstances() {
                let history = try await StoredHistory.read(record, startSlot: start, slots: slots, interval: slotSeconds, from: store)
                cpu.append(history.cpu)
                memory.append(history.memory)
                allocation.append(history.allocation)
            }
        } catch {
            return ["training could not read the samples: \(error)"]
        }
        var settings = NetworkTrainer.Configuration()
        settings.samples = configuration.trainingSamples
        settings.epochs = configuration.trainingEpochs
        settings.adopt(configuration.forecastConfiguration)
        var problems: [String] = []
        let firstObserved = (cpu + memory).compactMap { $0.firstIndex { !$0.isNaN } }.min() ?? slots
        let held = Self.validationSlots(configuration, span: slots - firstObserved)
        for resource in Self.resources {
            let own = resource == .cpu ? cpu : memory, other = resource == .cpu ? memory : cpu
            let series = own.indices.map { i in
                TrainingSeries(values: own[i], other: other[i], allocation: allocation[i][resource.rawValue])
            }
            // The champion: the network in use, scored on the held-out slots it did not train on
            // either; the new network then trains on the slots before them, else on all.
            let champion = await runtime.champion(for: resource)
            var validationFrom: Int?, why: String?
            if let champion {
                // The first slot wholly after the champion's samples.
                let championEnd = champion.trainedUntil.map { Int(($0 + slotSeconds - 1) / slotSeconds - start) } ?? slots
                if champion.network.shape.horizonSlots != settings.horizons || champion.network.shape.interval != settings.interval
                    || champion.network.shape.quantiles != settings.quantiles {
                    why = "the network in use forecasts other horizons or quantiles, or at another interval: not compared"
                } else if max(slots - held, championEnd) >= slots - 1 || held == 0 {
                    why = "the network in use trained on the slots a comparison would use: not compared"
                } else {
                    validationFrom = max(slots - held, championEnd)
                }
            }
            let trainEnd = validationFrom ?? slots
            // A training that installs nothing: the network in use, if any, stays, and says why.
            func kept(_ why: String) async {
                problems.append("\(resource): \(why)")
                guard champion != nil else { return }
                await runtime.record(NetworkChallenge(resource: "\(resource)", trainedUntil: time, validationSlots: 0, challengerLoss: nil,
                                                      championLoss: nil, winner: "champion", margin: nil, reason: why), for: resource)
            }
            let clock = ContinuousClock()
            let began = clock.now
            let trainer = NetworkTrainer(configuration: settings)
            let (network, losses) = await Self.onOwnThread { trainer.train(series: series, startSlot: start, end: trainEnd) }
            let seconds = Double((clock.now - began).components.seconds) + Double((clock.now - began).components.attoseconds) / 1e18
            guard let loss = losses.last else {
                await kept("not enough samples to train on yet (no \(settings.steps)-slot window with its next slot observed in the last \(configuration.trainingDays) days)")
                continue
            }
            guard network.parameters.values.allSatisfy(\.isFinite) else {
                await kept("training diverged; the network in use is kept")
                continue
            }
            var challenge = NetworkChallenge(resource: "\(resource)", trainedUntil: time, validationSlots: 0, challengerLoss: nil,
                                             championLoss: nil, winner: "challenger", margin: nil,
                                             reason: why ?? "no network in use: trained on every slot")
            if let from = validationFrom, let champion {
                let limit = settings.samples
                let (challengerLoss, championLoss) = await Self.onOwnThread {
                    (NetworkValidation.loss(of: network, series: series, startSlot: start, from: from, to: slots, maxWindows: limit),
                     NetworkValidation.loss(of: champion.network, series: series, startSlot: start, from: from, to: slots, maxWindows: limit))
                }
                challenge = Self.decide(resource, until: time, slots: slots - from, challenger: challengerLoss, champion: championLoss)
                if challenge.winner == "champion" {
                    await runtime.record(challenge, for: resource)
                    logger.info("network training: \(resource): \(challenge.reason)")
                    continue
                }
            }
            // Installed first: a network the forecaster refuses never replaces the saved one.
            let trainedUntil = time - Int64(slots - trainEnd) * slotSeconds
            do {
                try await runtime.install(network, for: resource, status: NetworkStatus(
                    resource: "\(resource)", cell: network.shape.cell.rawValue, hidden: network.shape.hidden, steps: network.shape.steps,
                    source: .trained, installedAt: await runtime.poolTime, trainedUntil: trainedUntil, samples: settings.samples,
                    epochs: settings.epochs, loss: loss, seconds: seconds, validationLoss: challenge.challengerLoss,
                    replacedLoss: challenge.championLoss), replacing: champion?.installs)
                await runtime.record(challenge, for: resource)
                logger.info("trained the \(resource) network on \(series.count) instances in \(String(format: "%.1f", seconds)) s, loss \(String(format: "%.4f", loss)); \(challenge.reason)")
            } catch {
                await kept("the trained network was not installed: \(error)")
                continue
            }
            do {
                try await store.saveCheckpoint(name: Self.checkpointName(resource), data: Checkpoint.encode(network), time: trainedUntil)
            } catch {
                problems.append("\(resource): the network runs but could not be saved, a restart will not have it: \(error)")
            }
        }
        // The schedule goes on from this training, whichever network won.
        do { try await store.saveCheckpoint(name: Self.scheduleName, data: [], time: time) } catch {
            problems.append("the training's time could not be saved: a restart may train again early: \(error)")
        }
        for problem in problems { logger.warning("network training: \(problem)") }
        return problems
    }

    /// The store record whose time is the last training's.
    public static let scheduleName = "network.schedule"

    /// Slots held out for validation at the end of a training span whose first sample is `span`
    /// slots before its end: `validationHours`, at most a fifth of them.
    static func validationSlots(_ configuration: ServiceConfiguration, span: Int) -> Int {
        min(configuration.validationHours * 3600 / configuration.interval, span / 5)
    }

    /// The decision between a challenger and a champion scored on the same `slots`: the
    /// challenger wins with a lower loss, or when the champion could not be scored; the champion
    /// stays when the challenger could not be.
    static func decide(_ resource: Resource, until time: Int64, slots: Int, challenger: Double?, champion: Double?) -> NetworkChallenge {
        var decision = NetworkChallenge(resource: "\(resource)", trainedUntil: time, validationSlots: slots, challengerLoss: challenger,
                                        championLoss: champion, winner: "challenger", margin: nil, reason: "")
        switch (challenger, champion) {
        case (nil, _):
            decision.winner = "champion"
            decision.reason = "the new network could not be scored on the last \(slots) slots (no window with a sample there): kept the one in use"
        case (.some, nil):
            decision.reason = "the network in use could not be scored on the last \(slots) slots: replaced"
        case (.some(let new), .some(let old)):
            decision.winner = new < old ? "challenger" : "champion"
            let (won, lost) = new < old ? (new, old) : (old, new)
            decision.margin = lost > 0 ? (lost - won) / lost : 0
            decision.reason = new < old
                ? String(format: "beat the network in use on the last %d slots: loss %.4f against %.4f", slots, new, old)
                : String(format: "lost to the network in use on the last %d slots: loss %.4f against %.4f; kept the one in use", slots, new, old)
        }
        return decision
    }

    /// Runs `work` on a thread of its own, so that a long training does not hold one of the
    /// few threads the service's tasks share.
    static func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            let thread = Thread { continuation.resume(returning: work()) }
            thread.stackSize = 8 << 20
            thread.start()
        }
    }
}
