import Drivers
import PoolCore

/// How an action ended, as the executor tells its host.
public enum ActionOutcome: Sendable, Equatable {
    case done
    /// The driver refused or failed; `actual` is the allocation it reads afterwards, if it could.
    case failed(String, actual: ResourceVector?)
    /// The host's ledger refused the action before the driver was asked.
    case refused(String)
}

/// The ledger refused an action: it is not performed, and the run treats it as failed.
public struct ExecutionRefusal: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// What the executor needs around each driver action; the service implements it over its
/// ledger and store.
public protocol ExecutionHost: Sendable {
    /// Before the driver acts: the ledger holds the larger of the old and new allocation (for
    /// a migration, the target's room) and the journal records the intent. Throws
    /// `ExecutionRefusal` when the ledger refuses; any other error stops the run.
    func willPerform(_ action: DriverAction, run: String, step: Int) async throws
    /// After: the ledger takes the state the driver left (`to` when done, `actual` when it
    /// failed) and the journal records the outcome.
    func didPerform(_ action: DriverAction, run: String, step: Int, outcome: ActionOutcome) async throws
    /// What happened to the run's swaps, as it happens.
    func swapsChanged(_ events: [PlanRun.Event], in run: PlanRun) async throws
}

/// Performs runs through a driver, one action at a time, one run at a time: the thin actor
/// around `PlanRun`. An error of the host (a store that cannot write) stops the run where it
/// is; the journal then tells recovery what was in flight.
public actor SwapExecutor {
    public let driver: any InstanceDriver
    let host: any ExecutionHost
    private var tail: Task<Void, Never>?

    public init(driver: any InstanceDriver, host: any ExecutionHost) {
        self.driver = driver
        self.host = host
    }

    /// Performs `run` to its end, after the runs handed in before it.
    public func perform(_ run: PlanRun) async throws -> PlanRun {
        let previous = tail
        let task = Task { () async throws -> PlanRun in
            await previous?.value
            return try await self.execute(run)
        }
        tail = Task { _ = try? await task.value }
        return try await task.value
    }

    private func execute(_ start: PlanRun) async throws -> PlanRun {
        var run = start
        while let step = run.current {
            let position = run.position
            let action = step.action
            do {
                try await host.willPerform(action, run: run.id, step: position)
            } catch let refusal as ExecutionRefusal {
                try await host.didPerform(action, run: run.id, step: position, outcome: .refused(refusal.description))
                let events = run.failed("refused by the ledger: \(refusal.description)", actual: nil)
                try await host.swapsChanged(events, in: run)
                continue
            }
            do {
                switch action {
                case .resize(let id, _, let to): try await driver.apply(to, to: id)
                case .migrate(let id, _, let to): try await driver.migrate(id, to: to)
                }
            } catch {
                let actual: ResourceVector? = if case .resize = action { try? await driver.allocation(of: action.instance) } else { nil }
                try await host.didPerform(action, run: run.id, step: position, outcome: .failed("\(error)", actual: actual))
                let events = run.failed("\(error)", actual: actual)
                try await host.swapsChanged(events, in: run)
                continue
            }
            try await host.didPerform(action, run: run.id, step: position, outcome: .done)
            let events = run.succeeded()
            try await host.swapsChanged(events, in: run)
        }
        return run
    }
}
