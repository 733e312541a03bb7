import Foundation
import Logging
import ServiceLifecycle
import Storage

/// The control loop: every round ingest → forecast → formulate and solve →
/// assess → execute → record, on the pool clock it is given.
public struct ControlLoop: Sendable {
    let runtime: PoolRuntime
    let store: any PoolStore
    let metrics: ServiceMetrics
    let replay: TraceReplay?
    let training: NetworkTraining
    let logger: Logger

    public struct RoundReport: Sendable {
        public var round: Int
        public var time: Int64
        public var samples: Int
        public var swaps: Int
        public var objectiveBefore: Double?
        public var objectiveAfter: Double?
        /// Whether this round started a training of the networks.
        public var trainingStarted = false
    }

    /// One round for the slot starting at `time`.
    @discardableResult
    public func runOnce(time: Int64) async throws -> RoundReport {
        let clock = ContinuousClock()
        let configuration = runtime.configuration
        var report = RoundReport(round: await runtime.round, time: time, samples: 0, swaps: 0)

        var started = clock.now
        if let replay {
            let slot = Int((time - replay.time(ofSlot: 0)) / Int64(configuration.interval))
            let receipt = try await runtime.accept(replay.samples(slot: slot, time: time)) { _ in true }
            report.samples = receipt.accepted
            metrics.samplesAccepted.increment(by: Int64(receipt.accepted))
        }
        metrics.record(step: "ingest", clock.now - started)

        started = clock.now
        await runtime.observeSlot(time)
        metrics.record(step: "forecast", clock.now - started)
        for settled in await runtime.takeSettlements() {
            try await store.settle(swap: settled.id, realisedBenefit: settled.realised, utilisationAfter: settled.utilisation)
        }
        // The networks learn in the background; the loop goes on with the ones installed.
        let schedule = await runtime.trainingSchedule, observedUntil = time + Int64(configuration.interval)
        if training.isDue(now: observedUntil, historySince: schedule.historySince, lastTraining: schedule.lastTraining) {
            report.trainingStarted = await training.start(until: observedUntil) != nil
        }

        if configuration.autoSwap, report.round >= configuration.warmupRounds {
            started = clock.now
            let deadline = clock.now.advanced(by: .seconds(configuration.solverSeconds))
            let (view, _, _) = try await runtime.plan(SwapRequestBody(), tenantScope: nil) { ContinuousClock().now >= deadline }
            metrics.record(step: "formulate_solve", clock.now - started)
            report.objectiveBefore = view.objectiveBefore
            report.objectiveAfter = view.objectiveAfter
            metrics.objective.set(view.objectiveAfter)
            if !view.swaps.isEmpty {
                report.swaps += try await execute(view, request: "{\"source\":\"loop\"}", tenant: nil)
            }
        }
        for queued in try await store.plans(status: .queued) {
            guard let view = try? JSONDecoder().decode(PlanView.self, from: Data(queued.answer.utf8)) else { continue }
            do {
                report.swaps += try await execute(view, request: queued.request, tenant: queued.tenant)
            } catch {
                var failed = queued
                failed.status = .failed
                try await store.save(plan: failed)
                try await store.append(journal: JournalEntry(plan: queued.id, step: -1, phase: "failed", detail: "\(error)", time: time))
            }
        }
        // Once a day of pool time: drop samples past retention, downsample old ones to hourly means.
        if report.round % max(1, 86_400 / configuration.interval) == 0, report.round > 0 {
            try await store.compactSamples(deleteBefore: time - Int64(configuration.retentionDays) * 86_400,
                                           downsampleBefore: time - Int64(configuration.retentionFullDays) * 86_400, bucket: 3_600)
        }
        await runtime.advanceRound()
        metrics.rounds.increment()
        metrics.instances.set(Double(await runtime.allInstances().count))
        return report
    }

    /// Executes a plan and keeps its record current: executing, then executed.
    func execute(_ view: PlanView, request: String, tenant: String?) async throws -> Int {
        let clock = ContinuousClock()
        var record = PlanRecord(id: view.id, created: view.created, status: .executing, tenant: tenant, request: request,
                                answer: String(decoding: try JSONEncoder().encode(view), as: UTF8.self))
        try await store.save(plan: record)
        let started = clock.now
        _ = try await runtime.execute(view, clock: clock)
        metrics.record(step: "execute", clock.now - started)
        record.status = .executed
        try await store.save(plan: record)
        metrics.swaps.increment(by: Int64(view.swaps.count))
        return view.swaps.count
    }
}

/// Runs the loop as a service: in demo mode a round every `demoRoundSeconds`
/// with the pool clock stepping one slot; otherwise at every slot boundary of
/// the wall clock.
struct ControlLoopService: Service {
    let loop: ControlLoop
    let configuration: ServiceConfiguration
    let firstSlot: Int64

    func run() async throws {
        let interval = Int64(configuration.interval)
        var time = firstSlot
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            // Only the wait is cut short by a graceful shutdown; a round in progress finishes.
            if configuration.demo {
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(configuration.demoRoundSeconds)) }
            } else {
                let now = Int64(Date().timeIntervalSince1970)
                let next = (now / interval + 1) * interval
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(Double(next - now))) }
                time = next - interval
            }
            if Task.isShuttingDownGracefully || Task.isCancelled { break }
            do {
                let report = try await loop.runOnce(time: time)
                loop.logger.info("round \(report.round) at \(UTCTimeText.iso(time)): \(report.samples) samples, \(report.swaps) swaps\(report.objectiveAfter.map { String(format: ", objective %.2f → %.2f", report.objectiveBefore ?? .nan, $0) } ?? "")")
            } catch {
                loop.logger.error("round at \(time) failed: \(error)")
            }
            time += interval
        }
    }
}

enum UTCTimeText {
    static func iso(_ t: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(t)))
    }
}
