import Storage

/// One instance: its usage with the 5/15/30-minute forecasts and their 80/90/95% bands drawn
/// after it (close up: the last hours and the minutes ahead; then the history of up to 90 days),
/// the allocation over time (rebuilt from its swaps), the SLA minimum and maximum, the model and
/// its measured coverage, and the swaps that touched it, marked on the timeline (the newest 20
/// listed).
enum InstancePage {
    static let bandColors = ["#e07b00", "#e07b00", "#e07b00"], bandOpacity = [0.35, 0.22, 0.12]

    static func outcomeColor(_ outcome: SwapRecord.Outcome) -> String {
        switch outcome {
        case .committed: "#1f9d55"
        case .verifying: "#8e44ad"
        case .rolledBack, .failedSafe: "#b42318"
        case .held: "#e8c547"
        case .rejected: "#9aa3b2"
        }
    }

    /// The allocation from `from` to `to`, rebuilt from the swaps that took effect: each sets
    /// its `after` at its time, and a rollback what it restored when it ended. Before the first
    /// change the allocation is that swap's `before`; at `to` it is the instance's allocation.
    static func allocation(_ record: InstanceRecord, swaps: [SwapRecord], from: Int64, to: Int64, resource r: Int) -> [(Int64, Double)] {
        let taken = swaps.filter { $0.outcome != .rejected && $0.outcome != .held }
        // (time, 0 for a swap or 1 for a restore, value): at one time a swap, then what undid it.
        var changes = taken.map { ($0.time, 0, $0.after[r]) }
        for swap in taken { if let ended = swap.endedAt, let restored = swap.restored { changes.append((ended, 1, restored[r])) } }
        changes.sort { ($0.0, $0.1) < ($1.0, $1.1) }
        let first = taken.min { $0.time < $1.time }?.before[r] ?? record.allocation[r]
        let atFrom = changes.last { $0.0 <= from }?.2 ?? first
        return [(from, atFrom)] + changes.filter { $0.0 > from && $0.0 < to }.map { ($0.0, $0.2) } + [(to, record.allocation[r])]
    }

    /// Seconds of history the close-up shows before the forecasts.
    static let closeUpHistory: Int64 = 3 * 3_600

    static func body(record: InstanceRecord, samples: [UsageSample], prediction: PredictionView?, swaps: [SwapRecord],
                     now: Int64, days: Int, csrf: String, mayOperate: Bool, approvable: Set<String>? = nil) -> String {
        // From the first sample when the instance is younger than the span asked for.
        let from = max(now - Int64(days) * 86_400, min(samples.first?.time ?? now, swaps.map(\.time).min() ?? now))
        let horizonEnd = prediction?.predictions.map(\.target).max() ?? now
        var html = #"<p class="muted">Tenant \#(HTML.escape(record.tenant)), node <a href="/ui/nodes/\#(Path.encode(record.node))">\#(HTML.escape(record.node))</a>, SLA weight \#(HTML.number(record.weight, 1)).</p>"#
        let gpu = record.allocation[2] > 0 || record.maximum[2] > 0 || prediction?.predictions.first?.gpu != nil
        let resources = 0..<(gpu ? 3 : 2)
        // The forecasts are minutes long: at the scale of days they would be a sliver, so they
        // get their own chart of the last hours and the minutes ahead.
        let closeFrom = max(from, now - closeUpHistory), closeTo = max(now, horizonEnd)
        let recent = samples.drop { $0.time < closeFrom }
        let ahead = prediction?.predictions.last.map { " and the forecasts up to \($0.horizon) ahead" } ?? ""
        html += #"<h2>The last 3 hours\#(ahead)</h2><div id="closeup" class="closeup">"#
        for r in resources {
            html += "<div><h3>\(HTML.resources[r])</h3>"
                + chart(record: record, samples: recent, prediction: prediction, swaps: swaps, from: closeFrom, to: closeTo,
                        resource: r, width: 440)
                + "</div>"
        }
        html += "</div>"
        html += #"<div id="history"><p class="muted">History: "# + [1, 2, 7, 30, 90].map { d in d == days ? "<strong>\(d) d</strong>" : #"<a href="?days=\#(d)">\#(d) d</a>"# }.joined(separator: " · ") + ".</p>"
        html += #"<div class="legend"><span>Swaps, ticks on the time axis:</span>"# + SwapRecord.Outcome.allCases.map {
            #"<span><i style="background:\#(outcomeColor($0))"></i>\#($0.rawValue)</span>"#
        }.joined() + "</div>"
        for r in resources {
            html += "<h2>\(HTML.resources[r])</h2>"
                + chart(record: record, samples: samples, prediction: prediction, swaps: swaps, from: from, to: horizonEnd, resource: r)
        }
        html += "</div>"
        html += "<h2>Forecast</h2>"
        if let prediction {
            html += #"<table id="forecast"><tr><th>horizon</th><th>resource</th><th>point</th><th>80%</th><th>90%</th><th>95%</th><th>model</th><th>coverage 80/90/95 (scored)</th></tr>"#
            for p in prediction.predictions {
                for (name, f) in [("cpu", p.cpu), ("memory", p.memory)] + (p.gpu.map { [("gpu", $0)] } ?? []) {
                    let bands = f.intervals.map { "\(HTML.number($0.lower))–\(HTML.number($0.upper))" }
                    let coverage = ["80", "90", "95"].map { HTML.percent(f.coverage[$0]) }.joined(separator: " / ")
                    html += "<tr><td>\(p.horizon)</td><td>\(name)</td><td>\(HTML.number(f.point))</td><td>\(bands[0])</td><td>\(bands[1])</td><td>\(bands[2])</td><td class=\"model\">\(HTML.escape(f.model))</td><td>\(coverage) (\(f.scored))</td></tr>"
                }
            }
            html += "</table>"
        } else {
            html += "<p>No forecast yet.</p>"
        }
        // The newest 20; the swaps page has them all.
        html += "<h2>Swaps</h2>" + SwapsPage.table(Array(swaps.prefix(20)), csrf: csrf, mayOperate: mayOperate, approvable: approvable)
        if swaps.count > 20 {
            html += #"<p><a href="/ui/swaps?instance=\#(Path.encode(record.id))&amp;limit=1000">All \#(swaps.count) swaps of \#(HTML.escape(record.id))</a></p>"#
        }
        return html
    }

    /// One resource from `from` to `to`: usage, the allocation, the SLA range, the forecasts
    /// with their bands after the last sample, and the swaps in the span as marks.
    static func chart(record: InstanceRecord, samples: some BidirectionalCollection<UsageSample>, prediction: PredictionView?, swaps: [SwapRecord],
                      from: Int64, to: Int64, resource r: Int, width: Int = 900) -> String {
        var chart = SVGChart(unit: HTML.units[r])
        chart.width = width
        chart.span = from...to
        chart.lines.append(.init(label: "used", color: PoolPage.colors.used, points: samples.map { ($0.time, $0.used[r]) }))
        chart.lines.append(.init(label: "allocation", color: PoolPage.colors.allocated,
                                 points: allocation(record, swaps: swaps, from: from, to: to, resource: r), step: true))
        chart.lines.append(.init(label: "SLA minimum", color: "#6b7385", points: [(from, record.minimum[r]), (to, record.minimum[r])], dashed: true))
        chart.lines.append(.init(label: "SLA maximum", color: "#1d2430", points: [(from, record.maximum[r]), (to, record.maximum[r])], dashed: true))
        if let prediction, let last = samples.last {
            let forecasts = prediction.predictions.compactMap { p -> (Int64, ResourcePrediction)? in
                let f = r == 0 ? p.cpu : r == 1 ? p.memory : p.gpu
                return f.map { (p.target, $0) }
            }
            if !forecasts.isEmpty {
                chart.lines.append(.init(label: "forecast", color: PoolPage.colors.forecast,
                                         points: [(last.time, last.used[r])] + forecasts.map { ($0.0, $0.1.point) }, dashed: true))
                for level in (0..<3).reversed() {
                    chart.bands.append(.init(label: "\(Int((forecasts[0].1.intervals[level].level * 100).rounded()))% interval", color: bandColors[level],
                                             opacity: bandOpacity[level],
                                             points: [(last.time, last.used[r], last.used[r])] + forecasts.map { ($0.0, $0.1.intervals[level].lower, $0.1.intervals[level].upper) }))
                }
            }
        }
        chart.marks = swaps.filter { $0.time >= from && $0.time <= to }
            .map { .init(time: $0.time, color: outcomeColor($0.outcome), title: "swap \($0.id ?? 0): \($0.outcome.rawValue)\($0.reason.map { ", " + $0 } ?? "")") }
        return chart.render() + chart.legend()
    }
}
