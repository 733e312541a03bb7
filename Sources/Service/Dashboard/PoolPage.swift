import Foundation
import Storage

/// The pool at a glance: per resource, capacity, allocated, used and forecast over time, the
/// allocation freed since the first observed round and the shortfall; the nodes as a grid
/// coloured by headroom. A node's page draws the same for that node and lists its instances.
enum PoolPage {
    static let colors = (capacity: "#9aa3b2", allocated: "#2f6fdf", used: "#1f9d55", forecast: "#e07b00", shortfall: "#b42318")

    /// `ahead`: seconds the forecast looks ahead (the planning horizon); it is drawn at the time it forecasts.
    static func body(view: PoolView, timeline: PoolTimeline, ahead: Int64) -> String {
        var html = #"<p class="muted">Round \#(view.round), pool time \#(HTML.time(view.time)). \#(view.nodes.count) nodes, \#(view.nodes.reduce(0) { $0 + $1.instances }) instances.</p>"#
        html += #"<div class="cards">"#
        let first = timeline.first, last = timeline.pool.last
        for r in 0..<3 where view.capacity.values[r] > 0 || r < 2 {
            let capacity = view.capacity.values[r], allocated = view.allocated.values[r], used = view.used.values[r]
            let slack = allocated - used
            var freed = "–"
            if let first { freed = HTML.number(first.allocated[r] - allocated, 1) }
            html += """
            <div class="card" id="card-\(HTML.resources[r])"><div class="muted">\(HTML.resources[r]) (\(HTML.units[r]))</div>
            <div class="big"><span class="allocated">\(HTML.number(allocated, 1))</span> / <span class="capacity">\(HTML.number(capacity, 1))</span> allocated</div>
            <div>used <span class="used">\(HTML.number(used, 1))</span> · forecast in \(ahead / 60) min <span class="forecast">\(HTML.number(view.forecast.values[r], 1))</span></div>
            <div>slack <span class="slack">\(HTML.number(slack, 1))</span> · allocation freed since the first observed round <span class="freed">\(freed)</span></div>
            <div>shortfall now <span class="shortfall">\(HTML.number(last?.shortfall[r], 2))</span></div></div>
            """
        }
        html += "</div>"
        for r in 0..<3 where view.capacity.values[r] > 0 || r < 2 {
            html += "<h2>\(HTML.resources[r])</h2>" + chart(timeline.pool, resource: r, forecastAhead: ahead, shortfall: true)
        }
        html += "<h2>Nodes</h2>" + nodeGrid(view.nodes)
        return html
    }

    /// One resource of entries over time: capacity, allocated, used, the forecast (drawn `ahead`
    /// seconds after the round that made it), and for the pool the shortfall.
    static func chart(_ entries: [PoolTimeline.Entry], resource r: Int, forecastAhead ahead: Int64, shortfall: Bool) -> String {
        var chart = SVGChart(unit: HTML.units[r])
        chart.lines.append(.init(label: "capacity", color: colors.capacity, points: entries.map { ($0.time, $0.capacity[r]) }, step: true))
        chart.lines.append(.init(label: "allocated", color: colors.allocated, points: entries.map { ($0.time, $0.allocated[r]) }, step: true))
        chart.lines.append(.init(label: "used", color: colors.used, points: entries.map { ($0.time, $0.used[r]) }))
        chart.lines.append(.init(label: "forecast", color: colors.forecast, points: entries.map { ($0.time + ahead, $0.forecast[r]) }, dashed: true))
        if shortfall {
            chart.lines.append(.init(label: "shortfall", color: colors.shortfall, points: entries.map { ($0.time, $0.shortfall[r]) }))
        }
        return chart.render() + chart.legend()
    }

    /// Free share of a node's usable capacity (capacity less reserve) after its allocations:
    /// the least over the resources it has.
    static func headroom(_ node: PoolView.NodeView) -> Double {
        var least = 1.0
        for r in 0..<3 where node.capacity.values[r] > 0 {
            let usable = node.capacity.values[r] - node.reserve.values[r]
            least = min(least, usable > 0 ? (usable - node.allocated.values[r]) / usable : 0)
        }
        return least
    }

    static func color(headroom: Double) -> String {
        headroom < 0.05 ? "#b42318" : headroom < 0.15 ? "#e07b00" : headroom < 0.3 ? "#e8c547" : "#1f9d55"
    }

    static func nodeGrid(_ nodes: [PoolView.NodeView]) -> String {
        var html = #"<div class="legend"><span><i style="background:#b42318"></i>under 5% free</span><span><i style="background:#e07b00"></i>5–15%</span><span><i style="background:#e8c547"></i>15–30%</span><span><i style="background:#1f9d55"></i>30% or more</span></div><div class="grid" id="nodes">"#
        for node in nodes {
            let h = headroom(node)
            let title = "\(node.id): \(HTML.percent(h)) free; cpu \(HTML.number(node.allocated.cpu, 1))/\(HTML.number(node.capacity.cpu, 1)), memory \(HTML.number(node.allocated.memory, 1))/\(HTML.number(node.capacity.memory, 1)) GiB\(node.capacity.gpu > 0 ? ", gpu \(HTML.number(node.allocated.gpu, 0))/\(HTML.number(node.capacity.gpu, 0))" : ""), \(node.instances) instances"
            html += #"<a class="node" data-node="\#(HTML.escape(node.id))" data-headroom="\#(HTML.number(h, 3))" href="/ui/nodes/\#(Path.encode(node.id))" style="background:\#(color(headroom: h))" title="\#(HTML.escape(title))"></a>"#
        }
        return html + "</div>"
    }

    static func nodeBody(node: PoolView.NodeView, entries: [PoolTimeline.Entry], instances: [InstanceRecord], used: [String: [Double]],
                         ahead: Int64) -> String {
        var html = #"<p class="muted">\#(HTML.percent(headroom(node))) free after allocations; \#(node.instances) instances.</p><table id="node-now"><tr><th>resource</th><th>capacity</th><th>allocated</th><th>used</th><th>forecast in \#(ahead / 60) min</th></tr>"#
        for r in 0..<3 where node.capacity.values[r] > 0 {
            html += #"<tr data-resource="\#(HTML.resources[r])"><td>\#(HTML.resources[r])</td><td>\#(HTML.number(node.capacity.values[r], 1))</td><td>\#(HTML.number(node.allocated.values[r], 1))</td><td>\#(HTML.number(node.used.values[r], 1))</td><td class="forecast">\#(HTML.number(node.forecast.values[r], 1))</td></tr>"#
        }
        html += "</table>"
        for r in 0..<3 where node.capacity.values[r] > 0 {
            html += "<h2>\(HTML.resources[r])</h2>" + chart(entries, resource: r, forecastAhead: ahead, shortfall: false)
        }
        html += "<h2>Instances</h2><table id=\"instances\"><tr><th>instance</th><th>tenant</th><th>cpu alloc.</th><th>cpu used</th><th>memory alloc.</th><th>memory used</th><th>gpu</th></tr>"
        for record in instances.sorted(by: { $0.id < $1.id }) {
            let u = used[record.id]
            html += #"<tr><td><a href="/ui/instances/\#(Path.encode(record.id))">\#(HTML.escape(record.id))</a></td><td>\#(HTML.escape(record.tenant))</td><td>\#(HTML.number(record.allocation[0]))</td><td>\#(HTML.number(u?[0]))</td><td>\#(HTML.number(record.allocation[1]))</td><td>\#(HTML.number(u?[1]))</td><td>\#(HTML.number(record.allocation[2], 0))</td></tr>"#
        }
        return html + "</table>"
    }
}

/// Percent-encoding of an id in a path segment.
enum Path {
    /// Unreserved ASCII characters only (RFC 3986); everything else, non-ASCII letters too, encoded.
    static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    static func encode(_ id: String) -> String { id.addingPercentEncoding(withAllowedCharacters: unreserved) ?? id }
}
