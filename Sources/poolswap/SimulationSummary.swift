import Drivers
import Foundation
import PoolCore
import Simulation

/// The printed outcome of `poolswap simulate`: a table for people, JSON for programs.
struct SimulationSummary {
    var source: String
    var trace: UsageTrace
    var report: TraceLoadReport
    var pool: AllocationLedger
    var shape: PoolShape
    var results: [SimulationResult]
    var readTime: Duration
    var simulateTime: Duration

    private var resources: [Resource] { results.first?.resources ?? [] }
    private var slots: Int { results.first?.slackPerSlot.count ?? 0 }
    private var days: Double { Double(slots * trace.interval) / 86_400 }

    func table() -> String {
        var lines: [String] = []
        lines.append("Poolswap replay of \(source)")
        lines.append("  \(trace.instances.count) instances on \(pool.nodes.count) nodes of \(shape.nodeCapacity) (reserve \(shape.nodeReserve)); "
            + "\(String(format: "%.1f", days)) days in \(slots) slots of \(trace.interval) s")
        var notes = "  read \(report.rows) rows from \(report.files) files: \(report.duplicateTimestampRows) duplicate-timestamp rows dropped, "
            + "\(report.switchedOffRows) switched-off rows as gaps, \(report.mergedSamples) samples merged into an occupied slot"
        if report.skippedRows > 0 { notes += ", \(report.skippedRows) malformed rows skipped" }
        lines.append(notes)
        for example in report.skippedExamples { lines.append("    skipped: \(example)") }
        lines.append("")

        var header = ["policy"]
        for resource in resources {
            header.append("\(resource) slack \(resource.hourUnit)")
            header.append("\(resource) shortfall \(resource.hourUnit)")
        }
        header += ["short intervals", "resizes", "migrations", "changes/inst-day"]
        header += resources.map { "\($0) alloc/used % of pool" }
        var rows = [header]
        for result in results {
            var row = [result.policy]
            for resource in resources {
                row.append("\(number(result.slackHours[resource])) (\(String(format: "%.1f", result.slackPercent(resource)))%)")
                row.append("\(number(result.shortfallHours[resource])) (\(String(format: "%.2f", result.shortfallPercent(resource)))%)")
            }
            row += [String(result.shortfallIntervals), String(result.resizes), String(result.migrations),
                    String(format: "%.3f", result.changesPerInstanceDay)]
            row += resources.map { String(format: "%.1f / %.1f", result.meanAllocatedPercent($0), result.meanUsedPercent($0)) }
            rows.append(row)
        }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        for (index, row) in rows.enumerated() {
            let cells = row.enumerated().map { column, cell in
                column == 0 ? cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[column] - cell.count) + cell
            }
            lines.append(cells.joined(separator: "  "))
            if index == 0 { lines.append(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")) }
        }
        lines.append("")
        lines.append("slack % is of allocated; shortfall % is of used. Read the trace in \(seconds(readTime)) s, replayed in \(seconds(simulateTime)) s.")
        return lines.joined(separator: "\n")
    }

    func json() throws -> String {
        let document = Document(
            source: source,
            instances: trace.instances.count,
            nodes: pool.nodes.count,
            slots: slots,
            intervalSeconds: trace.interval,
            days: days,
            rows: report.rows,
            skippedRows: report.skippedRows,
            readSeconds: Double(seconds(readTime)) ?? 0,
            simulateSeconds: Double(seconds(simulateTime)) ?? 0,
            policies: results.map { result in
                PolicyDocument(
                    name: result.policy,
                    slack: amounts(result.slackHours, percent: result.slackPercent),
                    shortfall: amounts(result.shortfallHours, percent: result.shortfallPercent),
                    shortfallIntervals: result.shortfallIntervals,
                    instanceIntervals: result.instanceIntervals,
                    resizes: result.resizes,
                    migrations: result.migrations,
                    changesPerInstanceDay: result.changesPerInstanceDay,
                    cappedRequests: result.cappedRequests,
                    utilisation: Dictionary(uniqueKeysWithValues: resources.map {
                        ($0.description, Utilisation(allocatedPercent: result.meanAllocatedPercent($0), usedPercent: result.meanUsedPercent($0)))
                    }))
            })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(document), as: UTF8.self)
    }

    private func amounts(_ hours: ResourceVector, percent: (Resource) -> Double) -> [String: Amount] {
        Dictionary(uniqueKeysWithValues: resources.map { ($0.description, Amount(total: hours[$0], percent: percent($0), unit: $0.hourUnit)) })
    }

    private func number(_ value: Double) -> String {
        value >= 100 ? String(format: "%.0f", value) : String(format: "%.2f", value)
    }

    private func seconds(_ duration: Duration) -> String {
        let (whole, attoseconds) = duration.components
        return String(format: "%.2f", Double(whole) + Double(attoseconds) / 1e18)
    }

    struct Document: Encodable {
        var source: String
        var instances: Int
        var nodes: Int
        var slots: Int
        var intervalSeconds: Int
        var days: Double
        var rows: Int
        var skippedRows: Int
        var readSeconds: Double
        var simulateSeconds: Double
        var policies: [PolicyDocument]
    }

    struct PolicyDocument: Encodable {
        var name: String
        var slack: [String: Amount]
        var shortfall: [String: Amount]
        var shortfallIntervals: Int
        var instanceIntervals: Int
        var resizes: Int
        var migrations: Int
        var changesPerInstanceDay: Double
        var cappedRequests: Int
        var utilisation: [String: Utilisation]
    }

    struct Amount: Encodable {
        var total: Double
        var percent: Double
        var unit: String
    }

    struct Utilisation: Encodable {
        var allocatedPercent: Double
        var usedPercent: Double
    }
}
