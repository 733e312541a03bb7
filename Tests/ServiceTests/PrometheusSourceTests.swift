import Foundation
import Testing
@testable import Service

/// Reading Prometheus' answers and the source's settings. The source against a real Prometheus
/// scraping a real agent is `Tests/scripts/prometheus_test.py` (in CI).
@Suite("Prometheus source")
struct PrometheusSourceTests {
    @Test func aMatrixAnswerReadsAsSeriesWithSpecialValues() throws {
        let body = #"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"instance_id":"busy","job":"agent"},"values":[[1700000300,"1.25"],[1700000600.4,"NaN"],[1700000900,"+Inf"]]},{"metric":{"instance_id":"idle"},"values":[[1700000300,"0"]]}]}}"#
        let series = try PrometheusClient.decode(Data(body.utf8), status: 200, query: "q")
        #expect(series.count == 2)
        #expect(series[0].labels == ["instance_id": "busy", "job": "agent"])
        #expect(series[0].points.map(\.time) == [1_700_000_300, 1_700_000_600, 1_700_000_900])
        #expect(series[0].points[0].value == 1.25)
        #expect(series[0].points[1].value.isNaN)
        #expect(series[0].points[2].value == .infinity)
        #expect(series[1].points.map(\.value) == [0])
    }

    @Test func prometheusErrorsAndForeignBodiesAreNamed() {
        let error = #"{"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected <by>"}"#
        #expect { try PrometheusClient.decode(Data(error.utf8), status: 400, query: "sum by") } throws: { error in
            "\(error)".contains("bad_data: 1:5: parse error") && "\(error)".contains("query: sum by")
        }
        #expect { try PrometheusClient.decode(Data("<html>proxy</html>".utf8), status: 502, query: "q") } throws: { error in
            "\(error)".contains("502") && "\(error)".contains("<html>proxy")
        }
        let vector = #"{"status":"success","data":{"resultType":"vector","result":[]}}"#
        #expect { try PrometheusClient.decode(Data(vector.utf8), status: 200, query: "q") } throws: { "\($0)".contains("vector") }
        let word = #"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"lots"]]}]}}"#
        #expect { try PrometheusClient.decode(Data(word.utf8), status: 200, query: "q") } throws: { "\($0)".contains("lots") }
    }

    @Test func partsOfALongRangeJoinPerSeries() {
        typealias S = PrometheusClient.Series
        let a = [S(labels: ["i": "x"], points: [(1, 1), (2, 2)]), S(labels: ["i": "y"], points: [(1, 5)])]
        let b = [S(labels: ["i": "y"], points: [(3, 6)]), S(labels: ["i": "z"], points: [(3, 7)])]
        let joined = PrometheusClient.merge(a, b)
        #expect(joined.map(\.labels) == [["i": "x"], ["i": "y"], ["i": "z"]])
        #expect(joined[1].points.map(\.time) == [1, 3])
    }

    @Test func settingsComeFromAPresetAndAreChecked() throws {
        let file = #"{"demo":false,"prometheus":{"url":"http://prom:9090","queries":"cadvisor","memoryQuery":"my_memory"}}"#
        let path = NSTemporaryDirectory() + "poolswap-prometheus-\(UUID().uuidString).json"
        try Data(file.utf8).write(to: URL(fileURLWithPath: path))
        let configuration = try ServiceConfiguration.load(file: path, environment: [:])
        let prometheus = try #require(configuration.prometheus)
        #expect(prometheus.historyHours == 336, "what the file leaves out keeps its default")
        let resolved = prometheus.resolved
        #expect(resolved.label == "name")
        #expect(resolved.memory == "my_memory")
        #expect(resolved.cpu.contains("container_cpu_usage_seconds_total") && resolved.cpu.contains("container_cpu_cfs_throttled_seconds_total"))
        #expect(resolved.oom?.contains("container_oom_events_total") == true)
        #expect(configuration.roundDelay == 30, "a pulled source waits for the scrape after the boundary")

        var agent = PrometheusSettings(url: "http://prom:9090")
        agent.oomQuery = ""
        #expect(agent.resolved.label == "instance_id")
        #expect(agent.resolved.oom == nil, "an empty OOM query means none")

        for (environment, expected) in [
            (["POOLSWAP_DEMO": "false", "POOLSWAP_PROMETHEUS_URL": "prom:9090"], "http(s) URL"),
            (["POOLSWAP_DEMO": "false", "POOLSWAP_PROMETHEUS_URL": "http://prom:9090", "POOLSWAP_PROMETHEUS_QUERIES": "kubelet"], "agent or cadvisor"),
            (["POOLSWAP_DEMO": "false", "POOLSWAP_DRIVER": "cgroup", "POOLSWAP_PROMETHEUS_URL": "http://prom:9090"], "samples its instances itself"),
            (["POOLSWAP_PROMETHEUS_QUERIES": "agent"], "needs POOLSWAP_PROMETHEUS_URL"),
            (["POOLSWAP_DEMO": "false", "POOLSWAP_ROUND_DELAY_SECONDS": "300"], "less than the interval"),
        ] {
            do { _ = try ServiceConfiguration.load(file: nil, environment: environment); Issue.record("accepted \(environment)") }
            catch { #expect("\(error)".contains(expected), "\(error)") }
        }
        let applying = try ServiceConfiguration.load(file: nil, environment: [
            "POOLSWAP_DEMO": "false", "POOLSWAP_DRIVER": "cgroup", "POOLSWAP_DRIVER_SAMPLES": "false", "POOLSWAP_PROMETHEUS_URL": "http://prom:9090"])
        #expect(!applying.samplesFromDriver && applying.prometheus != nil, "a cgroup driver that only applies takes its usage from Prometheus")
        #expect(applying.roundDelay == 30)
        var cgroup = ServiceConfiguration()
        cgroup.demo = false
        cgroup.driver = "cgroup"
        #expect(cgroup.roundDelay == 0, "a driver that samples itself reads at the boundary")
        cgroup.driver = nil
        #expect(cgroup.roundDelay == 30, "pushed samples get a fifth of the interval, at most 30 s, to come in")
    }
}
