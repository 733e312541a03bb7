/// Where `serve` pulls usage from when Prometheus is the metrics source, and how. The queries
/// are PromQL evaluated at the end of each slot; `$interval` in them stands for the slot
/// (`300s`). Each must give one series per instance, labelled `instanceLabel` with the
/// instance's id: cpu in cores (used plus throttled: demand), memory in bytes, OOM kills as a
/// count over the slot.
public struct PrometheusSettings: Codable, Sendable, Equatable {
    /// Base URL of the Prometheus server, e.g. `http://127.0.0.1:9090`.
    public var url: String
    /// The preset the queries not given come from: `agent` (what `poolswap agent` exports) or
    /// `cadvisor` (cAdvisor's container metrics, instances by container `name`).
    public var queries = "agent"
    public var cpuQuery: String?
    public var memoryQuery: String?
    /// OOM kills in the slot; `""` for none (memory is then never bumped above the limit).
    public var oomQuery: String?
    public var instanceLabel: String?
    /// Hours of history pulled for an instance the first time it is seen (at start for those
    /// stored, at its first round for those registered later).
    public var historyHours = 336
    /// Seconds a query may take.
    public var timeoutSeconds = 10.0
    /// Bearer token sent to Prometheus, if it needs one.
    public var token: String?

    public init(url: String) { self.url = url }

    public static let presets = ["agent", "cadvisor"]

    /// The queries and label in effect: the ones given, else the preset's.
    public var resolved: (cpu: String, memory: String, oom: String?, label: String) {
        let preset: (String, String, String, String)
        switch queries {
        case "cadvisor":
            let usage = #"sum by (name) (rate(container_cpu_usage_seconds_total{name!=""}[$interval]))"#
            let throttled = #"sum by (name) (rate(container_cpu_cfs_throttled_seconds_total{name!=""}[$interval]))"#
            preset = ("\(usage) + (\(throttled) or \(usage) * 0)",
                      #"max by (name) (max_over_time(container_memory_working_set_bytes{name!=""}[$interval]))"#,
                      #"sum by (name) (increase(container_oom_events_total{name!=""}[$interval]))"#, "name")
        default:
            preset = ("sum by (instance_id) (rate(poolswap_instance_cpu_seconds_total[$interval]) + rate(poolswap_instance_cpu_throttled_seconds_total[$interval]))",
                      "max by (instance_id) (max_over_time(poolswap_instance_memory_working_set_bytes[$interval]))",
                      "sum by (instance_id) (increase(poolswap_instance_oom_kills_total[$interval]))", "instance_id")
        }
        let oom = oomQuery ?? preset.2
        return (cpuQuery ?? preset.0, memoryQuery ?? preset.1, oom.isEmpty ? nil : oom, instanceLabel ?? preset.3)
    }

    var problem: String? {
        guard Self.presets.contains(queries) else { return "prometheus.queries must be \(Self.presets.joined(separator: " or ")), not \(queries)" }
        guard url.hasPrefix("http://") || url.hasPrefix("https://") else { return "prometheus.url must be an http(s) URL, not \(url)" }
        guard historyHours >= 0, historyHours <= 8760 else { return "prometheus.historyHours must be in 0...8760, not \(historyHours)" }
        guard timeoutSeconds.isFinite, timeoutSeconds > 0 else { return "prometheus.timeoutSeconds must be positive, not \(timeoutSeconds)" }
        if resolved.label.isEmpty { return "prometheus.instanceLabel must not be empty" }
        if resolved.cpu.isEmpty || resolved.memory.isEmpty { return "prometheus.cpuQuery and prometheus.memoryQuery must not be empty" }
        return nil
    }
}

extension PrometheusSettings {
    // A file gives `url` and whatever else it changes.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(url: try c.decode(String.self, forKey: .url))
        queries = try c.decodeIfPresent(String.self, forKey: .queries) ?? queries
        cpuQuery = try c.decodeIfPresent(String.self, forKey: .cpuQuery)
        memoryQuery = try c.decodeIfPresent(String.self, forKey: .memoryQuery)
        oomQuery = try c.decodeIfPresent(String.self, forKey: .oomQuery)
        instanceLabel = try c.decodeIfPresent(String.self, forKey: .instanceLabel)
        historyHours = try c.decodeIfPresent(Int.self, forKey: .historyHours) ?? historyHours
        timeoutSeconds = try c.decodeIfPresent(Double.self, forKey: .timeoutSeconds) ?? timeoutSeconds
        token = try c.decodeIfPresent(String.self, forKey: .token)
    }
}
