import Forecasting
import Foundation
import PoolCore
import Storage

/// What the service knows of one installed network.
public struct NetworkStatus: Sendable, Codable, Equatable {
    public enum Source: String, Sendable, Codable { case trained, checkpoint }
    public var resource: String
    public var cell: String
    public var hidden: Int
    public var steps: Int
    public var source: Source
    /// Pool time it was installed at.
    public var installedAt: Int64
    /// Pool time its training samples end at (exclusive), and for a network trained by this
    /// process the windows it drew per epoch, its epochs, its mean loss in the last epoch, and
    /// the wall seconds it took.
    public var trainedUntil: Int64?
    public var samples: Int?
    public var epochs: Int?
    public var loss: Double?
    public var seconds: Double?
    /// For a trained network: its mean pinball loss on the validation slots it did not train
    /// on, and that of the network it replaced on the same slots (nil: none was installed).
    public var validationLoss: Double?
    public var replacedLoss: Double?
}

/// The last decision between a newly trained network (the challenger) and the one in use (the
/// champion) for one resource: both scored on the last slots of the training's span, which
/// neither trained on; the challenger is installed when its loss is lower, and without a
/// comparison when no champion runs or it cannot be compared (`reason` says which).
public struct NetworkChallenge: Sendable, Codable, Equatable {
    public var resource: String
    /// Pool time the training's span ends at; the validation slots end there.
    public var trainedUntil: Int64
    /// Slots both were scored on (0: no comparison).
    public var validationSlots: Int
    public var challengerLoss: Double?
    public var championLoss: Double?
    /// `challenger` or `champion`.
    public var winner: String
    /// How much lower the winner's loss is, as a fraction of the loser's (when both were scored).
    public var margin: Double?
    public var reason: String
}

/// The forecaster's side of the runtime: the engine kept aligned with pool time, warmed from
/// the store at start, and the networks installed into it.
extension PoolRuntime {
    /// Samples of the store replayed at start: `warmStartSlots`, no more than the forecaster
    /// keeps, and fewer for very large pools so that the replay holds at most 20 million
    /// instance-slots.
    func warmStartSlots(instances: Int) -> Int {
        let kept = forecaster.engine.configuration.historySlots
        return min(configuration.warmStartSlots ?? kept, kept, 20_000_000 / max(1, instances))
    }

    /// Feeds the engine the stored samples of the `slots` slots before `end` (a pool time),
    /// one slot at a time as if they had come live, each with the allocation it had; and the
    /// memory floor its day of readings.
    func warmStart(slots: Int, before end: Int64) async throws {
        guard slots > 0 else { return }
        let interval = Int64(configuration.interval)
        let row = [Double](repeating: .nan, count: forecaster.engine.series.count)
        var grid = [[Double]](repeating: row, count: slots), allocations = grid
        for id in forecaster.order {
            guard let series = forecaster.seriesOf[id], let record = registry.records[id] else { continue }
            let history = try await StoredHistory.read(record, startSlot: end / interval - Int64(slots), slots: slots, interval: interval, from: store)
            for k in 0..<slots {
                grid[k][series.cpu] = history.cpu[k]
                grid[k][series.memory] = history.memory[k]
                if series.gpu >= 0 { grid[k][series.gpu] = history.gpu[k] }
                allocations[k][series.cpu] = history.allocation[0][k]
                allocations[k][series.memory] = history.allocation[1][k]
                if series.gpu >= 0 { allocations[k][series.gpu] = history.allocation[2][k] }
            }
            monitor.seedMemory(history.memory, for: id)
            if let peak = history.gpu.filter({ !$0.isNaN }).max() { forecaster.gpuPeak[id] = max(forecaster.gpuPeak[id] ?? 0, peak) }
            if let oldest = history.oldest { forecaster.historySince = min(forecaster.historySince ?? oldest, oldest) }
            if let newest = history.newest {
                forecaster.remember(newest.used, for: id)
                forecaster.lastObservedSlot[id] = (newest.time / interval) * interval
            }
        }
        for (values, allocation) in zip(grid, allocations) { forecaster.engine.observe(values, allocations: allocation) }
    }

    /// Brings the engine to the slot before absolute slot `slot`: a skipped slot is fed as a
    /// gap, a gap longer than the engine keeps starts it afresh. False when `slot` was
    /// observed already.
    func alignForecaster(to slot: Int64) -> Bool {
        let index = slot - forecaster.engine.firstSlot
        if index < Int64(forecaster.engine.slotCount) { return false }
        let gap = Int(index) - forecaster.engine.slotCount
        if gap > forecaster.engine.configuration.historySlots {
            // Nothing the engine holds is recent: a new one, the networks installed before the
            // instances are admitted (which then serves them), the instances cold until fed.
            let ids = forecaster.order
            forecaster.reset(firstSlot: slot)
            for (resource, entry) in networks {
                do {
                    try installInEngine(entry.network, for: resource)
                } catch {
                    networks[resource] = nil
                    networkProblems.append("\(resource): the network could not be installed again after a gap: \(error)")
                }
            }
            for id in ids { admit(id) }
            forecaster.lastObservedSlot = [:]
            forecaster.historySince = nil
        } else {
            let gaps = [Double](repeating: .nan, count: forecaster.engine.series.count)
            for _ in 0..<gap { forecaster.engine.observe(gaps) }
        }
        return true
    }

    /// Installs `network` for `resource`: it serves every instance's series of that resource,
    /// forecasting at once from the history the engine holds.
    /// `replacing`: the install count the caller's champion came with; refused when another
    /// network was installed since (it was not the one compared).
    func install(_ network: RecurrentNetwork, for resource: Resource, status: NetworkStatus, replacing installs: Int? = nil) throws {
        if let installs, installs != networkInstalls {
            throw ConfigurationError("another network was installed while this one was trained and compared")
        }
        try installInEngine(network, for: resource)
        networks[resource] = (network, status)
        networkInstalls += 1
        predictionCache.clear()
    }

    private func installInEngine(_ network: RecurrentNetwork, for resource: Resource) throws {
        try NetworkForecaster.check(network)
        let served = forecaster.order.compactMap { forecaster.seriesOf[$0].map { resource == .cpu ? $0.cpu : $0.memory } }
        try forecaster.engine.install(NetworkForecaster(network: network, activeFrom: forecaster.engine.slotCount), as: resource.rawValue, serving: served)
        forecaster.forgetForecasts()
    }

    /// Installs the networks saved in the store; a checkpoint that cannot be read is reported in
    /// `networkProblems` and left for the next training to replace. The next training is due
    /// `retrainHours` after the oldest of them was trained until.
    func loadNetworks() async {
        for resource in NetworkTraining.resources {
            let name = NetworkTraining.checkpointName(resource)
            do {
                guard let saved = try await store.checkpoint(name: name) else { continue }
                let network = try Checkpoint.decode(saved.data)
                try install(network, for: resource, status: NetworkStatus(
                    resource: "\(resource)", cell: network.shape.cell.rawValue, hidden: network.shape.hidden, steps: network.shape.steps,
                    source: .checkpoint, installedAt: poolTime, trainedUntil: saved.time))
                lastTraining = min(lastTraining ?? saved.time, saved.time)
            } catch {
                networkProblems.append("checkpoint \(name): \(error)")
            }
        }
        // The last training's time, whichever network won it.
        if let schedule = try? await store.checkpoint(name: NetworkTraining.scheduleName) { lastTraining = schedule.time }
    }

    /// What `NetworkTraining.isDue` decides on: the pool time of the oldest sample the
    /// forecaster holds, and of the last training.
    var trainingSchedule: (historySince: Int64?, lastTraining: Int64?) { (forecaster.historySince, lastTraining) }

    /// Marks a training on the samples before `time` as running; false when one already is.
    func beginTraining(at time: Int64) -> Bool {
        if training { return false }
        training = true
        lastTraining = time
        return true
    }

    func endTraining(problems: [String]) {
        training = false
        networkProblems = problems
    }

    public func forecasterView() -> ForecasterView {
        ForecasterView(networks: NetworkTraining.resources.compactMap { networks[$0]?.status }, training: training,
                       problems: networkProblems, slotsObserved: forecaster.engine.slotCount, series: forecaster.engine.series.count,
                       challenges: NetworkTraining.resources.compactMap { challenges[$0] })
    }

    /// The network serving `resource` now, where its training samples end, and the count of
    /// installs it came with (see `install(_:for:status:replacing:)`).
    func champion(for resource: Resource) -> (network: RecurrentNetwork, trainedUntil: Int64?, installs: Int)? {
        networks[resource].map { ($0.network, $0.status.trainedUntil, networkInstalls) }
    }

    func record(_ challenge: NetworkChallenge, for resource: Resource) { challenges[resource] = challenge }
}
