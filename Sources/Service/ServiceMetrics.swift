import Prometheus

/// The service's Prometheus metrics, served at `/metrics` in the text format.
public final class ServiceMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    let rounds: Counter
    let swaps: Counter
    let committed: Counter
    let rolledBack: Counter
    let samplesAccepted: Counter
    let samplesRejected: Counter
    let sourceFailures: Counter
    let instances: Gauge
    let objective: Gauge
    private let steps: [String: DurationHistogram]
    static let stepNames = ["ingest", "forecast", "verify", "formulate_solve", "execute", "predictions"]

    public init() {
        rounds = registry.makeCounter(descriptor: .init(namespace: "poolswap", metricName: "rounds", unitName: "total", helpText: "Control-loop rounds run"))
        swaps = registry.makeCounter(descriptor: .init(namespace: "poolswap", metricName: "swaps", unitName: "total", helpText: "Swaps that took effect"))
        committed = registry.makeCounter(descriptor: .init(namespace: "poolswap", metricName: "swaps_committed", unitName: "total", helpText: "Swaps committed after their verification window"))
        rolledBack = registry.makeCounter(descriptor: .init(namespace: "poolswap", metricName: "swaps_rolled_back", unitName: "total", helpText: "Swaps rolled back automatically at a regression"))
        samplesAccepted = registry.makeCounter(descriptor: .init(namespace: "poolswap", metricName: "samples_accepted", unitName: "total", helpText: "Usage samples stored"))
        samplesRejected = registry.makeCounter(descriptor: .init(namespace: "poolswap", metricName: "samples_rejected", unitName: "total", helpText: "Usage samples refused"))
        sourceFailures = registry.makeCounter(descriptor: .init(namespace: "poolswap", metricName: "source_pull_failures", unitName: "total", helpText: "Pulls from the metrics source (Prometheus) that failed"))
        instances = registry.makeGauge(descriptor: .init(namespace: "poolswap", metricName: "instances", unitName: "", helpText: "Instances in the pool"))
        objective = registry.makeGauge(descriptor: .init(namespace: "poolswap", metricName: "plan_objective", unitName: "", helpText: "Objective of the last round's plan"))
        let buckets: [Duration] = [.microseconds(100), .milliseconds(1), .milliseconds(5), .milliseconds(25), .milliseconds(100), .milliseconds(500), .seconds(2), .seconds(10)]
        var steps: [String: DurationHistogram] = [:]
        for name in Self.stepNames {
            steps[name] = registry.makeDurationHistogram(
                descriptor: .init(namespace: "poolswap", subsystem: "loop", metricName: "step_duration", unitName: "seconds", helpText: "Time of each control-loop step"),
                labels: [("step", name)], buckets: buckets)
        }
        self.steps = steps
    }

    func record(step: String, _ duration: Duration) { steps[step]?.record(duration) }
}
