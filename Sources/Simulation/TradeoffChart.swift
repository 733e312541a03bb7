import PoolCore

/// An SVG chart of the slack/shortfall trade-off: per resource, each run of a policy as a
/// point (short instance-intervals %, slack %), the runs of one policy (a sweep of its
/// setting) joined by a line in the order given. Down and to the left is better.
public struct TradeoffChart: Sendable {
    public var results: [SimulationResult]
    public var panelWidth = 420.0
    public var panelHeight = 320.0

    public init(results: [SimulationResult]) {
        self.results = results
    }

    public func svg() -> String {
        let resources = (results.first?.resources ?? []).filter { $0 != .gpu }
        var policies: [String] = []
        for result in results where !policies.contains(result.policy) { policies.append(result.policy) }
        let left = 70.0, top = 70.0, gap = 90.0
        let width = left + Double(resources.count) * (panelWidth + gap)
        let height = top + panelHeight + 60
        var out = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(left)" y="22" font-size="16" font-weight="bold">Slack against short intervals, per policy and setting (lower left is better)</text>

        """
        for (index, policy) in policies.enumerated() {
            let x = left + Double(index) * 130
            out += "<circle cx=\"\(x + 6)\" cy=\"38\" r=\"4\" fill=\"\(colour(index))\"/>"
            out += "<text x=\"\(x + 16)\" y=\"42\">\(SVGText.escape(policy))</text>\n"
        }
        for (column, resource) in resources.enumerated() {
            out += panel(resource, x: left + Double(column) * (panelWidth + gap), y: top, policies: policies)
        }
        out += "</svg>\n"
        return out
    }

    private func panel(_ resource: Resource, x: Double, y: Double, policies: [String]) -> String {
        let points = results.map { (short: $0.shortIntervalPercent(resource), slack: $0.slackPercent(resource)) }
        let highX = SVGText.niceCeiling(points.map(\.short).max() ?? 0), highY = SVGText.niceCeiling(points.map(\.slack).max() ?? 0)
        func px(_ v: Double) -> Double { x + panelWidth * v / highX }
        func py(_ v: Double) -> Double { y + panelHeight - panelHeight * v / highY }
        var out = "<text x=\"\(x)\" y=\"\(y - 10)\" font-weight=\"bold\">\(resource): slack % of allocated against short intervals % of all</text>\n"
        out += "<rect x=\"\(x)\" y=\"\(y)\" width=\"\(panelWidth)\" height=\"\(panelHeight)\" fill=\"none\" stroke=\"#999\"/>\n"
        for tick in 0...4 {
            let vy = highY * Double(tick) / 4, vx = highX * Double(tick) / 4
            out += "<line x1=\"\(x)\" x2=\"\(x + panelWidth)\" y1=\"\(SVGText.number(py(vy)))\" y2=\"\(SVGText.number(py(vy)))\" stroke=\"#eee\"/>"
            out += "<text x=\"\(x - 6)\" y=\"\(SVGText.number(py(vy) + 4))\" text-anchor=\"end\">\(formatAmount(vy))</text>"
            out += "<line x1=\"\(SVGText.number(px(vx)))\" x2=\"\(SVGText.number(px(vx)))\" y1=\"\(y)\" y2=\"\(y + panelHeight)\" stroke=\"#eee\"/>"
            out += "<text x=\"\(SVGText.number(px(vx)))\" y=\"\(y + panelHeight + 16)\" text-anchor=\"middle\">\(formatAmount(vx))</text>\n"
        }
        out += "<text x=\"\(x + panelWidth / 2)\" y=\"\(y + panelHeight + 34)\" text-anchor=\"middle\">short instance-intervals (%)</text>\n"
        for (index, policy) in policies.enumerated() {
            let runs = results.indices.filter { results[$0].policy == policy }
            if runs.count > 1 {
                let path = runs.enumerated().map { ($0 == 0 ? "M" : "L") + SVGText.number(px(points[$1].short)) + "," + SVGText.number(py(points[$1].slack)) }.joined()
                out += "<path d=\"\(path)\" fill=\"none\" stroke=\"\(colour(index))\" stroke-width=\"1.5\"/>\n"
            }
            for run in runs {
                let (cx, cy) = (SVGText.number(px(points[run].short)), SVGText.number(py(points[run].slack)))
                out += "<circle cx=\"\(cx)\" cy=\"\(cy)\" r=\"4\" fill=\"\(colour(index))\"><title>\(SVGText.escape(results[run].name))</title></circle>"
                if let setting = results[run].setting {
                    out += "<text x=\"\(cx)\" y=\"\(SVGText.number(py(points[run].slack) - 7))\" font-size=\"10\" text-anchor=\"middle\">\(SVGText.escape(setting))</text>"
                }
                out += "\n"
            }
        }
        return out
    }

    private func colour(_ index: Int) -> String { SimulationChart.colours[index % SimulationChart.colours.count] }
}
