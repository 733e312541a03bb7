import Forecasting
import Foundation
import Logging
import PoolCore
import Storage

/// How the service learns its forecasting networks: one per resource, trained in the
/// background on the samples the store holds for the last `trainingDays`, saved to the store
/// as a checkpoint and installed in the running forecaster, which keeps its state and
/// calibration; after a restart the saved networks are loaded instead of trained again.
public struct NetworkTraining: Sendable {
    public static let resources: [Resource] = [.cpu, .memory]
    public static func checkpointName(_ resource: Resource) -> String { "network.\(resource)" }

    let configuration: ServiceConfiguration
    let store: any PoolStore
    let runtime: PoolRuntime
    let logger: Logger

    /// Seconds per slot the networks read (their time-of-day and weekly inputs count 288 a day).
    static let slotSeconds: Int64 = 300

    /// Why the networks cannot run on a pool of `interval`-second slots; nil when they can.
    static func intervalProblem(_ interval: Int) -> String? {
        Int64(interval) == slotSeconds ? nil : "the networks read 5-minute slots; this pool's interval is \(interval) s"
    }

    public var isEnabled: Bool { configuration.retrainHours > 0 && Self.intervalProblem(configuration.interval) == nil }

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

    /// Trains a network per resource on the samples of the `trainingDays` before `time`, saves
    /// each one that trained to the store and installs it. Returns what went wrong.
    public func run(until time: Int64) async -> [String] {
        let end = time / Self.slotSeconds
        let start = end - Int64(configuration.trainingDays) * 86_400 / Self.slotSeconds
        let slots = Int(end - start)
        var cpu: [[Double]] = [], memory: [[Double]] = [], allocation: [[[Double]]] = []
        do {
            for record in await runtime.allInstances() {
                let history = try await StoredHistory.read(record, startSlot: start, slots: slots, interval: Self.slotSeconds, from: store)
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
        var problems: [String] = []
        for resource in Self.resources {
            let own = resource == .cpu ? cpu : memory, other = resource == .cpu ? memory : cpu
            let series = own.indices.map { i in
                TrainingSeries(values: own[i], other: other[i], allocation: allocation[i][resource.rawValue])
            }
            let clock = ContinuousClock()
            let began = clock.now
            let trainer = NetworkTrainer(configuration: settings)
            let (network, losses) = await Self.onOwnThread { trainer.train(series: series, startSlot: start, end: slots) }
            let seconds = Double((clock.now - began).components.seconds) + Double((clock.now - began).components.attoseconds) / 1e18
            guard let loss = losses.last else {
                problems.append("\(resource): not enough samples to train on yet (no \(settings.steps)-slot window with its next slot observed in the last \(configuration.trainingDays) days)")
                continue
            }
            guard network.parameters.values.allSatisfy(\.isFinite) else {
                problems.append("\(resource): training diverged; the network in use is kept")
                continue
            }
            // Installed first: a network the forecaster refuses never replaces the saved one.
            do {
                try await runtime.install(network, for: resource, status: NetworkStatus(
                    resource: "\(resource)", cell: network.shape.cell.rawValue, hidden: network.shape.hidden, steps: network.shape.steps,
                    source: .trained, installedAt: await runtime.poolTime, trainedUntil: time, samples: settings.samples,
                    epochs: settings.epochs, loss: loss, seconds: seconds))
                logger.info("trained the \(resource) network on \(series.count) instances in \(String(format: "%.1f", seconds)) s, loss \(String(format: "%.4f", loss))")
            } catch {
                problems.append("\(resource): the trained network was not installed: \(error)")
                continue
            }
            do {
                try await store.saveCheckpoint(name: Self.checkpointName(resource), data: Checkpoint.encode(network), time: time)
            } catch {
                problems.append("\(resource): the network runs but could not be saved, a restart will not have it: \(error)")
            }
        }
        for problem in problems { logger.warning("network training: \(problem)") }
        return problems
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
