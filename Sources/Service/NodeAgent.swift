import Drivers
import Foundation
import PoolCore

/// `poolswap agent`: on one node, every interval, reads the instances its driver finds (cgroups
/// under a parent, runc containers), turns their counters into one sample each, writes the
/// batch to the disk spool, then sends what the spool holds to the server's `POST /usage`,
/// oldest first, registering nodes and instances the server does not know yet. A batch leaves
/// the spool only once the server answered it; while it is unreachable the batches wait.
/// Without a server the agent is an exporter: it samples for `/metrics` alone (Prometheus
/// scrapes it, `serve --prometheus` pulls from Prometheus).
public actor NodeAgent {
    public struct Settings: Sendable {
        /// Seconds between samples: the server's interval.
        public var interval = 300
        /// Tenant, SLA and allocation an instance the server does not know is registered with.
        public var tenant = "local"
        public var weight = 1.0
        public var minimum: [Double] = [0.05, 0.0625, 0]
        /// Where the driver reads no limit: cores, GiB (memory at least 1.25 × the working set).
        public var unlimitedAllocation: [Double] = [1, 1, 0]
        public init() {}
    }

    let driver: any InstanceDriver
    let client: AgentClient?
    let settings: Settings
    private var spool: AgentSpool?
    private var sampler = DriverSampler()
    private var nodes: [String: Node] = [:]
    private var found: [String: DiscoveredInstance] = [:]
    private var registered: Set<String> = []
    private var registeredNodes: Set<String> = []
    /// What `/metrics` shows: the last reading and delta per instance.
    private var readings: [String: InstanceSignals] = [:]
    private var deltas: [String: SignalDelta] = [:]
    public private(set) var samplesTaken = 0
    public private(set) var samplesSent = 0
    public private(set) var samplesRejected = 0
    public private(set) var sendFailures = 0
    /// What went wrong in the last tick, if anything.
    public private(set) var lastProblem: String?

    public init(driver: any InstanceDriver, client: AgentClient?, spool: AgentSpool?, settings: Settings = Settings()) {
        self.driver = driver
        self.client = client
        self.spool = spool
        self.settings = settings
    }

    /// One interval's work at wall-clock `now` (epoch seconds): sample into the spool, then send.
    public func tick(now: Int64) async {
        lastProblem = nil
        do { try await sample(now: now) } catch { lastProblem = "sampling: \(error)" }
        await flush()
    }

    /// Reads the driver and spools one sample per instance that ran through the interval just
    /// ended (stamped with its start). The first reading of an instance gives none yet.
    public func sample(now: Int64) async throws {
        deltas = sampler.take(try await read())
        let interval = Int64(settings.interval)
        let time = (now / interval - 1) * interval
        let samples = deltas.sorted { $0.key < $1.key }.compactMap { id, delta -> UsageSampleBody? in
            guard delta.present else { return nil }
            // As the server's own sampling does: demand is served plus throttled cpu; the server
            // bumps the memory of a slot with OOM kills above the limit it knows.
            return UsageSampleBody(instance: id, time: time, cpu: delta.cpu + delta.throttled, memory: delta.memory, gpu: delta.gpu,
                                   throttled: delta.throttled, oomKills: delta.oomKills)
        }
        guard !samples.isEmpty else { return }
        samplesTaken += samples.count
        guard client != nil, spool != nil else { return }
        try spool!.append(try JSONEncoder().encode(UsageBatch(samples: samples)))
    }

    /// Sends the spooled batches, oldest first, until one cannot be sent. A batch the server
    /// refuses, or whose samples it partly rejects, is set aside (kept in `refused/` with the
    /// server's answer), never resent.
    public func flush() async {
        guard let client, let spool else { return }
        do {
            for name in try spool.pending() {
                let data = try spool.read(name)
                guard let batch = try? JSONDecoder().decode(UsageBatch.self, from: data) else {
                    try spool.setAside(name, why: "not a batch this agent can read")
                    continue
                }
                try await register(Set(batch.samples.map(\.instance)))
                let reply = try await client.send("POST", "usage", body: data)
                switch reply.status {
                case 200..<300:
                    let receipt = try? JSONDecoder().decode(UsageReceipt.self, from: reply.body)
                    samplesSent += receipt?.accepted ?? batch.samples.count
                    if let receipt, receipt.rejected > 0 {
                        // Kept, not lost: the batch goes aside with the server's reasons.
                        samplesRejected += receipt.rejected
                        lastProblem = "server rejected \(receipt.rejected) samples of \(name): \(receipt.reasons)"
                        if receipt.reasons["unknown instance"] != nil { registered.removeAll() }
                        try spool.setAside(name, why: reply.text)
                    } else {
                        try spool.remove(name)
                    }
                case 400, 413, 422:
                    try spool.setAside(name, why: "\(reply.status): \(reply.text)")
                    lastProblem = "server refused batch \(name) (\(reply.status)): \(reply.text)"
                default:
                    throw AgentError("POST /usage answered \(reply.status): \(reply.text)")
                }
            }
        } catch {
            sendFailures += 1
            lastProblem = "sending: \(error)"
        }
    }

    /// Registers on the server the nodes and instances of `ids` it does not know (asking first,
    /// so that a known instance's allocation is never overwritten).
    private func register(_ ids: Set<String>) async throws {
        guard let client else { return }
        for id in ids.subtracting(registered).sorted() {
            guard let instance = found[id] else { continue }
            let node = instance.node.rawValue
            if !registeredNodes.contains(node), let known = nodes[node] {
                let reply = try await client.send("GET", "nodes")
                guard reply.status == 200, let list = try? JSONDecoder().decode(NodeList.self, from: reply.body) else {
                    throw AgentError("GET /nodes answered \(reply.status): \(reply.text)")
                }
                if !list.nodes.contains(where: { $0.id == node }) {
                    let body = NodeBody(id: node, capacity: Amounts(values(known.capacity)), reserve: Amounts(values(known.reserve)))
                    let posted = try await client.send("POST", "nodes", body: try JSONEncoder().encode(body))
                    guard (200..<300).contains(posted.status) else { throw AgentError("POST /nodes \(node) answered \(posted.status): \(posted.text)") }
                }
                registeredNodes.insert(node)
            }
            let existing = try await client.send("GET", "instances/\(id)")
            if existing.status == 404 {
                let body = InstanceBody(id: id, tenant: settings.tenant, node: node, allocation: Amounts(allocation(of: instance)),
                                        sla: SLABody(minimum: Amounts(zip(settings.minimum, allocation(of: instance)).map { min($0, $1) }),
                                                     maximum: Amounts(maximum(on: node, at: allocation(of: instance))), weight: settings.weight))
                let posted = try await client.send("POST", "instances", body: try JSONEncoder().encode(body))
                guard (200..<300).contains(posted.status) else {
                    // One the server will not take (no room on the node) leaves its samples to be
                    // rejected as unknown; the others go on.
                    lastProblem = "POST /instances \(id) answered \(posted.status): \(posted.text)"
                    continue
                }
            } else if !(200..<300).contains(existing.status) {
                throw AgentError("GET /instances/\(id) answered \(existing.status): \(existing.text)")
            }
            registered.insert(id)
        }
    }

    private func allocation(of instance: DiscoveredInstance) -> [Double] {
        var out = values(instance.allocation)
        for r in 0..<3 where !out[r].isFinite {
            out[r] = settings.unlimitedAllocation[r]
            if r == 1, let workingSet = readings[instance.id.rawValue]?.workingSet { out[r] = max(out[r], workingSet * 1.25) }
        }
        out[2] = out[2].rounded(.down)
        return out
    }

    private func maximum(on node: String, at allocation: [Double]) -> [Double] {
        guard let node = nodes[node] else { return allocation }
        return (0..<3).map { max(allocation[$0], values(node.allocatable)[$0]) }
    }

    /// Lists the driver's nodes and instances and reads their counters: what `/metrics` shows,
    /// instances that are gone dropped.
    private func read() async throws -> [InstanceID: InstanceSignals] {
        let inventory = try await driver.inventory()
        for node in inventory.nodes { nodes[node.id.rawValue] = node }
        for instance in inventory.instances { found[instance.id.rawValue] = instance }
        let signals = try await driver.signals(of: inventory.instances.map(\.id))
        readings = [:]
        for (id, reading) in signals { readings[id.rawValue] = reading }
        return signals
    }

    /// Batches waiting in the spool.
    public func buffered() -> Int { (try? spool?.pending().count) ?? 0 }

    /// What the agent samples, read afresh (a scrape sees the counters as they are now, not as
    /// they were at the last interval), in Prometheus' text format.
    public func metrics() async -> String {
        do { _ = try await read() } catch { lastProblem = "reading for /metrics: \(error)" }
        var out = PrometheusText()
        let ids = readings.keys.sorted()
        out.family("poolswap_instance_cpu_seconds_total", "counter", "CPU time used, core-seconds.") { f in
            for id in ids { f.sample(["instance_id": id], readings[id]!.cpuSeconds) }
        }
        out.family("poolswap_instance_cpu_throttled_seconds_total", "counter", "Demand the CPU quota did not serve, core-seconds.") { f in
            for id in ids { f.sample(["instance_id": id], readings[id]!.throttledSeconds) }
        }
        out.family("poolswap_instance_memory_working_set_bytes", "gauge", "Memory that cannot be reclaimed without harm.") { f in
            for id in ids { f.sample(["instance_id": id], readings[id]!.workingSet * 1_073_741_824) }
        }
        out.family("poolswap_instance_oom_kills_total", "counter", "Processes the kernel killed for memory.") { f in
            for id in ids { f.sample(["instance_id": id], Double(readings[id]!.oomKills)) }
        }
        out.family("poolswap_instance_cpu_pressure_percent", "gauge", "Share of time some task stalled on CPU over 10 s (PSI), where the kernel reports it.") { f in
            for id in ids { if let p = readings[id]!.cpuPressure { f.sample(["instance_id": id], p) } }
        }
        out.family("poolswap_instance_memory_pressure_percent", "gauge", "Share of time some task stalled on memory over 10 s (PSI), where the kernel reports it.") { f in
            for id in ids { if let p = readings[id]!.memoryPressure { f.sample(["instance_id": id], p) } }
        }
        out.family("poolswap_instance_cpu_limit_cores", "gauge", "CPU allocation in effect (absent: unlimited).") { f in
            for id in ids { if let a = found[id]?.allocation.cpu, a.isFinite { f.sample(["instance_id": id], a) } }
        }
        out.family("poolswap_instance_memory_limit_bytes", "gauge", "Memory allocation in effect (absent: unlimited).") { f in
            for id in ids { if let a = found[id]?.allocation.memory, a.isFinite { f.sample(["instance_id": id], a * 1_073_741_824) } }
        }
        out.family("poolswap_agent_samples_taken_total", "counter", "Samples the agent took.") { $0.sample([:], Double(samplesTaken)) }
        out.family("poolswap_agent_samples_sent_total", "counter", "Samples the server accepted.") { $0.sample([:], Double(samplesSent)) }
        out.family("poolswap_agent_samples_rejected_total", "counter", "Samples the server rejected.") { $0.sample([:], Double(samplesRejected)) }
        out.family("poolswap_agent_send_failures_total", "counter", "Flushes cut short: server unreachable or failing.") { $0.sample([:], Double(sendFailures)) }
        out.family("poolswap_agent_buffered_batches", "gauge", "Batches waiting on disk for the server.") { $0.sample([:], Double(buffered())) }
        return out.text
    }
}
