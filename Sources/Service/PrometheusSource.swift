import Foundation

/// Prometheus as the pool's metrics source: every round `serve` pulls the slots that ended
/// since the last pull (`query_range`, one point per slot end) and feeds them to the same
/// intake as `POST /usage`. An instance seen for the first time gets `historyHours` of its
/// past as well. A pull that fails leaves the cursor where it was: the next one asks again
/// for everything since, so an outage of Prometheus loses no slot it still holds.
public actor PrometheusSource {
    public let settings: PrometheusSettings
    let client: PrometheusClient
    let interval: Int64
    /// The first slot end not yet pulled for the instances in `covered`.
    private var cursor: Int64?
    private var covered: Set<String> = []
    public private(set) var failures = 0
    /// Slot ends at which an instance had cpu but no memory, or the other way round: no sample.
    public private(set) var incomplete = 0

    public init(settings: PrometheusSettings, interval: Int) throws {
        guard let url = URL(string: settings.url), url.host != nil else { throw ConfigurationError("prometheus.url: not a URL: \(settings.url)") }
        self.settings = settings
        self.client = PrometheusClient(base: url, token: settings.token, timeout: settings.timeoutSeconds)
        self.interval = Int64(interval)
    }

    /// The samples of the slots that ended at `end` (a slot boundary) and before, not yet
    /// pulled, for the instances of `known`, oldest first; each stamped with its slot's start.
    public func pull(known: Set<String>, through end: Int64) async throws -> [UsageSampleBody] {
        let end = end / interval * interval
        let fresh = known.subtracting(covered)
        let history = end - Int64(settings.historyHours) * 3_600 / interval * interval
        var start = cursor ?? end
        if !fresh.isEmpty { start = min(start, history) }
        guard start <= end else { return [] }
        let samples: [UsageSampleBody]
        let from = cursor ?? end
        do {
            samples = try await read(start: start, end: end) { id, slotEnd in
                known.contains(id) && slotEnd >= (fresh.contains(id) ? history : from)
            }
        } catch {
            failures += 1
            throw error
        }
        cursor = end + interval
        covered.formUnion(fresh)
        return samples
    }

    /// The queries evaluated at every slot end from `start` to `end`, joined into samples.
    private func read(start: Int64, end: Int64, keep: (String, Int64) -> Bool) async throws -> [UsageSampleBody] {
        let (cpuQuery, memoryQuery, oomQuery, label) = settings.resolved
        func expand(_ query: String) -> String { query.replacingOccurrences(of: "$interval", with: "\(interval)s") }
        func values(_ series: [PrometheusClient.Series]) -> [String: [Int64: Double]] {
            var out: [String: [Int64: Double]] = [:]
            for s in series {
                guard let id = s.labels[label] else { continue }
                for p in s.points where keep(id, p.time) { out[id, default: [:]][p.time] = p.value }
            }
            return out
        }
        let cpu = values(try await client.queryRange(expand(cpuQuery), start: start, end: end, step: interval))
        let memory = values(try await client.queryRange(expand(memoryQuery), start: start, end: end, step: interval))
        var oom: [String: [Int64: Double]] = [:]
        if let oomQuery { oom = values(try await client.queryRange(expand(oomQuery), start: start, end: end, step: interval)) }
        var samples: [UsageSampleBody] = []
        for id in Set(cpu.keys).union(memory.keys).sorted() {
            let c = cpu[id] ?? [:], m = memory[id] ?? [:]
            for time in Set(c.keys).union(m.keys).sorted() {
                guard let cores = c[time], let bytes = m[time] else { incomplete += 1; continue }
                let kills = oom[id]?[time].map { $0.isFinite && $0 > 0 ? Int($0.rounded()) : 0 } ?? 0
                samples.append(UsageSampleBody(instance: id, time: time - interval, cpu: cores, memory: bytes / 1_073_741_824,
                                               oomKills: oomQuery == nil ? nil : kills))
            }
        }
        return samples
    }
}
