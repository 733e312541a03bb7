import Foundation
import GRDB
@testable import Storage
import Testing

/// What every `PoolStore` must do; each implementation's suite runs all of it.
struct StoreConformance {
    let store: any PoolStore

    func nodesAndInstances() async throws {
        try await store.upsert(node: NodeRecord(id: "n1", capacity: [32, 128, 0], reserve: [1, 4, 0]))
        try await store.upsert(node: NodeRecord(id: "n0", capacity: [16, 64, 2], reserve: [0, 0, 0]))
        #expect(try await store.nodes().map(\.id) == ["n0", "n1"])
        let a = InstanceRecord(id: "a", tenant: "acme", node: "n1", allocation: [2, 8, 0], minimum: [1, 4, 0], maximum: [8, 32, 0], weight: 3)
        var b = InstanceRecord(id: "b", tenant: "globex", node: "n0", allocation: [1, 2, 1], minimum: [0, 0, 0], maximum: [4, 16, 2], weight: 1)
        try await store.upsert(instance: a)
        try await store.upsert(instance: b)
        b.allocation = [2, 4, 1]
        try await store.upsert(instance: b)
        #expect(try await store.instance(id: "b") == b, "an upsert replaces")
        #expect(try await store.instances(tenant: "acme") == [a])
        #expect(try await store.instances(tenant: nil).count == 2)
        #expect(try await store.instance(id: "nobody") == nil)
        await #expect(throws: StoreError.self) {
            try await store.upsert(instance: InstanceRecord(id: "c", tenant: "t", node: "n1", allocation: [1], minimum: [0, 0, 0], maximum: [1, 1, 1], weight: 1))
        }
        #expect(try await store.instance(id: "c") == nil, "a refused write stores nothing")
    }

    func samples() async throws {
        #expect(try await store.sampleTimes() == nil)
        let batch = (0..<10).map { UsageSample(instance: "a", time: 1_000 + Int64($0) * 300, used: [Double($0), 2, 0]) }
        #expect(try await store.append(samples: batch) == 10)
        #expect(try await store.append(samples: Array(batch[8...]) + [UsageSample(instance: "a", time: 4_000, used: [1, 1, 0])]) == 1,
                "samples already stored are skipped")
        let window = try await store.samples(instance: "a", from: 1_300, to: 2_200)
        #expect(window.map(\.time) == [1_300, 1_600, 1_900])
        #expect(window.first?.used == [1, 2, 0])
        #expect(try await store.sampleTimes() == 1_000...4_000)
        let before = try await store.sampleCount()
        await #expect(throws: StoreError.self) {
            _ = try await store.append(samples: [UsageSample(instance: "a", time: 9_000, used: [1, 1, 0]),
                                                 UsageSample(instance: "a", time: 9_300, used: [1])])
        }
        #expect(try await store.sampleCount() == before, "a batch with a bad sample stores none of it")
    }

    func compaction() async throws {
        let batch = (0..<12).map { UsageSample(instance: "z", time: Int64($0) * 300, used: [Double($0), 1, 0]) }
        _ = try await store.append(samples: batch)
        // Delete the first hour's first two samples, downsample the rest of the first 3,000 s to 1,800 s buckets.
        try await store.compactSamples(deleteBefore: 600, downsampleBefore: 3_000, bucket: 1_800)
        let left = try await store.samples(instance: "z", from: 0, to: 10_000)
        #expect(left.map(\.time) == [0, 1_800, 3_000, 3_300])
        #expect(left[0].used[0] == 3.5, "mean of 2, 3, 4, 5")
        #expect(left[1].used[0] == 7.5, "mean of 6, 7, 8, 9")
        #expect(left[2].used[0] == 10)
    }

    func plansSwapsAndJournal() async throws {
        var plan = PlanRecord(id: "p1", created: 100, status: .queued, tenant: nil, request: "{}", answer: "{\"swaps\":[]}")
        try await store.save(plan: plan)
        #expect(try await store.plans(status: .queued).map(\.id) == ["p1"])
        plan.status = .executed
        try await store.save(plan: plan)
        #expect(try await store.plan(id: "p1") == plan)
        #expect(try await store.plans(status: .queued).isEmpty)

        var swaps: [SwapRecord] = []
        for k in 0..<5 {
            swaps.append(SwapRecord(plan: "p1", instance: k % 2 == 0 ? "a" : "b", tenant: k % 2 == 0 ? "acme" : "globex",
                                    time: 1_000 + Int64(k), fromNode: "n1", toNode: k == 4 ? "n0" : "n1",
                                    before: [2, 8, 0], after: [1.5, 8, 0], predictedBenefit: 0.5, utilisationBefore: 0.4,
                                    durationMilliseconds: 1.5, outcome: k == 3 ? .rolledBack : .verifying,
                                    risk: k == 0 ? "{\"decision\":\"approve\"}" : nil))
        }
        let stored = try await store.record(swaps: swaps)
        let ids = stored.compactMap(\.id)
        #expect(ids.count == 5 && ids == ids.sorted())
        let newest = try await store.swapHistory(SwapHistoryQuery(limit: 2))
        #expect(newest.map(\.id) == [ids[4], ids[3]])
        let next = try await store.swapHistory(SwapHistoryQuery(before: newest.last?.id, limit: 2))
        #expect(next.map(\.id) == [ids[2], ids[1]], "the cursor continues where the page ended")
        #expect(try await store.swapHistory(SwapHistoryQuery(tenant: "acme")).count == 3)
        #expect(try await store.swapHistory(SwapHistoryQuery(instance: "b", outcome: .rolledBack)).map(\.id) == [ids[3]])
        #expect(try await store.swapHistory(SwapHistoryQuery(from: 1_001, to: 1_003)).count == 2)
        #expect(stored[0].after == [1.5, 8, 0])
        var settled = stored[0]
        settled.outcome = .committed
        settled.realisedBenefit = 0.25
        settled.utilisationAfter = 0.6
        settled.reason = nil
        settled.verification = "{\"rounds\":[]}"
        settled.endedAt = 1_900
        var rolled = stored[2]
        rolled.outcome = .failedSafe
        rolled.reason = "rollback failed: memory refused"
        rolled.restored = [2, 8, 0]
        try await store.update(swaps: [settled, rolled])
        let read = try await store.swapHistory(SwapHistoryQuery(instance: "a", limit: 10))
        #expect(read.first { $0.id == ids[0] } == settled, "every field of the lifecycle is kept")
        #expect(read.first { $0.id == ids[2] } == rolled)
        #expect(try await store.swapHistory(SwapHistoryQuery(outcome: .committed)).map(\.id) == [ids[0]])
        #expect(try await store.swapHistory(SwapHistoryQuery(plan: "p1")).count == 5)
        #expect(try await store.swapHistory(SwapHistoryQuery(plan: "other")).isEmpty)
        var missing = stored[1]
        missing.id = 999_999
        missing.outcome = .committed
        await #expect(throws: StoreError.self) { try await store.update(swaps: [rolled, missing]) }
        #expect(try await store.swapHistory(SwapHistoryQuery(instance: "a", limit: 10)).first { $0.id == ids[2] } == rolled,
                "an update that names an unknown swap changes none")

        try await store.append(journal: JournalEntry(plan: "p1", step: 0, phase: "intent", detail: "resize a", time: 5, action: "{\"resize\":{}}"))
        try await store.append(journal: JournalEntry(plan: "p1", step: 0, phase: "done", detail: "resize a", time: 6))
        let journal = try await store.journal(plan: "p1")
        #expect(journal.map(\.phase) == ["intent", "done"])
        #expect(journal.first?.action == "{\"resize\":{}}" && journal.last?.action == nil)
    }

    /// A measurement that came out as NaN (a utilisation over an empty window, say) is kept and
    /// read back as NaN: SQLite stores it as NULL, which must not stop a read.
    func notANumberIsKept() async throws {
        let sample = UsageSample(instance: "q", time: 600, used: [.nan, 2, .nan])
        #expect(try await store.append(samples: [sample]) == 1)
        let read = try #require(try await store.samples(instance: "q", from: 0, to: 1_000).first)
        #expect(read.used[0].isNaN && read.used[1] == 2 && read.used[2].isNaN)
        let swap = SwapRecord(plan: "pn", instance: "q", tenant: "acme", time: 700, fromNode: "n1", toNode: "n1",
                              before: [2, 8, 0], after: [1, 8, 0], predictedBenefit: .nan, utilisationBefore: .nan,
                              durationMilliseconds: .nan, outcome: .verifying)
        let id = try #require(try await store.record(swaps: [swap]).first?.id)
        var settled = try #require(try await store.swapHistory(SwapHistoryQuery(instance: "q")).first)
        #expect(settled.id == id)
        #expect(settled.predictedBenefit.isNaN && settled.utilisationBefore.isNaN && settled.durationMilliseconds.isNaN)
        settled.outcome = .committed
        settled.utilisationAfter = .nan
        try await store.update(swaps: [settled])
        let again = try #require(try await store.swapHistory(SwapHistoryQuery(instance: "q")).first)
        #expect(again.outcome == .committed && again.utilisationBefore.isNaN)
        #expect(again.utilisationAfter.map { $0.isNaN } ?? true, "NaN, or no measurement where NaN is stored as NULL")
    }

    func tokensAndCheckpoints() async throws {
        let token = TokenRecord(hash: "abc", name: "ops", role: .operator, tenant: nil, created: 1)
        try await store.insert(token: token)
        #expect(try await store.token(hash: "abc") == token)
        #expect(try await store.token(hash: "nope") == nil)
        await #expect(throws: (any Error).self) { try await store.insert(token: token) }
        try await store.saveCheckpoint(name: "gru-cpu", data: [1, 2, 3], time: 9)
        try await store.saveCheckpoint(name: "gru-cpu", data: [4, 5], time: 10)
        #expect(try await store.checkpoint(name: "gru-cpu") == CheckpointRecord(data: [4, 5], time: 10))
        #expect(try await store.checkpoint(name: "none") == nil)
    }
}

@Suite("SQLite store conformance")
struct SQLiteStoreTests {
    func fresh() throws -> (SQLiteStore, String) {
        let path = NSTemporaryDirectory() + "poolswap-store-\(UUID().uuidString).sqlite"
        return (try SQLiteStore(path: path), path)
    }

    @Test func nodesAndInstances() async throws { try await StoreConformance(store: try fresh().0).nodesAndInstances() }
    @Test func samples() async throws { try await StoreConformance(store: try fresh().0).samples() }
    @Test func compaction() async throws { try await StoreConformance(store: try fresh().0).compaction() }
    @Test func plansSwapsAndJournal() async throws { try await StoreConformance(store: try fresh().0).plansSwapsAndJournal() }
    @Test func tokensAndCheckpoints() async throws { try await StoreConformance(store: try fresh().0).tokensAndCheckpoints() }
    @Test func notANumberIsKept() async throws { try await StoreConformance(store: try fresh().0).notANumberIsKept() }

    @Test func survivesReopening() async throws {
        let (store, path) = try fresh()
        _ = try await store.append(samples: [UsageSample(instance: "a", time: 1, used: [1, 2, 3])])
        let reopened = try SQLiteStore(path: path)
        #expect(try await reopened.sampleCount() == 1)
    }

    @Test func aDatabaseOfTheFirstVersionKeepsItsSwapsUnderTheNewOutcomes() async throws {
        let path = NSTemporaryDirectory() + "poolswap-store-v1-\(UUID().uuidString).sqlite"
        let queue = try DatabaseQueue(path: path)
        try SQLiteStore.migrator.migrate(queue, upTo: "v1")
        try await queue.write { db in
            for (k, outcome) in ["executed", "rolledBack", "failed"].enumerated() {
                try db.execute(sql: """
                    INSERT INTO swap (plan, instance, tenant, time, from_node, to_node, before, after, predicted, utilisation_before, duration_ms, outcome)
                    VALUES ('p', 'a', 't', ?, 'n', 'n', '1,2,0', '2,2,0', 0.5, 0.3, 1, ?)
                    """, arguments: [k, outcome])
            }
            try db.execute(sql: "INSERT INTO journal (plan, step, phase, detail, time) VALUES ('p', 0, 'intent', 'resize a', 1)")
        }
        try queue.close()
        let store = try SQLiteStore(path: path)
        #expect(try await store.swapHistory(SwapHistoryQuery()).map(\.outcome) == [.failedSafe, .rolledBack, .committed])
        #expect(try await store.journal(plan: "p").map(\.action) == [nil], "the journal's rows stay, without an action")
    }

    @Test func aPathThatCannotBeOpenedIsNamed() {
        #expect(throws: StoreError.self) { try SQLiteStore(path: "/nonexistent-dir/x/poolswap.sqlite") }
    }
}
