import Foundation

/// A time chart drawn as SVG by the server: lines, steps, shaded bands between two lines, and
/// vertical marks, on a time axis and a value axis from 0. A line of more points than the
/// chart has pixel columns is drawn through each column's lowest and highest value, so 90
/// days of samples cost the same to draw as a day's.
struct SVGChart {
    struct Line { var label: String; var color: String; var points: [(Int64, Double)]; var dashed = false; var step = false }
    struct Band { var label: String; var color: String; var opacity: Double; var points: [(t: Int64, lower: Double, upper: Double)] }
    struct Mark { var time: Int64; var color: String; var title: String }

    var width = 900, height = 260
    var unit = ""
    var lines: [Line] = []
    var bands: [Band] = []
    var marks: [Mark] = []
    /// The time span shown; the data's when nil.
    var span: ClosedRange<Int64>?

    static let gridColor = "#e3e6eb", mutedColor = "#6b7385"
    private let left = 56.0, right = 12.0, top = 10.0, bottom = 24.0

    func render() -> String {
        let times = lines.flatMap { $0.points.map(\.0) } + bands.flatMap { $0.points.map(\.t) }
        guard let t0 = span?.lowerBound ?? times.min(), let t1 = span?.upperBound ?? times.max() else {
            return #"<svg width="\#(width)" height="\#(height)" role="img"><text x="20" y="30" font-size="13">no data yet</text></svg>"#
        }
        let values = lines.flatMap { $0.points.map(\.1) } + bands.flatMap { $0.points.map(\.upper) }
        let top = Self.niceCeiling(max(values.filter(\.isFinite).max() ?? 1, 1e-9))
        let plotW = Double(width) - left - right, plotH = Double(height) - self.top - bottom
        let dt = Double(max(t1 - t0, 1))
        func x(_ t: Int64) -> Double { left + Double(t - t0) / dt * plotW }
        func y(_ v: Double) -> Double { self.top + plotH * (1 - min(max(v, 0), top) / top) }
        var svg = #"<svg xmlns="http://www.w3.org/2000/svg" width="\#(width)" height="\#(height)" viewBox="0 0 \#(width) \#(height)" font-family="Liberation Sans, Arial, sans-serif" font-size="11" role="img">"#
        // Value grid and labels.
        for i in 0...4 {
            let v = top * Double(i) / 4, yy = y(v)
            svg += #"<line x1="\#(f(left))" x2="\#(f(left + plotW))" y1="\#(f(yy))" y2="\#(f(yy))" stroke="\#(Self.gridColor)"/>"#
            svg += #"<text x="\#(f(left - 6))" y="\#(f(yy + 4))" text-anchor="end" fill="\#(Self.mutedColor)">\#(Self.label(v))</text>"#
        }
        if !unit.isEmpty { svg += #"<text x="4" y="\#(f(self.top + 8))" fill="\#(Self.mutedColor)">\#(HTML.escape(unit))</text>"# }
        // Time labels at equal steps: five, or three on a narrow chart (a label is 90 pixels wide).
        let steps = plotW >= 600 ? 4 : 2
        for i in 0...steps {
            let t = t0 + Int64(Double(t1 - t0) * Double(i) / Double(steps))
            let anchor = i == 0 ? "start" : i == steps ? "end" : "middle"
            svg += #"<text x="\#(f(x(t)))" y="\#(height - 6)" text-anchor="\#(anchor)" fill="\#(Self.mutedColor)">\#(HTML.time(t))</text>"#
        }
        for band in bands where !band.points.isEmpty {
            let upper = band.points.map { "\(f(x($0.t))),\(f(y($0.upper)))" }
            let lower = band.points.reversed().map { "\(f(x($0.t))),\(f(y($0.lower)))" }
            svg += #"<polygon class="band" data-label="\#(HTML.escape(band.label))" points="\#((upper + lower).joined(separator: " "))" fill="\#(band.color)" fill-opacity="\#(band.opacity)"><title>\#(HTML.escape(band.label))</title></polygon>"#
        }
        for line in lines where !line.points.isEmpty {
            let points = Self.decimate(line.points, columns: Int(plotW), from: t0, to: t1)
            var path: [String] = []
            for (i, p) in points.enumerated() where p.1.isFinite {
                if line.step, i > 0, points[i - 1].1.isFinite { path.append("\(f(x(p.0))),\(f(y(points[i - 1].1)))") }
                path.append("\(f(x(p.0))),\(f(y(p.1)))")
            }
            svg += #"<polyline class="line" data-label="\#(HTML.escape(line.label))" points="\#(path.joined(separator: " "))" fill="none" stroke="\#(line.color)" stroke-width="1.6"\#(line.dashed ? #" stroke-dasharray="5 3""# : "")><title>\#(HTML.escape(line.label))</title></polyline>"#
        }
        // Marks: a tick below the time axis' top, so that many of them leave the lines readable.
        for mark in marks where (t0...t1).contains(mark.time) {
            svg += #"<line class="mark" x1="\#(f(x(mark.time)))" x2="\#(f(x(mark.time)))" y1="\#(f(self.top + plotH - 10))" y2="\#(f(self.top + plotH + 4))" stroke="\#(mark.color)" stroke-width="2"><title>\#(HTML.escape(mark.title))</title></line>"#
        }
        return svg + "</svg>"
    }

    /// The legend of the chart's lines and bands, as HTML.
    func legend() -> String {
        let items = lines.map { #"<span><i style="background:\#($0.color)"></i>\#(HTML.escape($0.label))</span>"# }
            + bands.map { #"<span><i style="background:\#($0.color);opacity:\#($0.opacity + 0.2)"></i>\#(HTML.escape($0.label))</span>"# }
        return #"<div class="legend">\#(items.joined())</div>"#
    }

    /// At most two points a pixel column (its lowest and highest, in time order) when a line has
    /// more points than columns; points outside `t0...t1` dropped.
    static func decimate(_ points: [(Int64, Double)], columns: Int, from t0: Int64, to t1: Int64) -> [(Int64, Double)] {
        let inside = points.filter { (t0...t1).contains($0.0) }
        guard inside.count > 2 * columns, columns > 0 else { return inside }
        var out: [(Int64, Double)] = []
        out.reserveCapacity(2 * columns)
        let width = Double(max(t1 - t0, 1)) / Double(columns)
        func column(_ t: Int64) -> Int { min(columns - 1, Int(Double(t - t0) / width)) }
        var i = 0
        while i < inside.count {
            let current = column(inside[i].0)
            var low = inside[i], high = inside[i]
            var j = i
            while j < inside.count, column(inside[j].0) == current {
                if inside[j].1 < low.1 || !low.1.isFinite { low = inside[j] }
                if inside[j].1 > high.1 || !high.1.isFinite { high = inside[j] }
                j += 1
            }
            if low.0 <= high.0 { out.append(low); if high.0 != low.0 { out.append(high) } } else { out.append(high); out.append(low) }
            i = j
        }
        return out
    }

    /// 1, 2, 2.5 or 5 times a power of ten, at least `x`.
    static func niceCeiling(_ x: Double) -> Double {
        let p = pow(10, floor(log10(x)))
        return [1, 2, 2.5, 5, 10].map { $0 * p }.first { $0 >= x * (1 - 1e-12) } ?? 10 * p
    }

    static func label(_ v: Double) -> String {
        v == v.rounded() ? String(Int(v)) : (v * 10).rounded() == v * 10 ? String(format: "%.1f", v) : String(format: "%.2f", v)
    }

    private func f(_ v: Double) -> String { String(format: "%.1f", v) }
}
