import PoolCore

/// The driver actions of one execution as a state machine value, performed one at a time.
///
/// A plan (`.reverseOnFailure`) runs its steps in order; when one fails, the steps done so
/// far are undone in reverse order, which walks back through the same valid states of the
/// ledger. A rollback or a recovery (`.continueOnFailure`) carries on past a failed step: its
/// swap gets one more step towards its safe allocation (the larger of old and new), and is
/// failed-safe whatever that step does.
///
/// `current` is the step to perform; the executor reports it with `succeeded()` or
/// `failed(_:actual:)`, which return what happened to the swaps.
public struct PlanRun: Sendable, Equatable, Codable {
    public enum Mode: String, Sendable, Codable { case reverseOnFailure, continueOnFailure }
    public enum State: String, Sendable, Codable { case running, reversing, finished, reversed }

    public struct Step: Sendable, Equatable, Codable {
        public var action: DriverAction
        /// Index of the swap the step belongs to, nil for a step of no swap.
        public var swap: Int?
        /// Continue mode: where the instance goes if this step fails.
        public var safe: ResourceVector?
        /// The step towards `safe` after a failure: its own failure ends the attempt.
        public var isFailsafe = false

        public init(action: DriverAction, swap: Int?, safe: ResourceVector? = nil, isFailsafe: Bool = false) {
            self.action = action
            self.swap = swap
            self.safe = safe
            self.isFailsafe = isFailsafe
        }
    }

    public enum Event: Sendable, Equatable {
        /// Every step of the swap took effect (a plan), or the swap's rollback did (continue mode).
        case applied(Int)
        /// The swap's steps were undone, or never ran, after a failure of the plan.
        case reversed(Int, reason: String)
        /// A step of the swap failed and could not be undone or completed: an operator looks.
        case failedSafe(Int, reason: String)
    }

    public let id: String
    public let mode: Mode
    public private(set) var steps: [Step]
    public private(set) var state: State = .running
    /// Forward steps done (running), and undo steps and their progress (reversing).
    public private(set) var done = 0
    public private(set) var undo: [Step] = []
    public private(set) var undone = 0
    /// What made a plan reverse.
    public private(set) var failure: String?
    /// Swaps that failed safe, with why.
    public private(set) var unsafe: [Int: String] = [:]

    public init(id: String, mode: Mode, steps: [Step]) {
        self.id = id
        self.mode = mode
        self.steps = steps
        if steps.isEmpty { state = .finished }
    }

    /// The step to perform now; nil once finished or reversed.
    public var current: Step? {
        switch state {
        case .running: steps[done]
        case .reversing: undo[undone]
        case .finished, .reversed: nil
        }
    }

    /// Number of the current step in the journal: forward steps count from 0, undo steps follow.
    public var position: Int { state == .reversing ? steps.count + undone : done }

    /// Swaps that have steps in this run.
    public var swaps: [Int] { Array(Set(steps.compactMap(\.swap))).sorted() }

    public mutating func succeeded() -> [Event] {
        switch state {
        case .running:
            let step = steps[done]
            done += 1
            var events: [Event] = []
            if let swap = step.swap, !steps[done...].contains(where: { $0.swap == swap }) {
                if step.isFailsafe {
                    events.append(.failedSafe(swap, reason: unsafe[swap] ?? ""))
                } else if unsafe[swap] == nil {
                    events.append(.applied(swap))
                }
            }
            if done == steps.count { state = .finished }
            return events
        case .reversing:
            let step = undo[undone]
            undone += 1
            var events: [Event] = []
            if let swap = step.swap, unsafe[swap] == nil, !undo[undone...].contains(where: { $0.swap == swap }) {
                events.append(.reversed(swap, reason: failure ?? ""))
            }
            if undone == undo.count { state = .reversed }
            return events
        case .finished, .reversed:
            return []
        }
    }

    /// The current step failed with `reason`; `actual` is the instance's allocation as the
    /// driver reads it afterwards, when it could be read.
    public mutating func failed(_ reason: String, actual: ResourceVector?) -> [Event] {
        switch state {
        case .running:
            let step = steps[done]
            let text = "step \(done + 1) (\(step.action)) failed: \(reason)"
            switch mode {
            case .reverseOnFailure:
                failure = text
                // Undo what was done, newest first, after putting back a step the driver left half done.
                var undo: [Step] = []
                if case .resize(let id, let from, _) = step.action, let actual, actual != from {
                    undo.append(Step(action: .resize(id, from: actual, to: from), swap: step.swap))
                }
                undo += steps[..<done].reversed().map { Step(action: $0.action.inverse, swap: $0.swap) }
                self.undo = undo
                state = .reversing
                var events: [Event] = []
                // Swaps with nothing to undo are reversed now.
                for swap in swaps where !undo.contains(where: { $0.swap == swap }) { events.append(.reversed(swap, reason: text)) }
                if undo.isEmpty { state = .reversed }
                return events
            case .continueOnFailure:
                done += 1
                var events: [Event] = []
                if let swap = step.swap {
                    let why = (unsafe[swap].map { $0 + "; " } ?? "") + text
                    unsafe[swap] = why
                    // Skip the swap's other steps; try once for its safe allocation.
                    steps = Array(steps[..<done]) + steps[done...].filter { $0.swap != swap }
                    if !step.isFailsafe, let safe = step.safe, let actual, actual != safe {
                        steps.insert(Step(action: .resize(step.action.instance, from: actual, to: safe), swap: swap, isFailsafe: true), at: done)
                    } else {
                        events.append(.failedSafe(swap, reason: why))
                    }
                }
                if done == steps.count { state = .finished }
                return events
            }
        case .reversing:
            let step = undo[undone]
            undone += 1
            var events: [Event] = []
            if let swap = step.swap, unsafe[swap] == nil {
                let why = "undoing step (\(step.action)) failed: \(reason)"
                unsafe[swap] = why
                undo = Array(undo[..<undone]) + undo[undone...].filter { $0.swap != swap }
                events.append(.failedSafe(swap, reason: (failure.map { $0 + "; " } ?? "") + why))
            }
            if undone == undo.count { state = .reversed }
            return events
        case .finished, .reversed:
            return []
        }
    }
}
