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
    private var historyTries = 0

    public init(settings: PrometheusSettings, interval: Int) throws {
        guard let url = URL(string: settings.url), url.host != nil else { throw ConfigurationError("prometheus.url: not a URL: \(settings.url)") }
        self.settings = settings
        self.client = PrometheusClient(base: url, token: settings.token, timeout: settings.timeoutSeconds)
        self.interval = Int64(interval)
    }

    /// What a pull got; `commit` it once its samples are stored.
    public struct Pulled: Sendable {
        public var samples: [UsageSampleBody]
        /// What went wrong with the history of new instances, the live slots pulled all the same.
        public var problem: String?
        let end: Int64
        let covered: Set<String>
    }

    /// The samples of the slots that ended at `end` (a slot boundary) and before, not yet
    /// pulled, for the instances of `known`, oldest first; each stamped with its slot's start.
    /// The history of instances seen for the first time is asked apart: when it fails the live
    /// slots come all the same, and after three failed tries it is given up.
    public func pull(known: Set<String>, through end: Int64) async throws -> Pulled {
        let end = end / interval * interval
        let fresh = known.subtracting(covered)
        var samples: [UsageSampleBody] = []
        var newlyCovered: Set<String> = []
        var live = covered.intersection(known)
        var problem: String?
        if !fresh.isEmpty {
            let history = end - Int64(settings.historyHours) * 3_600 / interval * interval
            do {
                samples = try await read(start: history, end: end) { id, _ in fresh.contains(id) }
                newlyCovered = fresh
                historyTries = 0
            } catch {
                historyTries += 1
                problem = "the history of \(fresh.count) new instances not pulled (try \(historyTries) of 3): \(error)"
                if historyTries >= 3 {
                    problem! += "; given up: they are pulled from now on"
                    live.formUnion(fresh)
                    newlyCovered = fresh
                    historyTries = 0
                }
            }
        }
        let from = cursor ?? end
        if !live.isEmpty {
            samples += try await read(start: from, end: end) { id, slotEnd in live.contains(id) && slotEnd >= from }
        }
        return Pulled(samples: samples, problem: problem, end: end, covered: newlyCovered)
    }

    /// Marks what `pulled` got as pulled: call once its samples are stored, so that a pull whose
    /// samples could not be kept is asked again.
    public func commit(_ pulled: Pulled) {
        cursor = max(cursor ?? .min, pulled.end + interval)
        covered.formUnion(pulled.covered)
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
                // A slot end with cpu but no memory, or the other way round, gives no sample.
                guard let cores = c[time], let bytes = m[time] else { continue }
                let kills = oom[id]?[time].map { $0.isFinite && $0 > 0 ? Int($0.rounded()) : 0 } ?? 0
                samples.append(UsageSampleBody(instance: id, time: time - interval, cpu: cores, memory: bytes / 1_073_741_824,
                                               oomKills: oomQuery == nil ? nil : kills))
            }
        }
        return samples
    }
}
