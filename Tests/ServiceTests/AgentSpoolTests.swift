import Foundation
@testable import Service
import Testing

/// The agent's disk buffer: batches kept in order until removed, across a restart, and a write a
/// crash cut short is dropped (it was never counted as kept).
@Suite("Agent spool")
struct AgentSpoolTests {
    @Test func batchesWaitInOrderAcrossARestart() throws {
        let folder = NSTemporaryDirectory() + "poolswap-spool-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var spool = try AgentSpool(directory: folder)
        for k in 0..<12 { try spool.append(Data("batch \(k)".utf8)) }
        try spool.remove(try spool.pending()[0])
        FileManager.default.createFile(atPath: folder + "/0000000000000099.json.tmp", contents: Data("cut short".utf8))
        var reopened = try AgentSpool(directory: folder)
        try reopened.append(Data("batch 12".utf8))
        let names = try reopened.pending()
        #expect(names.count == 12)
        #expect(try names.map { String(decoding: try reopened.read($0), as: UTF8.self) } == (1...12).map { "batch \($0)" })
        #expect(!FileManager.default.fileExists(atPath: folder + "/0000000000000099.json.tmp"))
        try reopened.setAside(names[0], why: "test")
        #expect(try reopened.pending().count == 11)
        #expect(FileManager.default.fileExists(atPath: folder + "/refused/" + names[0]))
        // Emptied and restarted, numbering goes on past what was set aside: no name clashes with it.
        for name in try reopened.pending() { try reopened.remove(name) }
        var again = try AgentSpool(directory: folder)
        try again.append(Data("batch 13".utf8))
        let newest = try again.pending()
        #expect(newest.count == 1 && newest[0] > names[0])
        try again.setAside(newest[0], why: "test")
        #expect(try again.pending().isEmpty)
    }

    @Test func prometheusTextEscapesLabelsAndWritesTypes() {
        var text = PrometheusText()
        text.family("x_total", "counter", "Things.") { f in
            f.sample(["instance": "a\"b\\c"], 2)
            f.sample([:], .infinity)
        }
        #expect(text.text == "# HELP x_total Things.\n# TYPE x_total counter\nx_total{instance=\"a\\\"b\\\\c\"} 2.0\nx_total +Inf\n")
    }
}
