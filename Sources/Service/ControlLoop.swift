import Foundation
import Logging
import ServiceLifecycle
import Storage

/// The control loop: every round ingest → forecast → verify → formulate and solve → assess →
/// execute → record, on the pool clock it is given.
public struct ControlLoop: Sendable {
    let runtime: PoolRuntime
    let store: any PoolStore
    let metrics: ServiceMetrics
    let training: NetworkTraining
    let logger: Logger
    /// Where samples are pulled from each round, when it is Prometheus.
    var source: PrometheusSource? = nil

    public struct RoundReport: Sendable {
        public var round: Int
        public var time: Int64
        public var samples: Int
        /// Swaps that took effect this round, and those the verification committed or rolled back.
        public var swaps: Int
        public var committed = 0
        public var rolledBack = 0
        public var objectiveBefore: Double?
        public var objectiveAfter: Double?
        /// Whether this round started a training of the networks.
        public var trainingStarted = false
        /// Wall time of each step: ingest, forecast, verify, formulate_solve, execute.
        public var steps: [String: Duration] = [:]
    }

    /// One round for the slot starting at `time`.
    @discardableResult
    public func runOnce(time: Int64) async throws -> RoundReport {
        let clock = ContinuousClock()
        let configuration = runtime.configuration
        var report = RoundReport(round: await runtime.round, time: time, samples: 0, swaps: 0)

        var started = clock.now
        if let receipt = try await runtime.sampleDriver(slot: time) {
            report.samples = receipt.accepted
            metrics.samplesAccepted.increment(by: Int64(receipt.accepted))
        }
        if let source { report.samples += await pull(from: source, through: time + Int64(configuration.interval)) }
        report.steps["ingest"] = clock.now - started
        metrics.record(step: "ingest", clock.now - started)

        started = clock.now
        await runtime.observeSlot(time)
        report.steps["forecast"] = clock.now - started
        metrics.record(step: "forecast", clock.now - started)
        let servesHTTP = await runtime.servesHTTP
        if servesHTTP {
            started = clock.now
            await runtime.refreshPredictions()
            report.steps["predictions"] = clock.now - started
            metrics.record(step: "predictions", clock.now - started)
        }

        started = clock.now
        let verified = try await runtime.verifyRound(time: time)
        report.committed = verified.committed
        report.rolledBack = verified.rolledBack
        metrics.committed.increment(by: Int64(verified.committed))
        metrics.rolledBack.increment(by: Int64(verified.rolledBack))
        report.steps["verify"] = clock.now - started
        metrics.record(step: "verify", clock.now - started)

        // The networks learn in the background; the loop goes on with the ones installed.
        let schedule = await runtime.trainingSchedule, observedUntil = time + Int64(configuration.interval)
        if training.isDue(now: observedUntil, historySince: schedule.historySince, lastTraining: schedule.lastTraining) {
            report.trainingStarted = await training.start(until: observedUntil) != nil
        }

        _ = try await runtime.expireHeld(at: time)
        // Plans an operator queued go first: the loop's own plan then sees their cooldowns.
        for queued in try await store.plans(status: .queued) {
            guard let view = SwapRecords.value(PlanView.self, queued.answer) else {
                var failed = queued
                failed.status = .failed
                try await store.save(plan: failed)
                try await store.append(journal: JournalEntry(plan: queued.id, step: -1, phase: "failed",
                                                             detail: "the stored plan cannot be read back; nothing of it was applied", time: time))
                continue
            }
            let force = SwapRecords.value(SwapRequestBody.self, queued.request)?.force ?? false
            started = clock.now
            do {
                let ran = try await runtime.execute(view, request: queued.request, tenant: queued.tenant, force: force, reassess: true)
                report.swaps += count(ran)
            } catch {
                // A plan that got as far as running was ended by the runtime (reversed, or left
                // executing for the next start to end): only one still queued is marked here.
                if try await store.plan(id: queued.id)?.status ?? .queued == .queued {
                    var failed = queued
                    failed.status = .failed
                    try await store.save(plan: failed)
                }
                try await store.append(journal: JournalEntry(plan: queued.id, step: -1, phase: "failed", detail: "\(error)", time: time))
            }
            metrics.record(step: "execute", clock.now - started)
        }

        if configuration.autoSwap, await runtime.historySlots >= configuration.warmupRounds, (time / Int64(configuration.interval)) % Int64(configuration.planEveryRounds) == 0 {
            started = clock.now
            let view = try await runtime.plan(SwapRequestBody(), tenantScope: nil, solverSeconds: configuration.solverSeconds, loop: true)
            report.steps["formulate_solve"] = clock.now - started
            metrics.record(step: "formulate_solve", clock.now - started)
            report.objectiveBefore = view.objectiveBefore
            report.objectiveAfter = view.objectiveAfter
            metrics.objective.set(view.objectiveAfter)
            if !view.swaps.isEmpty {
                started = clock.now
                let ran = try await runtime.execute(view, request: "{\"source\":\"loop\"}", tenant: nil, force: false, reassess: false, recordRejected: false)
                report.swaps += count(ran)
                report.steps["execute", default: .zero] += clock.now - started
                metrics.record(step: "execute", clock.now - started)
            }
        }
        if servesHTTP { await runtime.recordTimeline() }

        // Once a day of pool time: drop samples past retention, downsample old ones to hourly means.
        if report.round % max(1, 86_400 / configuration.interval) == 0, report.round > 0 {
            try await store.compactSamples(deleteBefore: time - Int64(configuration.retentionDays) * 86_400,
                                           downsampleBefore: time - Int64(configuration.retentionFullDays) * 86_400, bucket: 3_600)
        }
        let superseded = await runtime.takeSupersededCommits()
        report.committed += superseded
        metrics.committed.increment(by: Int64(superseded))
        await runtime.advanceRound()
        metrics.rounds.increment()
        metrics.swaps.increment(by: Int64(report.swaps))
        metrics.instances.set(Double(await runtime.allInstances().count))
        return report
    }

    /// Trains the networks on the stored samples before `time` and installs them, now rather
    /// than in the background; returns what went wrong. The simulator's predictive policy
    /// trains once before its evaluation window this way.
    public func trainNetworks(until time: Int64) async -> [String] { await training.run(until: time) }

    /// Pulls the slots that ended through `end` into the intake; returns the samples stored. A
    /// failed pull is logged and asked again, with what it missed, next round.
    private func pull(from source: PrometheusSource, through end: Int64) async -> Int {
        do {
            let known = Set(await runtime.allInstances().map(\.id))
            let pulled = try await source.pull(known: known, through: end)
            if let problem = pulled.problem { logger.warning("prometheus: \(problem)") }
            let receipt = try await runtime.accept(pulled.samples) { _ in true }
            await source.commit(pulled)
            metrics.samplesAccepted.increment(by: Int64(receipt.accepted))
            metrics.samplesRejected.increment(by: Int64(receipt.rejected))
            if receipt.rejected > 0 { logger.warning("prometheus: \(receipt.rejected) samples rejected: \(receipt.reasons) \(receipt.examples.prefix(3))") }
            return receipt.accepted
        } catch {
            metrics.sourceFailures.increment()
            logger.warning("prometheus: pull failed, asked again next round: \(error)")
            return 0
        }
    }

    /// Swaps of `plan` that took effect.
    private func count(_ plan: PlanView) -> Int {
        plan.swaps.filter { ["verifying", "committed"].contains($0.state ?? "") }.count
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
                let now = Date().timeIntervalSince1970
                let next = (Int64(now - configuration.roundDelay) / interval + 1) * interval
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(Double(next) + configuration.roundDelay - now)) }
                time = next - interval
            }
            if Task.isShuttingDownGracefully || Task.isCancelled { break }
            do {
                let report = try await loop.runOnce(time: time)
                loop.logger.info("round \(report.round) at \(UTCTimeText.iso(time)): \(report.samples) samples, \(report.swaps) swaps, \(report.committed) committed, \(report.rolledBack) rolled back\(report.objectiveAfter.map { String(format: ", objective %.2f → %.2f", report.objectiveBefore ?? .nan, $0) } ?? "")")
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
