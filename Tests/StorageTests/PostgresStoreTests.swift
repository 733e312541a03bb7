#if Postgres
import Foundation
import PostgresNIO
import Storage
import Testing

/// The conformance suite on a real PostgreSQL server (package trait `Postgres`). The
/// server is named by POOLSWAP_TEST_POSTGRES_URL (`Tests/scripts/start_postgres.sh`
/// starts one); each test gets a database of its own.
let postgresTestURL = ProcessInfo.processInfo.environment["POOLSWAP_TEST_POSTGRES_URL"]

@Suite("PostgreSQL store conformance", .enabled(if: postgresTestURL != nil, "POOLSWAP_TEST_POSTGRES_URL is not set: no PostgreSQL server to test against"))
struct PostgresStoreTests {
    static let url = postgresTestURL

    func fresh() async throws -> PostgresStore {
        let base = try #require(Self.url)
        let name = "poolswap_test_\(UUID().uuidString.prefix(8).lowercased())"
        let admin = try await PostgresStore(url: base)
        try await admin.execute(unsafeSQL: "CREATE DATABASE \(name)")
        var parts = try #require(URLComponents(string: base))
        parts.path = "/\(name)"
        return try await PostgresStore(url: try #require(parts.string))
    }

    @Test func nodesAndInstances() async throws { try await StoreConformance(store: try await fresh()).nodesAndInstances() }
    @Test func samples() async throws { try await StoreConformance(store: try await fresh()).samples() }
    @Test func compaction() async throws { try await StoreConformance(store: try await fresh()).compaction() }
    @Test func plansSwapsAndJournal() async throws { try await StoreConformance(store: try await fresh()).plansSwapsAndJournal() }
    @Test func tokensAndCheckpoints() async throws { try await StoreConformance(store: try await fresh()).tokensAndCheckpoints() }
    @Test func notANumberIsKept() async throws { try await StoreConformance(store: try await fresh()).notANumberIsKept() }

    @Test func aServerThatCannotBeReachedIsNamed() async {
        await #expect(throws: StoreError.self) { _ = try await PostgresStore(url: "postgres://nobody@127.0.0.1:1/none") }
    }
}
#endif
