import Drivers
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import PoolCore
@testable import Service
import Storage
import Testing

/// A service whose pool is the simulated driver replaying a trace made here: node n1 (8 cores,
/// 1 kept, 32 GiB) holds `busy` (wants 3 cores, has 2) and `idle` (wants 0.2 or 0.4 cores in
/// turn, has 4); n2 (8 cores, 32 GiB) holds `other` (wants 1, has 1). SLA: 0.1 to 6 cores, 0.25
/// to 16 GiB, weight 3. The loop is driven by the test, one slot a round; the automatic swaps
/// are off unless configured.
struct SimulatedHarness: Sendable {
    let service: ServiceApplication
    let store: SQLiteStore
    let driver: SimulatedDriver
    let path: String
    let tokens: [String: String]
    static let origin: Int64 = 1_700_000_100

    static func trace(slots: Int = 400) -> UsageTrace {
        let demand: [(InstanceID, (Int) -> ResourceVector)] = [
            ("busy", { _ in ResourceVector(cpu: 3, memory: 2) }),
            ("idle", { k in ResourceVector(cpu: k % 2 == 0 ? 0.2 : 0.4, memory: 1) }),
            ("other", { _ in ResourceVector(cpu: 1, memory: 1) }),
        ]
        return UsageTrace(origin: origin, interval: 300, instances: demand.map { id, d in
            let series = (0..<slots).map(d)
            return InstanceSeries(id: id, firstSlot: 0, used: [series.map(\.cpu), series.map(\.memory), series.map(\.gpu)],
                                  allocated: [Array(repeating: 4, count: slots), Array(repeating: 8, count: slots), Array(repeating: 0, count: slots)])
        })
    }

    static let records: [InstanceRecord] = [("busy", "n1", 2.0), ("idle", "n1", 4.0), ("other", "n2", 1.0)].map { id, node, cpu in
        InstanceRecord(id: id, tenant: "acme", node: node, allocation: [cpu, 4, 0], minimum: [0.1, 0.25, 0], maximum: [6, 16, 0], weight: 3)
    }

    /// `failing`: a `CrashPointStore` setting `KIND:N:fail`, the store's n-th write of a kind failing.
    /// `now`: the pool time the service starts at (a restart after rounds: after them).
    init(path: String? = nil, failing: String? = nil, now: Int64 = origin, configure: (inout ServiceConfiguration) -> Void = { _ in }) async throws {
        var configuration = ServiceConfiguration()
        configuration.demo = false
        configuration.autoSwap = false
        configuration.warmupRounds = 0
        configure(&configuration)
        let path = path ?? NSTemporaryDirectory() + "poolswap-simulated-service-\(UUID().uuidString).sqlite"
        self.path = path
        store = try SQLiteStore(path: path)
        let nodes = [NodeRecord(id: "n1", capacity: [8, 32, 0], reserve: [1, 0, 0]), NodeRecord(id: "n2", capacity: [8, 32, 0], reserve: [0, 0, 0])]
        if try await store.nodes().isEmpty {
            for node in nodes { try await store.upsert(node: node) }
            for record in Self.records { try await store.upsert(instance: record) }
        }
        let ledger = try AllocationLedger(
            nodes: nodes.map { Node(id: NodeID($0.id), capacity: ResourceVector(cpu: $0.capacity[0], memory: $0.capacity[1]), reserve: ResourceVector(cpu: $0.reserve[0])) },
            instances: Self.records.map { Instance(id: InstanceID($0.id), node: NodeID($0.node), allocation: ResourceVector(cpu: $0.allocation[0], memory: $0.allocation[1]),
                                                   sla: SLA(minimum: ResourceVector(cpu: 0.1, memory: 0.25), maximum: ResourceVector(cpu: 6, memory: 16), weight: 3)) })
        driver = try SimulatedDriver(trace: Self.trace(), pool: ledger, stateFile: path + ".simulated")
        service = try await ServiceApplication(configuration: configuration, store: try CrashPointStore.wrapping(store, setting: failing), logger: Logger(label: "test"), now: now, driver: driver)
        var tokens: [String: String] = [:]
        for (name, role) in [("admin", TokenRecord.Role.admin), ("operator", .operator), ("reader", .reader)] {
            let token = APIToken.generate()
            try await store.insert(token: TokenRecord(hash: APIToken.hash(token), name: name, role: role, tenant: nil, created: 0))
            tokens[name] = token
        }
        self.tokens = tokens
    }

    /// Runs the rounds of slots `first..<first + count`.
    func rounds(_ count: Int, from first: Int) async throws {
        for k in first..<(first + count) { try await service.loop.runOnce(time: Self.origin + Int64(k) * 300) }
    }

    func test(_ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        try await Application(router: service.router()).test(.router, body)
    }

    func headers(_ who: String) -> HTTPFields {
        [.contentType: "application/json", .authorization: "Bearer \(tokens[who] ?? who)"]
    }

    /// POSTs `body` to `uri` as `who` and returns the status and the JSON answer.
    func post(_ client: any TestClientProtocol, _ uri: String, _ body: String, as who: String = "operator") async throws -> (HTTPResponse.Status, [String: Any]) {
        try await client.execute(uri: uri, method: .post, headers: headers(who), body: ByteBuffer(string: body)) { response in
            (response.status, (try? json(response.body)) ?? [:])
        }
    }

    func get(_ client: any TestClientProtocol, _ uri: String) async throws -> [String: Any] {
        try await client.execute(uri: uri, method: .get, headers: headers("reader")) { response in try json(response.body) }
    }

    func swaps(_ instance: String? = nil) async throws -> [SwapRecord] {
        try await store.swapHistory(SwapHistoryQuery(instance: instance, limit: 1_000))
    }

    /// The instance's allocation as the driver has it and as the store keeps it.
    func allocation(_ id: String) async throws -> (driver: ResourceVector, stored: [Double]?) {
        (try await driver.allocation(of: InstanceID(id)), try await store.instance(id: id)?.allocation)
    }
}
