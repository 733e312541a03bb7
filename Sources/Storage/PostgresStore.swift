#if Postgres
import Foundation
import Logging
import NIOCore
import PostgresNIO

/// The store for larger deployments: PostgreSQL through PostgresNIO (package
/// trait `Postgres`). Same tables and semantics as `SQLiteStore`; it passes
/// the same conformance suite.
public final class PostgresStore: PoolStore {
    private let client: PostgresClient
    private let runner: Task<Void, Never>

    /// `url`: `postgres://USER[:PASSWORD]@HOST:PORT/DATABASE`.
    public init(url: String) async throws {
        guard let parts = URLComponents(string: url), parts.scheme == "postgres" || parts.scheme == "postgresql",
              let host = parts.host, let user = parts.user else {
            throw StoreError("expected postgres://USER[:PASSWORD]@HOST:PORT/DATABASE, not \(url)")
        }
        let database = String(parts.path.drop { $0 == "/" })
        var configuration = PostgresClient.Configuration(
            host: host, port: parts.port ?? 5432, username: user, password: parts.password,
            database: database.isEmpty ? nil : database, tls: .disable)
        configuration.options.connectTimeout = .seconds(5)
        client = PostgresClient(configuration: configuration)
        let client = client
        runner = Task { await client.run() }
        do {
            // PostgresClient keeps retrying an unreachable server; give up after 10 s.
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await self.migrate() }
                group.addTask {
                    try await Task.sleep(for: .seconds(10))
                    throw StoreError("no answer in 10 s")
                }
                try await group.next()
                group.cancelAll()
            }
        } catch {
            runner.cancel()
            throw StoreError("cannot prepare the PostgreSQL database at \(host): \(String(reflecting: error))")
        }
    }

    deinit { runner.cancel() }

    /// Runs one statement as written (administration, e.g. CREATE DATABASE); never with user input.
    public func execute(unsafeSQL statement: String) async throws {
        try await client.query(PostgresQuery(unsafeSQL: statement))
    }

    private func migrate() async throws {
        // One migration at a time, however many services start together.
        try await client.withConnection { connection in
            _ = try await connection.query("SELECT pg_advisory_lock(735001)", logger: Self.logger)
            do {
            for statement in [
            "CREATE TABLE IF NOT EXISTS node (id TEXT PRIMARY KEY, cpu FLOAT8, memory FLOAT8, gpu FLOAT8, reserve_cpu FLOAT8, reserve_memory FLOAT8, reserve_gpu FLOAT8)",
            "CREATE TABLE IF NOT EXISTS instance (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, node TEXT NOT NULL, cpu FLOAT8, memory FLOAT8, gpu FLOAT8, min_cpu FLOAT8, min_memory FLOAT8, min_gpu FLOAT8, max_cpu FLOAT8, max_memory FLOAT8, max_gpu FLOAT8, weight FLOAT8)",
            "CREATE INDEX IF NOT EXISTS instance_tenant ON instance(tenant)",
            "CREATE TABLE IF NOT EXISTS usage (instance TEXT NOT NULL, time BIGINT NOT NULL, cpu FLOAT8, memory FLOAT8, gpu FLOAT8, PRIMARY KEY (instance, time))",
            "CREATE TABLE IF NOT EXISTS plan (id TEXT PRIMARY KEY, created BIGINT NOT NULL, status TEXT NOT NULL, tenant TEXT, request TEXT NOT NULL, answer TEXT NOT NULL)",
            "CREATE INDEX IF NOT EXISTS plan_status ON plan(status)",
            "CREATE TABLE IF NOT EXISTS swap (id BIGSERIAL PRIMARY KEY, plan TEXT NOT NULL, instance TEXT NOT NULL, tenant TEXT NOT NULL, time BIGINT NOT NULL, from_node TEXT, to_node TEXT, before TEXT, after TEXT, predicted FLOAT8, realised FLOAT8, utilisation_before FLOAT8, utilisation_after FLOAT8, duration_ms FLOAT8, outcome TEXT NOT NULL)",
            "CREATE INDEX IF NOT EXISTS swap_instance ON swap(instance, id)",
            "CREATE INDEX IF NOT EXISTS swap_tenant ON swap(tenant, id)",
            "CREATE TABLE IF NOT EXISTS journal (id BIGSERIAL PRIMARY KEY, plan TEXT NOT NULL, step BIGINT NOT NULL, phase TEXT NOT NULL, detail TEXT NOT NULL, time BIGINT NOT NULL)",
            "CREATE INDEX IF NOT EXISTS journal_plan ON journal(plan, id)",
            "CREATE TABLE IF NOT EXISTS token (hash TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, tenant TEXT, created BIGINT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS checkpoint (name TEXT PRIMARY KEY, time BIGINT NOT NULL, data BYTEA NOT NULL)",
            // v2: the swap's lifecycle, the journal's actions.
            "ALTER TABLE swap ADD COLUMN IF NOT EXISTS reason TEXT",
            "ALTER TABLE swap ADD COLUMN IF NOT EXISTS risk TEXT",
            "ALTER TABLE swap ADD COLUMN IF NOT EXISTS verification TEXT",
            "ALTER TABLE swap ADD COLUMN IF NOT EXISTS ended_at BIGINT",
            "ALTER TABLE swap ADD COLUMN IF NOT EXISTS restored TEXT",
            "CREATE INDEX IF NOT EXISTS swap_outcome ON swap(outcome, id)",
            "CREATE INDEX IF NOT EXISTS swap_plan ON swap(plan, id)",
            "ALTER TABLE journal ADD COLUMN IF NOT EXISTS action TEXT",
            "UPDATE swap SET outcome = 'committed' WHERE outcome = 'executed'",
            "UPDATE swap SET outcome = 'failedSafe' WHERE outcome = 'failed'",
        ] {
                try await connection.query(PostgresQuery(unsafeSQL: statement), logger: Self.logger)
            }
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(735001)", logger: Self.logger)
                throw error
            }
            _ = try await connection.query("SELECT pg_advisory_unlock(735001)", logger: Self.logger)
        }
    }


    // MARK: Nodes and instances

    public func upsert(node: NodeRecord) async throws {
        let c = try StoredAmounts.checked(node.capacity, "node \(node.id) capacity"), r = try StoredAmounts.checked(node.reserve, "node \(node.id) reserve")
        try await client.query("""
            INSERT INTO node VALUES (\(node.id), \(c[0]), \(c[1]), \(c[2]), \(r[0]), \(r[1]), \(r[2]))
            ON CONFLICT (id) DO UPDATE SET cpu = EXCLUDED.cpu, memory = EXCLUDED.memory, gpu = EXCLUDED.gpu,
              reserve_cpu = EXCLUDED.reserve_cpu, reserve_memory = EXCLUDED.reserve_memory, reserve_gpu = EXCLUDED.reserve_gpu
            """)
    }

    public func nodes() async throws -> [NodeRecord] {
        var out: [NodeRecord] = []
        let rows = try await client.query("SELECT id, cpu, memory, gpu, reserve_cpu, reserve_memory, reserve_gpu FROM node ORDER BY id")
        for try await (id, c0, c1, c2, r0, r1, r2) in rows.decode((String, Double, Double, Double, Double, Double, Double).self) {
            out.append(NodeRecord(id: id, capacity: [c0, c1, c2], reserve: [r0, r1, r2]))
        }
        return out
    }

    public func upsert(instance: InstanceRecord) async throws {
        let a = try StoredAmounts.checked(instance.allocation, "instance \(instance.id) allocation")
        let lo = try StoredAmounts.checked(instance.minimum, "instance \(instance.id) minimum")
        let hi = try StoredAmounts.checked(instance.maximum, "instance \(instance.id) maximum")
        try await client.query("""
            INSERT INTO instance VALUES (\(instance.id), \(instance.tenant), \(instance.node), \(a[0]), \(a[1]), \(a[2]),
              \(lo[0]), \(lo[1]), \(lo[2]), \(hi[0]), \(hi[1]), \(hi[2]), \(instance.weight))
            ON CONFLICT (id) DO UPDATE SET tenant = EXCLUDED.tenant, node = EXCLUDED.node, cpu = EXCLUDED.cpu,
              memory = EXCLUDED.memory, gpu = EXCLUDED.gpu, min_cpu = EXCLUDED.min_cpu, min_memory = EXCLUDED.min_memory,
              min_gpu = EXCLUDED.min_gpu, max_cpu = EXCLUDED.max_cpu, max_memory = EXCLUDED.max_memory,
              max_gpu = EXCLUDED.max_gpu, weight = EXCLUDED.weight
            """)
    }

    private func instances(_ query: PostgresQuery) async throws -> [InstanceRecord] {
        var out: [InstanceRecord] = []
        let rows = try await client.query(query)
        for try await row in rows {
            let r = try row.decode((String, String, String, Double, Double, Double, Double, Double, Double, Double, Double, Double, Double).self)
            out.append(InstanceRecord(id: r.0, tenant: r.1, node: r.2, allocation: [r.3, r.4, r.5],
                                      minimum: [r.6, r.7, r.8], maximum: [r.9, r.10, r.11], weight: r.12))
        }
        return out
    }

    public func instances(tenant: String?) async throws -> [InstanceRecord] {
        if let tenant { return try await instances("SELECT * FROM instance WHERE tenant = \(tenant) ORDER BY id") }
        return try await instances("SELECT * FROM instance ORDER BY id")
    }

    public func instance(id: String) async throws -> InstanceRecord? {
        try await instances("SELECT * FROM instance WHERE id = \(id)").first
    }

    // MARK: Usage

    public func append(samples: [UsageSample]) async throws -> Int {
        for sample in samples { _ = try StoredAmounts.checked(sample.used, "sample of \(sample.instance)") }
        guard !samples.isEmpty else { return 0 }
        let ids = samples.map(\.instance), times = samples.map(\.time)
        let cpu = samples.map { $0.used[0] }, memory = samples.map { $0.used[1] }, gpu = samples.map { $0.used[2] }
        let rows = try await client.query("""
            WITH added AS (
              INSERT INTO usage SELECT * FROM UNNEST(\(ids)::text[], \(times)::bigint[], \(cpu)::float8[], \(memory)::float8[], \(gpu)::float8[])
              ON CONFLICT DO NOTHING RETURNING 1)
            SELECT count(*) FROM added
            """)
        for try await count in rows.decode(Int64.self) { return Int(count) }
        return 0
    }

    public func samples(instance: String, from: Int64, to: Int64) async throws -> [UsageSample] {
        var out: [UsageSample] = []
        let rows = try await client.query("SELECT time, cpu, memory, gpu FROM usage WHERE instance = \(instance) AND time >= \(from) AND time < \(to) ORDER BY time")
        for try await (time, c, m, g) in rows.decode((Int64, Double, Double, Double).self) {
            out.append(UsageSample(instance: instance, time: time, used: [c, m, g]))
        }
        return out
    }

    public func sampleCount() async throws -> Int {
        for try await count in try await client.query("SELECT count(*) FROM usage").decode(Int64.self) { return Int(count) }
        return 0
    }

    public func sampleTimes() async throws -> ClosedRange<Int64>? {
        for try await (low, high) in try await client.query("SELECT min(time), max(time) FROM usage").decode((Int64?, Int64?).self) {
            if let low, let high { return low...high }
        }
        return nil
    }

    public func compactSamples(deleteBefore: Int64, downsampleBefore: Int64, bucket: Int64) async throws {
        guard bucket > 0 else { throw StoreError("downsampling bucket must be positive, not \(bucket)") }
        try await client.withConnection { connection in
            try await connection.query("BEGIN", logger: Self.logger)
            do {
                try await connection.query("DELETE FROM usage WHERE time < \(deleteBefore)", logger: Self.logger)
                try await connection.query("CREATE TEMP TABLE usage_compacted (instance TEXT, time BIGINT, cpu FLOAT8, memory FLOAT8, gpu FLOAT8) ON COMMIT DROP", logger: Self.logger)
                try await connection.query("""
                    INSERT INTO usage_compacted
                    SELECT instance, start, avg(cpu), avg(memory), avg(gpu)
                    FROM (SELECT instance, (time / \(bucket)) * \(bucket) AS start, cpu, memory, gpu
                          FROM usage WHERE time < \(downsampleBefore)) AS old
                    GROUP BY instance, start
                    """, logger: Self.logger)
                try await connection.query("DELETE FROM usage WHERE time < \(downsampleBefore)", logger: Self.logger)
                try await connection.query("INSERT INTO usage SELECT * FROM usage_compacted ON CONFLICT (instance, time) DO UPDATE SET cpu = EXCLUDED.cpu, memory = EXCLUDED.memory, gpu = EXCLUDED.gpu", logger: Self.logger)
                try await connection.query("COMMIT", logger: Self.logger)
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: Self.logger)
                throw StoreError("compacting samples failed, nothing changed: \(String(reflecting: error))")
            }
        }
    }

    private static let logger = Logger(label: "poolswap.postgres")

    // MARK: Plans, swaps, journal

    public func save(plan: PlanRecord) async throws {
        try await client.query("""
            INSERT INTO plan VALUES (\(plan.id), \(plan.created), \(plan.status.rawValue), \(plan.tenant), \(plan.request), \(plan.answer))
            ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, tenant = EXCLUDED.tenant, request = EXCLUDED.request, answer = EXCLUDED.answer
            """)
    }

    private func plans(_ query: PostgresQuery) async throws -> [PlanRecord] {
        var out: [PlanRecord] = []
        for try await (id, created, status, tenant, request, answer) in try await client.query(query).decode((String, Int64, String, String?, String, String).self) {
            guard let status = PlanRecord.Status(rawValue: status) else { throw StoreError("plan \(id) has unknown status \(status)") }
            out.append(PlanRecord(id: id, created: created, status: status, tenant: tenant, request: request, answer: answer))
        }
        return out
    }

    public func plan(id: String) async throws -> PlanRecord? {
        try await plans("SELECT id, created, status, tenant, request, answer FROM plan WHERE id = \(id)").first
    }

    public func plans(status: PlanRecord.Status) async throws -> [PlanRecord] {
        try await plans("SELECT id, created, status, tenant, request, answer FROM plan WHERE status = \(status.rawValue) ORDER BY created, id")
    }


    public func record(swaps: [SwapRecord]) async throws -> [SwapRecord] {
        try await client.withConnection { connection in
            try await connection.query("BEGIN", logger: Self.logger)
            do {
                var stored: [SwapRecord] = []
                for var swap in swaps {
                    let rows = try await connection.query("""
                        INSERT INTO swap (plan, instance, tenant, time, from_node, to_node, before, after, predicted, realised,
                                          utilisation_before, utilisation_after, duration_ms, outcome, reason, risk, verification, ended_at, restored)
                        VALUES (\(swap.plan), \(swap.instance), \(swap.tenant), \(swap.time), \(swap.fromNode), \(swap.toNode),
                                \(StoredAmounts.text(swap.before)), \(StoredAmounts.text(swap.after)), \(swap.predictedBenefit), \(swap.realisedBenefit),
                                \(swap.utilisationBefore), \(swap.utilisationAfter), \(swap.durationMilliseconds), \(swap.outcome.rawValue),
                                \(swap.reason), \(swap.risk), \(swap.verification), \(swap.endedAt), \(swap.restored.map(StoredAmounts.text)))
                        RETURNING id
                        """, logger: Self.logger)
                    for try await id in rows.decode(Int64.self) { swap.id = id }
                    stored.append(swap)
                }
                try await connection.query("COMMIT", logger: Self.logger)
                return stored
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: Self.logger)
                throw error
            }
        }
    }

    public func swapHistory(_ query: SwapHistoryQuery) async throws -> [SwapRecord] {
        // NULL filters match everything, so one statement serves every combination.
        let rows = try await client.query("""
            SELECT id, plan, instance, tenant, time, from_node, to_node, before, after, predicted, realised,
                   utilisation_before, utilisation_after, duration_ms, outcome, reason, risk, verification, ended_at, restored FROM swap
            WHERE (\(query.plan)::text IS NULL OR plan = \(query.plan))
              AND (\(query.instance)::text IS NULL OR instance = \(query.instance))
              AND (\(query.tenant)::text IS NULL OR tenant = \(query.tenant))
              AND (\(query.from)::bigint IS NULL OR time >= \(query.from))
              AND (\(query.to)::bigint IS NULL OR time < \(query.to))
              AND (\(query.outcome?.rawValue)::text IS NULL OR outcome = \(query.outcome?.rawValue))
              AND (\(query.before)::bigint IS NULL OR id < \(query.before))
            ORDER BY id DESC LIMIT \(Int64(max(0, query.limit)))
            """)
        var out: [SwapRecord] = []
        for try await row in rows {
            let r = try row.decode((Int64, String, String, String, Int64, String, String, String, String, Double, Double?, Double, Double?, Double, String,
                                    String?, String?, String?, Int64?, String?).self)
            out.append(SwapRecord(id: r.0, plan: r.1, instance: r.2, tenant: r.3, time: r.4, fromNode: r.5, toNode: r.6,
                                  before: StoredAmounts.values(r.7), after: StoredAmounts.values(r.8), predictedBenefit: r.9, realisedBenefit: r.10,
                                  utilisationBefore: r.11, utilisationAfter: r.12, durationMilliseconds: r.13,
                                  outcome: SwapRecord.outcome(stored: r.14), reason: r.15, risk: r.16, verification: r.17,
                                  endedAt: r.18, restored: r.19.map(StoredAmounts.values)))
        }
        return out
    }

    public func update(swaps: [SwapRecord]) async throws {
        for swap in swaps where swap.id == nil { throw StoreError("a swap without an id cannot be updated (instance \(swap.instance))") }
        guard !swaps.isEmpty else { return }
        try await client.withConnection { connection in
            try await connection.query("BEGIN", logger: Self.logger)
            do {
                for swap in swaps {
                    let rows = try await connection.query("""
                        UPDATE swap SET outcome = \(swap.outcome.rawValue), realised = \(swap.realisedBenefit), utilisation_after = \(swap.utilisationAfter),
                          reason = \(swap.reason), risk = \(swap.risk), verification = \(swap.verification), ended_at = \(swap.endedAt),
                          restored = \(swap.restored.map(StoredAmounts.text)), duration_ms = \(swap.durationMilliseconds)
                        WHERE id = \(swap.id!) RETURNING id
                        """, logger: Self.logger)
                    var found = false
                    for try await _ in rows.decode(Int64.self) { found = true }
                    guard found else { throw StoreError("no swap with id \(swap.id!)") }
                }
                try await connection.query("COMMIT", logger: Self.logger)
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: Self.logger)
                throw error
            }
        }
    }

    public func append(journal entry: JournalEntry) async throws {
        try await client.query("INSERT INTO journal (plan, step, phase, detail, time, action) VALUES (\(entry.plan), \(Int64(entry.step)), \(entry.phase), \(entry.detail), \(entry.time), \(entry.action))")
    }

    public func journal(plan: String) async throws -> [JournalEntry] {
        var out: [JournalEntry] = []
        for try await (step, phase, detail, time, action) in try await client.query("SELECT step, phase, detail, time, action FROM journal WHERE plan = \(plan) ORDER BY id").decode((Int64, String, String, Int64, String?).self) {
            out.append(JournalEntry(plan: plan, step: Int(step), phase: phase, detail: detail, time: time, action: action))
        }
        return out
    }

    // MARK: Tokens and checkpoints

    public func insert(token: TokenRecord) async throws {
        try await client.query("INSERT INTO token VALUES (\(token.hash), \(token.name), \(token.role.rawValue), \(token.tenant), \(token.created))")
    }

    public func token(hash: String) async throws -> TokenRecord? {
        for try await (hash, name, role, tenant, created) in try await client.query("SELECT hash, name, role, tenant, created FROM token WHERE hash = \(hash)").decode((String, String, String, String?, Int64).self) {
            guard let role = TokenRecord.Role(rawValue: role) else { return nil }
            return TokenRecord(hash: hash, name: name, role: role, tenant: tenant, created: created)
        }
        return nil
    }

    public func saveCheckpoint(name: String, data: [UInt8], time: Int64) async throws {
        let bytes = ByteBuffer(bytes: data)
        try await client.query("INSERT INTO checkpoint VALUES (\(name), \(time), \(bytes)) ON CONFLICT (name) DO UPDATE SET time = EXCLUDED.time, data = EXCLUDED.data")
    }

    public func checkpoint(name: String) async throws -> CheckpointRecord? {
        for try await (data, time) in try await client.query("SELECT data, time FROM checkpoint WHERE name = \(name)").decode((ByteBuffer, Int64).self) {
            return CheckpointRecord(data: Array(buffer: data), time: time)
        }
        return nil
    }
}
#endif
