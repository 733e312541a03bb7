import Foundation
import GRDB

/// The embedded store: one SQLite file through GRDB, in WAL mode, so readers
/// never wait for the writer and a crash loses no committed write.
public final class SQLiteStore: PoolStore {
    private let database: DatabasePool

    /// Opens (creating if needed) the database at `path` and migrates it.
    public init(path: String) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            // NORMAL in WAL mode: a commit survives a crash of the process (not of the machine's power).
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            try db.execute(sql: "PRAGMA cache_size = -65536")      // 64 MiB of pages per connection
            try db.execute(sql: "PRAGMA mmap_size = 268435456")    // read through 256 MiB of mapped file
        }
        do {
            database = try DatabasePool(path: path, configuration: configuration)
            // Another process (a `token create` beside a starting service) may be migrating the
            // same file: once it is done, the migrations it applied are seen and skipped.
            var attempt = 0
            while true {
                do {
                    try Self.migrator.migrate(database)
                    break
                } catch {
                    attempt += 1
                    if attempt >= 5 { throw error }
                    usleep(200_000)
                }
            }
        } catch {
            throw StoreError("cannot open the SQLite database at \(path): \(error)")
        }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE node (id TEXT PRIMARY KEY, cpu REAL, memory REAL, gpu REAL,
                                   reserve_cpu REAL, reserve_memory REAL, reserve_gpu REAL);
                CREATE TABLE instance (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, node TEXT NOT NULL,
                                       cpu REAL, memory REAL, gpu REAL, min_cpu REAL, min_memory REAL, min_gpu REAL,
                                       max_cpu REAL, max_memory REAL, max_gpu REAL, weight REAL);
                CREATE INDEX instance_tenant ON instance(tenant);
                CREATE TABLE usage (instance TEXT NOT NULL, time INTEGER NOT NULL, cpu REAL, memory REAL, gpu REAL,
                                    PRIMARY KEY (instance, time)) WITHOUT ROWID;
                CREATE TABLE plan (id TEXT PRIMARY KEY, created INTEGER NOT NULL, status TEXT NOT NULL, tenant TEXT,
                                   request TEXT NOT NULL, answer TEXT NOT NULL);
                CREATE INDEX plan_status ON plan(status);
                CREATE TABLE swap (id INTEGER PRIMARY KEY AUTOINCREMENT, plan TEXT NOT NULL, instance TEXT NOT NULL,
                                   tenant TEXT NOT NULL, time INTEGER NOT NULL, from_node TEXT, to_node TEXT,
                                   before TEXT, after TEXT, predicted REAL, realised REAL,
                                   utilisation_before REAL, utilisation_after REAL, duration_ms REAL, outcome TEXT NOT NULL);
                CREATE INDEX swap_instance ON swap(instance, id);
                CREATE INDEX swap_tenant ON swap(tenant, id);
                CREATE TABLE journal (id INTEGER PRIMARY KEY AUTOINCREMENT, plan TEXT NOT NULL, step INTEGER NOT NULL,
                                      phase TEXT NOT NULL, detail TEXT NOT NULL, time INTEGER NOT NULL);
                CREATE INDEX journal_plan ON journal(plan, id);
                CREATE TABLE token (hash TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, tenant TEXT,
                                    created INTEGER NOT NULL);
                CREATE TABLE checkpoint (name TEXT PRIMARY KEY, time INTEGER NOT NULL, data BLOB NOT NULL);
                """)
        }
        migrator.registerMigration("v2: swap lifecycle and journal actions") { db in
            try db.execute(sql: """
                ALTER TABLE swap ADD COLUMN reason TEXT;
                ALTER TABLE swap ADD COLUMN risk TEXT;
                ALTER TABLE swap ADD COLUMN verification TEXT;
                ALTER TABLE swap ADD COLUMN ended_at INTEGER;
                ALTER TABLE swap ADD COLUMN restored TEXT;
                CREATE INDEX swap_outcome ON swap(outcome, id);
                CREATE INDEX swap_plan ON swap(plan, id);
                ALTER TABLE journal ADD COLUMN action TEXT;
                UPDATE swap SET outcome = 'committed' WHERE outcome = 'executed';
                UPDATE swap SET outcome = 'failedSafe' WHERE outcome = 'failed';
                """)
        }
        return migrator
    }


    // MARK: Nodes and instances

    public func upsert(node: NodeRecord) async throws {
        let c = try StoredAmounts.checked(node.capacity, "node \(node.id) capacity"), r = try StoredAmounts.checked(node.reserve, "node \(node.id) reserve")
        try await database.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO node VALUES (?, ?, ?, ?, ?, ?, ?)",
                           arguments: [node.id, c[0], c[1], c[2], r[0], r[1], r[2]])
        }
    }

    /// SQLite stores NaN as NULL: a NULL in a column of numbers reads back as NaN, never a crash
    /// (an optional one, such as `realised`, reads back as nil: not measured).
    private static func real(_ row: Row, _ column: String) -> Double { (row[column] as Double?) ?? .nan }
    private static func reals(_ row: Row, _ columns: String...) -> [Double] { columns.map { real(row, $0) } }

    public func nodes() async throws -> [NodeRecord] {
        try await database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM node ORDER BY id").map { row in
                NodeRecord(id: row["id"], capacity: Self.reals(row, "cpu", "memory", "gpu"),
                           reserve: Self.reals(row, "reserve_cpu", "reserve_memory", "reserve_gpu"))
            }
        }
    }

    public func upsert(instance: InstanceRecord) async throws {
        let a = try StoredAmounts.checked(instance.allocation, "instance \(instance.id) allocation")
        let lo = try StoredAmounts.checked(instance.minimum, "instance \(instance.id) minimum")
        let hi = try StoredAmounts.checked(instance.maximum, "instance \(instance.id) maximum")
        try await database.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO instance VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           arguments: [instance.id, instance.tenant, instance.node, a[0], a[1], a[2],
                                       lo[0], lo[1], lo[2], hi[0], hi[1], hi[2], instance.weight])
        }
    }

    private static func instance(_ row: Row) -> InstanceRecord {
        InstanceRecord(id: row["id"], tenant: row["tenant"], node: row["node"],
                       allocation: reals(row, "cpu", "memory", "gpu"),
                       minimum: reals(row, "min_cpu", "min_memory", "min_gpu"),
                       maximum: reals(row, "max_cpu", "max_memory", "max_gpu"), weight: real(row, "weight"))
    }

    public func instances(tenant: String?) async throws -> [InstanceRecord] {
        try await database.read { db in
            if let tenant {
                return try Row.fetchAll(db, sql: "SELECT * FROM instance WHERE tenant = ? ORDER BY id", arguments: [tenant]).map(Self.instance)
            }
            return try Row.fetchAll(db, sql: "SELECT * FROM instance ORDER BY id").map(Self.instance)
        }
    }

    public func instance(id: String) async throws -> InstanceRecord? {
        try await database.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM instance WHERE id = ?", arguments: [id]).map(Self.instance)
        }
    }

    // MARK: Usage

    public func append(samples: [UsageSample]) async throws -> Int {
        for sample in samples { _ = try StoredAmounts.checked(sample.used, "sample of \(sample.instance)") }
        return try await database.write { db in
            let statement = try db.cachedStatement(sql: "INSERT OR IGNORE INTO usage VALUES (?, ?, ?, ?, ?)")
            var inserted = 0
            for sample in samples {
                try statement.execute(arguments: [sample.instance, sample.time, sample.used[0], sample.used[1], sample.used[2]])
                inserted += db.changesCount
            }
            return inserted
        }
    }

    public func samples(instance: String, from: Int64, to: Int64) async throws -> [UsageSample] {
        try await database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM usage WHERE instance = ? AND time >= ? AND time < ? ORDER BY time",
                             arguments: [instance, from, to]).map { row in
                UsageSample(instance: row["instance"], time: row["time"], used: Self.reals(row, "cpu", "memory", "gpu"))
            }
        }
    }

    public func sampleCount() async throws -> Int {
        try await database.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM usage") ?? 0 }
    }

    public func sampleTimes() async throws -> ClosedRange<Int64>? {
        try await database.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT min(time) AS low, max(time) AS high FROM usage"),
                  let low: Int64 = row["low"], let high: Int64 = row["high"] else { return nil }
            return low...high
        }
    }

    public func compactSamples(deleteBefore: Int64, downsampleBefore: Int64, bucket: Int64) async throws {
        guard bucket > 0 else { throw StoreError("downsampling bucket must be positive, not \(bucket)") }
        try await database.write { db in
            try db.execute(sql: "DELETE FROM usage WHERE time < ?", arguments: [deleteBefore])
            try db.execute(sql: """
                CREATE TEMP TABLE IF NOT EXISTS usage_compacted (instance TEXT, time INTEGER, cpu REAL, memory REAL, gpu REAL);
                DELETE FROM usage_compacted;
                """)
            try db.execute(sql: """
                INSERT INTO usage_compacted
                SELECT instance, (time / ?1) * ?1, avg(cpu), avg(memory), avg(gpu) FROM usage
                WHERE time < ?2 GROUP BY instance, time / ?1
                """, arguments: [bucket, downsampleBefore])
            try db.execute(sql: "DELETE FROM usage WHERE time < ?", arguments: [downsampleBefore])
            try db.execute(sql: "INSERT OR REPLACE INTO usage SELECT * FROM usage_compacted")
            try db.execute(sql: "DELETE FROM usage_compacted")
        }
    }

    // MARK: Plans, swaps, journal

    public func save(plan: PlanRecord) async throws {
        try await database.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO plan VALUES (?, ?, ?, ?, ?, ?)",
                           arguments: [plan.id, plan.created, plan.status.rawValue, plan.tenant, plan.request, plan.answer])
        }
    }

    private static func plan(_ row: Row) throws -> PlanRecord {
        guard let status = PlanRecord.Status(rawValue: row["status"]) else { throw StoreError("plan \(row["id"] as String? ?? "") has unknown status") }
        return PlanRecord(id: row["id"], created: row["created"], status: status, tenant: row["tenant"],
                          request: row["request"], answer: row["answer"])
    }

    public func plan(id: String) async throws -> PlanRecord? {
        try await database.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM plan WHERE id = ?", arguments: [id]).map(Self.plan)
        }
    }

    public func plans(status: PlanRecord.Status) async throws -> [PlanRecord] {
        try await database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM plan WHERE status = ? ORDER BY created, id", arguments: [status.rawValue]).map(Self.plan)
        }
    }

    public func record(swaps: [SwapRecord]) async throws -> [SwapRecord] {
        try await database.write { db in
            var stored: [SwapRecord] = []
            for var swap in swaps {
                try db.execute(sql: """
                    INSERT INTO swap (plan, instance, tenant, time, from_node, to_node, before, after, predicted, realised,
                                      utilisation_before, utilisation_after, duration_ms, outcome, reason, risk, verification, ended_at, restored)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [swap.plan, swap.instance, swap.tenant, swap.time, swap.fromNode, swap.toNode,
                                     StoredAmounts.text(swap.before), StoredAmounts.text(swap.after), swap.predictedBenefit, swap.realisedBenefit,
                                     swap.utilisationBefore, swap.utilisationAfter, swap.durationMilliseconds, swap.outcome.rawValue,
                                     swap.reason, swap.risk, swap.verification, swap.endedAt, swap.restored.map(StoredAmounts.text)])
                swap.id = db.lastInsertedRowID
                stored.append(swap)
            }
            return stored
        }
    }

    public func swapHistory(_ query: SwapHistoryQuery) async throws -> [SwapRecord] {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if let plan = query.plan { conditions.append("plan = ?"); arguments += [plan] }
        if let instance = query.instance { conditions.append("instance = ?"); arguments += [instance] }
        if let tenant = query.tenant { conditions.append("tenant = ?"); arguments += [tenant] }
        if let from = query.from { conditions.append("time >= ?"); arguments += [from] }
        if let to = query.to { conditions.append("time < ?"); arguments += [to] }
        if let outcome = query.outcome { conditions.append("outcome = ?"); arguments += [outcome.rawValue] }
        if let before = query.before { conditions.append("id < ?"); arguments += [before] }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        arguments += [max(0, query.limit)]
        let sql = "SELECT * FROM swap \(filter) ORDER BY id DESC LIMIT ?"
        let bound = arguments
        return try await database.read { db in
            try Row.fetchAll(db, sql: sql, arguments: bound).map { row in
                SwapRecord(id: row["id"], plan: row["plan"], instance: row["instance"], tenant: row["tenant"], time: row["time"],
                           fromNode: row["from_node"], toNode: row["to_node"],
                           before: StoredAmounts.values(row["before"]), after: StoredAmounts.values(row["after"]),
                           predictedBenefit: Self.real(row, "predicted"), realisedBenefit: row["realised"],
                           utilisationBefore: Self.real(row, "utilisation_before"), utilisationAfter: row["utilisation_after"],
                           durationMilliseconds: Self.real(row, "duration_ms"), outcome: SwapRecord.outcome(stored: row["outcome"]),
                           reason: row["reason"], risk: row["risk"], verification: row["verification"], endedAt: row["ended_at"],
                           restored: (row["restored"] as String?).map(StoredAmounts.values))
            }
        }
    }

    public func update(swaps: [SwapRecord]) async throws {
        for swap in swaps where swap.id == nil { throw StoreError("a swap without an id cannot be updated (instance \(swap.instance))") }
        guard !swaps.isEmpty else { return }
        try await database.write { db in
            let statement = try db.cachedStatement(sql: """
                UPDATE swap SET outcome = ?, realised = ?, utilisation_after = ?, reason = ?, risk = ?, verification = ?,
                                ended_at = ?, restored = ?, duration_ms = ? WHERE id = ?
                """)
            for swap in swaps {
                try statement.execute(arguments: [swap.outcome.rawValue, swap.realisedBenefit, swap.utilisationAfter, swap.reason, swap.risk,
                                                  swap.verification, swap.endedAt, swap.restored.map(StoredAmounts.text), swap.durationMilliseconds, swap.id])
                guard db.changesCount == 1 else { throw StoreError("no swap with id \(swap.id!)") }
            }
        }
    }

    public func append(journal entry: JournalEntry) async throws {
        try await database.write { db in
            try db.execute(sql: "INSERT INTO journal (plan, step, phase, detail, time, action) VALUES (?, ?, ?, ?, ?, ?)",
                           arguments: [entry.plan, entry.step, entry.phase, entry.detail, entry.time, entry.action])
        }
    }

    public func journal(plan: String) async throws -> [JournalEntry] {
        try await database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM journal WHERE plan = ? ORDER BY id", arguments: [plan]).map { row in
                JournalEntry(plan: row["plan"], step: row["step"], phase: row["phase"], detail: row["detail"], time: row["time"], action: row["action"])
            }
        }
    }

    // MARK: Tokens and checkpoints

    public func insert(token: TokenRecord) async throws {
        try await database.write { db in
            try db.execute(sql: "INSERT INTO token VALUES (?, ?, ?, ?, ?)",
                           arguments: [token.hash, token.name, token.role.rawValue, token.tenant, token.created])
        }
    }

    public func token(hash: String) async throws -> TokenRecord? {
        try await database.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM token WHERE hash = ?", arguments: [hash]).flatMap { row in
                TokenRecord.Role(rawValue: row["role"]).map {
                    TokenRecord(hash: row["hash"], name: row["name"], role: $0, tenant: row["tenant"], created: row["created"])
                }
            }
        }
    }

    public func saveCheckpoint(name: String, data: [UInt8], time: Int64) async throws {
        try await database.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO checkpoint VALUES (?, ?, ?)", arguments: [name, time, Data(data)])
        }
    }

    public func checkpoint(name: String) async throws -> CheckpointRecord? {
        try await database.read { db in
            try Row.fetchOne(db, sql: "SELECT data, time FROM checkpoint WHERE name = ?", arguments: [name]).map { row in
                CheckpointRecord(data: [UInt8](row["data"] as Data), time: row["time"])
            }
        }
    }
}
