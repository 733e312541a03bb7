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
/// `rollback` (any write of a rollback run) or `any`. With `KIND:N:fail` the n-th write is not
/// made and answers an error instead, as a store that went away would.
final class CrashPointStore: PoolStore {
    let base: any PoolStore
    let kind: String
    let after: Int
    let fails: Bool
    private let count = Mutex(0)

    static let variable = "POOLSWAP_CRASH_AFTER"

    /// The store to use: `base`, wrapped when `setting` (the variable's value) asks for a crash point.
    static func wrapping(_ base: any PoolStore, setting: String?) throws -> any PoolStore {
        guard let setting else { return base }
        let parts = setting.split(separator: ":")
        guard (2...3).contains(parts.count), let n = Int(parts[1]), n >= 1, parts.count == 2 || parts[2] == "fail" else {
            throw ConfigurationError("\(variable)=\(setting): expected KIND:N or KIND:N:fail, for example intent:3")
        }
        return CrashPointStore(base: base, kind: String(parts[0]), after: n, fails: parts.count == 3)
    }

    init(base: any PoolStore, kind: String, after: Int, fails: Bool = false) {
        self.base = base
        self.kind = kind
        self.after = after
        self.fails = fails
    }

    /// Makes `write`, one of `kinds`: at the chosen one, dies right after it or fails instead of it.
    private func write<T>(_ kinds: [String], _ what: @autoclosure () -> String, _ write: () async throws -> T) async throws -> T {
        guard kinds.contains(kind) || kind == "any" else { return try await write() }
        let n = count.withLock { value -> Int in
            value += 1
            return value
        }
        guard n == after else { return try await write() }
        if fails { throw StoreError("injected failure of \(kind) write \(n): \(what())") }
        let done = try await write()
        let line = Array("poolswap crash point: killed after \(kind) write \(n): \(what())\n".utf8)
        _ = line.withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) }
        kill(getpid(), SIGKILL)
        return done
    }

    private static func isRollback(_ id: String) -> Bool { id.hasPrefix("rollback-") }

    func save(plan: PlanRecord) async throws {
        try await write(["plan"] + (Self.isRollback(plan.id) ? ["rollback"] : []), "plan \(plan.id) \(plan.status.rawValue)") {
            try await base.save(plan: plan)
        }
    }

    func append(journal: JournalEntry) async throws {
        try await write([journal.phase] + (Self.isRollback(journal.plan) ? ["rollback"] : []), "journal \(journal.phase) of \(journal.plan) step \(journal.step)") {
            try await base.append(journal: journal)
        }
    }

    func record(swaps: [SwapRecord]) async throws -> [SwapRecord] {
        try await write(["record"], "swap records \(swaps.map { "\($0.instance) \($0.outcome.rawValue)" })") { try await base.record(swaps: swaps) }
    }

    func update(swaps: [SwapRecord]) async throws {
        guard !swaps.isEmpty else { return try await base.update(swaps: swaps) }
        try await write(["update"] + (swaps.contains { $0.outcome == .rolledBack } ? ["rollback"] : []), "swap updates \(swaps.map { "\($0.instance) \($0.outcome.rawValue)" })") {
            try await base.update(swaps: swaps)
        }
    }

    func upsert(instance: InstanceRecord) async throws {
        try await write(["instance"], "instance \(instance.id) at \(instance.allocation)") { try await base.upsert(instance: instance) }
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
