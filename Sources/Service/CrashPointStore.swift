#if canImport(Glibc)
import Glibc
#endif
import Storage
import Synchronization

/// Fault injection for the crash test (`Tests/scripts/crash_test.py`): a store that kills the
/// process with SIGKILL right after the n-th durable write of one kind, as a power cut or an
/// OOM kill would, so that every step of a swap can be interrupted at will. Installed only when
/// `POOLSWAP_CRASH_AFTER=KIND:N` is set; KIND is `plan` (a plan's record saved), a journal
/// phase (`intent`, `done`, `failed`, `refused`, `recovered`, `approved`), `record` (swap
/// records written), `update` (swap records updated), `instance` (an allocation stored),
/// `rollback` (any write of a rollback run) or `any`.
final class CrashPointStore: PoolStore {
    let base: any PoolStore
    let kind: String
    let after: Int
    private let count = Mutex(0)

    static let variable = "POOLSWAP_CRASH_AFTER"

    /// The store to use: `base`, wrapped when `setting` (the variable's value) asks for a crash point.
    static func wrapping(_ base: any PoolStore, setting: String?) throws -> any PoolStore {
        guard let setting else { return base }
        let parts = setting.split(separator: ":")
        guard parts.count == 2, let n = Int(parts[1]), n >= 1 else {
            throw ConfigurationError("\(variable)=\(setting): expected KIND:N, for example intent:3")
        }
        return CrashPointStore(base: base, kind: String(parts[0]), after: n)
    }

    init(base: any PoolStore, kind: String, after: Int) {
        self.base = base
        self.kind = kind
        self.after = after
    }

    /// Counts a write of `kinds` that has just been made, and dies at the chosen one.
    private func wrote(_ kinds: [String], _ what: @autoclosure () -> String) {
        guard kinds.contains(kind) || kind == "any" else { return }
        let n = count.withLock { value -> Int in
            value += 1
            return value
        }
        guard n == after else { return }
        let line = Array("poolswap crash point: killed after \(kind) write \(n): \(what())\n".utf8)
        _ = line.withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) }
        kill(getpid(), SIGKILL)
    }

    private static func isRollback(_ id: String) -> Bool { id.hasPrefix("rollback-") }

    func save(plan: PlanRecord) async throws {
        try await base.save(plan: plan)
        wrote(["plan"] + (Self.isRollback(plan.id) ? ["rollback"] : []), "plan \(plan.id) \(plan.status.rawValue)")
    }

    func append(journal: JournalEntry) async throws {
        try await base.append(journal: journal)
        wrote([journal.phase] + (Self.isRollback(journal.plan) ? ["rollback"] : []), "journal \(journal.phase) of \(journal.plan) step \(journal.step)")
    }

    func record(swaps: [SwapRecord]) async throws -> [SwapRecord] {
        let stored = try await base.record(swaps: swaps)
        wrote(["record"], "swap records \(swaps.map { "\($0.instance) \($0.outcome.rawValue)" })")
        return stored
    }

    func update(swaps: [SwapRecord]) async throws {
        try await base.update(swaps: swaps)
        if !swaps.isEmpty { wrote(["update"] + (swaps.contains { $0.outcome == .rolledBack } ? ["rollback"] : []), "swap updates \(swaps.map { "\($0.instance) \($0.outcome.rawValue)" })") }
    }

    func upsert(instance: InstanceRecord) async throws {
        try await base.upsert(instance: instance)
        wrote(["instance"], "instance \(instance.id) at \(instance.allocation)")
    }

    func upsert(node: NodeRecord) async throws { try await base.upsert(node: node) }
    func nodes() async throws -> [NodeRecord] { try await base.nodes() }
    func instances(tenant: String?) async throws -> [InstanceRecord] { try await base.instances(tenant: tenant) }
    func instance(id: String) async throws -> InstanceRecord? { try await base.instance(id: id) }
    func append(samples: [UsageSample]) async throws -> Int { try await base.append(samples: samples) }
    func samples(instance: String, from: Int64, to: Int64) async throws -> [UsageSample] { try await base.samples(instance: instance, from: from, to: to) }
    func sampleCount() async throws -> Int { try await base.sampleCount() }
    func sampleTimes() async throws -> ClosedRange<Int64>? { try await base.sampleTimes() }
    func compactSamples(deleteBefore: Int64, downsampleBefore: Int64, bucket: Int64) async throws {
        try await base.compactSamples(deleteBefore: deleteBefore, downsampleBefore: downsampleBefore, bucket: bucket)
    }
    func plan(id: String) async throws -> PlanRecord? { try await base.plan(id: id) }
    func plans(status: PlanRecord.Status) async throws -> [PlanRecord] { try await base.plans(status: status) }
    func swapHistory(_ query: SwapHistoryQuery) async throws -> [SwapRecord] { try await base.swapHistory(query) }
    func journal(plan: String) async throws -> [JournalEntry] { try await base.journal(plan: plan) }
    func insert(token: TokenRecord) async throws { try await base.insert(token: token) }
    func token(hash: String) async throws -> TokenRecord? { try await base.token(hash: hash) }
    func saveCheckpoint(name: String, data: [UInt8], time: Int64) async throws { try await base.saveCheckpoint(name: name, data: data, time: time) }
    func checkpoint(name: String) async throws -> CheckpointRecord? { try await base.checkpoint(name: name) }
}
