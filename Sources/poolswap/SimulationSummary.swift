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
    /// The accounted slots, when not the whole trace.
    var window: Range<Int>? = nil

    private func iso(_ time: Int64) -> String {
        ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(time)))
    }

    private var resources: [Resource] { results.first?.resources ?? [] }
    private var slots: Int { results.first?.slackPerSlot.count ?? 0 }
    private var days: Double { Double(slots * trace.interval) / 86_400 }

    func table() -> String {
        var lines: [String] = []
        lines.append("Poolswap replay of \(source)")
        lines.append("  \(trace.instances.count) instances on \(pool.nodes.count) nodes of \(shape.nodeCapacity) (reserve \(shape.nodeReserve)); "
            + "\(String(format: "%.1f", days)) days in \(slots) slots of \(trace.interval) s"
            + (window.map { " accounted from \(iso(trace.origin + Int64($0.lowerBound * trace.interval))) to \(iso(trace.origin + Int64($0.upperBound * trace.interval)))"
                + ", the trace before as history" } ?? ""))
        var notes = "  read \(report.rows) rows from \(report.files) files: \(report.duplicateTimestampRows) duplicate-timestamp rows dropped, "
            + "\(report.switchedOffRows) switched-off rows as gaps, \(report.mergedSamples) samples merged into an occupied slot"
        if report.zeroCapacityRows > 0 { notes += ", \(report.zeroCapacityRows) zero-capacity rows with their unknown values missing" }
        if report.skippedRows > 0 { notes += ", \(report.skippedRows) malformed rows skipped" }
        lines.append(notes)
        for example in report.skippedExamples { lines.append("    skipped: \(example)") }
        lines.append("")

        var header = ["policy"]
        for resource in resources {
            header.append("\(resource) slack \(resource.hourUnit)")
            header.append("\(resource) shortfall \(resource.hourUnit)")
        }
        header += ["short intervals"] + resources.map { "\($0) short" }
        header += ["throttled core-h", "OOM kills", "resizes", "migrations", "changes/inst-day"]
        header += resources.map { "\($0) alloc/used % of pool" }
        var rows = [header]
        for result in results {
            var row = [result.name]
            for resource in resources {
                row.append("\(number(result.slackHours[resource])) (\(String(format: "%.1f", result.slackPercent(resource)))%)")
                row.append("\(number(result.shortfallHours[resource])) (\(String(format: "%.2f", result.shortfallPercent(resource)))%)")
            }
            row += [String(result.shortfallIntervals)] + resources.map { String(result.shortfallIntervalsByResource[$0.rawValue]) }
            row += [number(result.throttledCoreHours) + (result.measuredByDriver ? "*" : ""),
                    String(result.oomKills) + (result.measuredByDriver ? "*" : ""), String(result.resizes), String(result.migrations),
                    String(format: "%.3f", result.changesPerInstanceDay)]
            row += resources.map { String(format: "%.1f / %.1f", result.meanAllocatedPercent($0), result.meanUsedPercent($0)) }
            rows.append(row)
        }
        lines.append(contentsOf: align(rows, left: 1))
        for result in results { if let networks = result.networks { lines.append("  \(result.name) networks: \(networks)") } }
        lines.append("")
        lines.append(contentsOf: tierTable())
        lines.append("")
        lines.append("slack % is of allocated; shortfall % is of used; * counted by the reactive simulated driver, else the same rule on the replay "
                     + "(cpu above the allocation is throttled, memory above it an OOM kill). Read the trace in \(seconds(readTime)) s, replayed in \(seconds(simulateTime)) s.")
        return lines.joined(separator: "\n")
    }

    /// Per SLA tier: slack % per resource, short intervals (% of the tier's), OOM kills, changes.
    private func tierTable() -> [String] {
        var header = ["policy", "tier", "instances"]
        header += resources.map { "\($0) slack %" }
        header += ["short intervals"] + resources.map { "\($0) short" } + ["OOM kills", "changes/inst-day"]
        var rows = [header]
        let counts = SLATier.allCases.map { tier in pool.instances.filter { SLATier(weight: $0.sla.weight) == tier }.count }
        for result in results {
            for tier in SLATier.allCases where counts[tier.rawValue] > 0 {
                let account = result.tiers[tier.rawValue]
                var row = [result.name, tier.name, String(counts[tier.rawValue])]
                row += resources.map { String(format: "%.1f", account.slackPercent($0)) }
                let share = account.instanceIntervals > 0 ? 100 * Double(account.shortfallIntervals) / Double(account.instanceIntervals) : 0
                row += ["\(account.shortfallIntervals) (\(String(format: "%.2f", share))%)"]
                row += resources.map { String(account.shortfallIntervalsByResource[$0.rawValue]) } + [String(account.oomKills)]
                row += [String(format: "%.3f", account.changesPerInstanceDay)]
                rows.append(row)
            }
        }
        return align(rows, left: 2)
    }

    /// `rows` (the first a header) in columns, the first `left` aligned left, the rest right.
    private func align(_ rows: [[String]], left: Int) -> [String] {
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        var lines: [String] = []
        for (index, row) in rows.enumerated() {
            let cells = row.enumerated().map { column, cell in
                column < left ? cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[column] - cell.count) + cell
            }
            lines.append(cells.joined(separator: "  "))
            if index == 0 { lines.append(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")) }
        }
        return lines
    }

    func json() throws -> String {
        let document = Document(
            source: source,
            instances: trace.instances.count,
            nodes: pool.nodes.count,
            slots: slots,
            intervalSeconds: trace.interval,
            from: window.map { iso(trace.origin + Int64($0.lowerBound * trace.interval)) },
            to: window.map { iso(trace.origin + Int64($0.upperBound * trace.interval)) },
            days: days,
            rows: report.rows,
            skippedRows: report.skippedRows,
            readSeconds: Double(seconds(readTime)) ?? 0,
            simulateSeconds: Double(seconds(simulateTime)) ?? 0,
            policies: results.map { result in
                PolicyDocument(
                    name: result.name,
                    policy: result.policy,
                    setting: result.setting,
                    slack: amounts(result.slackHours, percent: result.slackPercent),
                    shortfall: amounts(result.shortfallHours, percent: result.shortfallPercent),
                    shortfallIntervals: result.shortfallIntervals,
                    shortfallIntervalsByResource: byResource(result.shortfallIntervalsByResource),
                    instanceIntervals: result.instanceIntervals,
                    resizes: result.resizes,
                    migrations: result.migrations,
                    changesPerInstanceDay: result.changesPerInstanceDay,
                    cappedRequests: result.cappedRequests,
                    throttledCoreHours: result.throttledCoreHours,
                    oomKills: result.oomKills,
                    measuredByDriver: result.measuredByDriver,
                    networks: result.networks,
                    tiers: SLATier.allCases.map { tier in
                        let account = result.tiers[tier.rawValue]
                        return TierDocument(tier: tier.name, instanceIntervals: account.instanceIntervals, shortfallIntervals: account.shortfallIntervals,
                                            shortfallIntervalsByResource: byResource(account.shortfallIntervalsByResource),
                                            oomKills: account.oomKills, throttledCoreHours: account.throttledCoreHours,
                                            resizes: account.resizes, migrations: account.migrations,
                                            changesPerInstanceDay: account.changesPerInstanceDay,
                                            slack: amounts(account.slackHours, percent: account.slackPercent),
                                            shortfall: amounts(account.shortfallHours, percent: account.shortfallPercent))
                    },
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

    private func byResource(_ counts: [Int]) -> [String: Int] {
        Dictionary(uniqueKeysWithValues: resources.map { ($0.description, counts[$0.rawValue]) })
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
        var from: String?
        var to: String?
        var days: Double
        var rows: Int
        var skippedRows: Int
        var readSeconds: Double
        var simulateSeconds: Double
        var policies: [PolicyDocument]
    }

    struct PolicyDocument: Encodable {
        var name: String
        var policy: String
        var setting: String?
        var slack: [String: Amount]
        var shortfall: [String: Amount]
        var shortfallIntervals: Int
        var shortfallIntervalsByResource: [String: Int]
        var instanceIntervals: Int
        var resizes: Int
        var migrations: Int
        var changesPerInstanceDay: Double
        var cappedRequests: Int
        var throttledCoreHours: Double
        var oomKills: Int
        var measuredByDriver: Bool
        var networks: String?
        var tiers: [TierDocument]
        var utilisation: [String: Utilisation]
    }

    struct TierDocument: Encodable {
        var tier: String
        var instanceIntervals: Int
        var shortfallIntervals: Int
        var shortfallIntervalsByResource: [String: Int]
        var oomKills: Int
        var throttledCoreHours: Double
        var resizes: Int
        var migrations: Int
        var changesPerInstanceDay: Double
        var slack: [String: Amount]
        var shortfall: [String: Amount]
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
