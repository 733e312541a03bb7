/// Everything the service keeps. Implementations: `SQLiteStore` (embedded,
/// the default); each passes the same conformance suite.
public protocol PoolStore: Sendable {
    func upsert(node: NodeRecord) async throws
    func nodes() async throws -> [NodeRecord]
    func upsert(instance: InstanceRecord) async throws
    func instances(tenant: String?) async throws -> [InstanceRecord]
    func instance(id: String) async throws -> InstanceRecord?

    /// Stores samples; a sample whose instance and time are already stored is
    /// skipped. Returns how many were new. All or nothing.
    func append(samples: [UsageSample]) async throws -> Int
    func samples(instance: String, from: Int64, to: Int64) async throws -> [UsageSample]
    func sampleCount() async throws -> Int
    /// Times of the oldest and the newest sample stored, nil when there is none.
    func sampleTimes() async throws -> ClosedRange<Int64>?
    /// Deletes samples older than `deleteBefore`, then replaces samples older
    /// than `downsampleBefore` by their means over `bucket`-second buckets.
    func compactSamples(deleteBefore: Int64, downsampleBefore: Int64, bucket: Int64) async throws

    func save(plan: PlanRecord) async throws
    func plan(id: String) async throws -> PlanRecord?
    func plans(status: PlanRecord.Status) async throws -> [PlanRecord]

    /// Stores swaps and returns them with their ids.
    func record(swaps: [SwapRecord]) async throws -> [SwapRecord]
    func swapHistory(_ query: SwapHistoryQuery) async throws -> [SwapRecord]
    /// Replaces what changes over a swap's life (outcome, realised benefit, utilisation after,
    /// reason, risk, verification, end, restored, duration) of the stored swaps with these ids,
    /// all or nothing.
    func update(swaps: [SwapRecord]) async throws

    func append(journal: JournalEntry) async throws
    func journal(plan: String) async throws -> [JournalEntry]

    func insert(token: TokenRecord) async throws
    func token(hash: String) async throws -> TokenRecord?

    func saveCheckpoint(name: String, data: [UInt8], time: Int64) async throws
    func checkpoint(name: String) async throws -> CheckpointRecord?
}

/// A store call that cannot be done, naming what is wrong.
public struct StoreError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
