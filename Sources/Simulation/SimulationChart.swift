import PoolCore

/// An SVG chart of several policies' replays: per resource, slack, shortfall and the pool's
/// allocated share over time, one line per policy, averaged per `bucketSlots` slots.
public struct SimulationChart: Sendable {
    public var results: [SimulationResult]
    /// Trace origin, epoch seconds.
    public var origin: Int64
    /// Slots averaged into one point. Default one hour of 5-minute slots.
    public var bucketSlots = 12
    public var panelWidth = 560.0
    public var panelHeight = 190.0

    public init(results: [SimulationResult], origin: Int64) {
        self.results = results
        self.origin = origin
    }

    static let colours = ["#4e79a7", "#e15759", "#59a14f", "#f28e2b", "#b07aa1", "#76b7b2", "#edc948"]

    private struct Panel {
        var title: String
        var unit: String
        var value: (SimulationResult, Int, Resource) -> Double
    }

    public func svg() -> String {
        let resources = results.first?.resources ?? []
        let panels: [Panel] = [
            Panel(title: "Slack: allocated but unused", unit: "amount") { $0.slackPerSlot[$1][$2] },
            Panel(title: "Shortfall: used beyond the allocation", unit: "amount") { $0.shortfallPerSlot[$1][$2] },
            Panel(title: "Pool allocated", unit: "% of allocatable") { result, slot, resource in
                result.poolAllocatable[resource] > 0 ? 100 * result.allocatedPerSlot[slot][resource] / result.poolAllocatable[resource] : 0
            },
        ]
        let left = 70.0, top = 64.0, gapX = 90.0, gapY = 64.0
        let width = left + Double(resources.count) * (panelWidth + gapX)
        let height = top + Double(panels.count) * (panelHeight + gapY) + 10
        var out = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(left)" y="22" font-size="16" font-weight="bold">Poolswap replay: slack, shortfall and pool allocation per policy (hourly means)</text>

        """
        for (index, result) in results.enumerated() {
            let x = left + Double(index) * 150
            out += "<rect x=\"\(x)\" y=\"34\" width=\"14\" height=\"4\" fill=\"\(Self.colours[index % Self.colours.count])\"/>"
            out += "<text x=\"\(x + 20)\" y=\"40\">\(SVGText.escape(result.name))</text>\n"
        }
        for (column, resource) in resources.enumerated() {
            for (row, panel) in panels.enumerated() {
                let x = left + Double(column) * (panelWidth + gapX)
                let y = top + Double(row) * (panelHeight + gapY)
                let unit = panel.unit == "amount" ? resource.unit : panel.unit
                out += drawPanel(title: "\(resource): \(panel.title) (\(unit))", x: x, y: y, resource: resource, value: panel.value)
            }
        }
        out += "</svg>\n"
        return out
    }

    private func drawPanel(title: String, x: Double, y: Double, resource: Resource, value: (SimulationResult, Int, Resource) -> Double) -> String {
        let series = results.map { bucketed($0, resource: resource, value: value) }
        let slots = results.map(\.slackPerSlot.count).max() ?? 0
        let firstSlot = results.first?.firstSlot ?? 0
        let interval = Int64(results.first?.interval ?? 300)
        let high = SVGText.niceCeiling(series.flatMap { $0 }.max() ?? 0)
        let bucketCount = max(1, (slots + bucketSlots - 1) / bucketSlots)
        func px(_ bucket: Int) -> Double { x + panelWidth * Double(bucket) / Double(max(1, bucketCount - 1)) }
        func py(_ v: Double) -> Double { y + panelHeight - panelHeight * (high > 0 ? v / high : 0) }
        var out = "<text x=\"\(x)\" y=\"\(y - 8)\" font-weight=\"bold\">\(SVGText.escape(title))</text>\n"
        out += "<rect x=\"\(x)\" y=\"\(y)\" width=\"\(panelWidth)\" height=\"\(panelHeight)\" fill=\"none\" stroke=\"#999\"/>\n"
        for tick in 0...4 {
            let v = high * Double(tick) / 4
            out += "<line x1=\"\(x)\" x2=\"\(x + panelWidth)\" y1=\"\(SVGText.number(py(v)))\" y2=\"\(SVGText.number(py(v)))\" stroke=\"#eee\"/>"
            out += "<text x=\"\(x - 6)\" y=\"\(SVGText.number(py(v) + 4))\" text-anchor=\"end\">\(formatAmount(v))</text>\n"
        }
        // Date ticks: about six, on midnight UTC boundaries.
        let startTime = origin + Int64(firstSlot) * interval
        let spanDays = max(1, Int64(slots) * interval / 86_400)
        let stepDays = max(1, Int64((Double(spanDays) / 6).rounded(.up)))
        var day = (startTime + 86_399) / 86_400
        while day * 86_400 <= startTime + Int64(slots) * interval {
            let bucket = Double(day * 86_400 - startTime) / Double(interval) / Double(bucketSlots)
            let tx = x + panelWidth * bucket / Double(max(1, bucketCount - 1))
            out += "<line x1=\"\(SVGText.number(tx))\" x2=\"\(SVGText.number(tx))\" y1=\"\(y + panelHeight)\" y2=\"\(y + panelHeight + 4)\" stroke=\"#999\"/>"
            out += "<text x=\"\(SVGText.number(tx))\" y=\"\(y + panelHeight + 16)\" text-anchor=\"middle\">\(UTCTime.date(day * 86_400))</text>\n"
            day += stepDays
        }
        for (index, points) in series.enumerated() {
            var path = ""
            for (bucket, v) in points.enumerated() {
                path += (bucket == 0 ? "M" : "L") + SVGText.number(px(bucket)) + "," + SVGText.number(py(v))
            }
            out += "<path d=\"\(path)\" fill=\"none\" stroke=\"\(Self.colours[index % Self.colours.count])\" stroke-width=\"1.2\" stroke-opacity=\"0.85\"/>\n"
        }
        return out
    }

    private func bucketed(_ result: SimulationResult, resource: Resource, value: (SimulationResult, Int, Resource) -> Double) -> [Double] {
        let count = result.slackPerSlot.count
        return stride(from: 0, to: count, by: bucketSlots).map { start in
            let end = min(count, start + bucketSlots)
            var sum = 0.0
            for slot in start..<end { sum += value(result, slot, resource) }
            return sum / Double(end - start)
        }
    }
}
