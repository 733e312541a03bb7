import Foundation

/// The latest `simulate` evaluation (its `--json` document, `evaluationFile`): the policy
/// table and the slack/shortfall trade-off, one point per policy and setting.
enum EvaluationPage {
    struct Policy {
        var name: String
        var slack: [Double], shortfall: [Double]   // percent, cpu and memory
        var shortfallIntervals: Int, resizes: Int, migrations: Int, oomKills: Int
        var measured: Bool
    }

    /// The policies of a `simulate --json` document, or why it cannot be read.
    static func policies(_ data: Data) -> Result<(summary: String, policies: [Policy]), EvaluationError> {
        guard let document = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let list = document["policies"] as? [[String: Any]] else {
            return .failure(EvaluationError(message: "not the JSON of `poolswap simulate --json`: no policies"))
        }
        func percent(_ policy: [String: Any], _ key: String, _ resource: String) -> Double {
            ((policy[key] as? [String: Any])?[resource] as? [String: Any])?["percent"] as? Double ?? .nan
        }
        let policies = list.map { p in
            Policy(name: (p["name"] as? String ?? "?") + ((p["setting"] as? String).map { " (\($0))" } ?? ""),
                   slack: ["cpu", "memory"].map { percent(p, "slack", $0) }, shortfall: ["cpu", "memory"].map { percent(p, "shortfall", $0) },
                   shortfallIntervals: p["shortfallIntervals"] as? Int ?? 0, resizes: p["resizes"] as? Int ?? 0,
                   migrations: p["migrations"] as? Int ?? 0, oomKills: p["oomKills"] as? Int ?? 0, measured: p["measuredByDriver"] as? Bool ?? false)
        }
        let summary = "\(document["source"] as? String ?? "trace"): \(document["instances"] as? Int ?? 0) instances on \(document["nodes"] as? Int ?? 0) nodes, \(HTML.number(document["days"] as? Double, 1)) days"
        return .success((summary, policies))
    }

    struct EvaluationError: Error { var message: String }

    static func body(file: String?) -> String {
        guard let file else {
            return #"<p id="no-evaluation">No evaluation yet. Run <code>poolswap simulate --json &gt; evaluation.json</code> (add <code>--policy static,percentile,predictive,oracle --from 2013-08-01</code> to compare Poolswap itself) and give its path as <code>evaluationFile</code> in the service's configuration.</p>"#
        }
        guard let data = FileManager.default.contents(atPath: file) else {
            return #"<p class="error">Cannot read the evaluation file \#(HTML.escape((file as NSString).lastPathComponent)).</p>"#
        }
        switch policies(data) {
        case .failure(let error):
            return #"<p class="error">\#(HTML.escape((file as NSString).lastPathComponent)): \#(HTML.escape(error.message))</p>"#
        case .success(let (summary, policies)):
            var html = #"<p class="muted">\#(HTML.escape(summary)), from \#(HTML.escape((file as NSString).lastPathComponent)).</p>"#
            html += #"<table id="policies"><tr><th>policy</th><th>cpu slack</th><th>memory slack</th><th>cpu shortfall</th><th>memory shortfall</th><th>short intervals</th><th>resizes</th><th>migrations</th><th>OOM kills</th><th>measured by a driver</th></tr>"#
            for p in policies {
                html += "<tr><td class=\"policy\">\(HTML.escape(p.name))</td><td>\(HTML.number(p.slack[0], 1))%</td><td>\(HTML.number(p.slack[1], 1))%</td><td>\(HTML.number(p.shortfall[0], 2))%</td><td>\(HTML.number(p.shortfall[1], 3))%</td><td>\(p.shortfallIntervals)</td><td>\(p.resizes)</td><td>\(p.migrations)</td><td>\(p.oomKills)</td><td>\(p.measured ? "yes" : "no")</td></tr>"
            }
            html += "</table>"
            if !policies.contains(where: { $0.name.hasPrefix("predictive") }) {
                html += #"<p class="muted" id="no-predictive">Poolswap's own policy is not in this evaluation (it trains its networks first: about 8 minutes on 2 cores for the bundled trace): <code>poolswap simulate --policy static,percentile,predictive,oracle --from 2013-08-01 --json &gt; evaluation.json</code>, then <code>"evaluationFile": "evaluation.json"</code>.</p>"#
            }
            html += "<h2>Slack against shortfall</h2><p class=\"muted\">Lower left is better: less capacity held idle, less usage above its allocation.</p>"
            return html + (0..<2).map { tradeoff(policies, resource: $0) }.joined(separator: " ")
        }
    }

    static let palette = ["#9aa3b2", "#2f6fdf", "#e07b00", "#1f9d55", "#8e44ad", "#b42318", "#16a3b8"]

    /// One resource's trade-off: slack % across, shortfall % up, a labelled point per policy.
    static func tradeoff(_ policies: [Policy], resource r: Int) -> String {
        let w = 440.0, h = 300.0, left = 50.0, bottom = 36.0, top = 24.0, right = 16.0
        let xs = policies.map { $0.slack[r] }.filter(\.isFinite), ys = policies.map { $0.shortfall[r] }.filter(\.isFinite)
        let xMax = SVGChart.niceCeiling(max(xs.max() ?? 1, 1e-6)), yMax = SVGChart.niceCeiling(max(ys.max() ?? 1, 1e-6))
        func x(_ v: Double) -> Double { left + v / xMax * (w - left - right) }
        func y(_ v: Double) -> Double { h - bottom - v / yMax * (h - bottom - top) }
        var svg = #"<svg class="tradeoff" width="\#(Int(w))" height="\#(Int(h))" viewBox="0 0 \#(Int(w)) \#(Int(h))" font-family="Liberation Sans, Arial, sans-serif" font-size="11" role="img">"#
        svg += #"<text x="\#(left)" y="14" font-weight="bold">\#(HTML.resources[r])</text>"#
        for i in 0...4 {
            let xv = xMax * Double(i) / 4, yv = yMax * Double(i) / 4
            svg += #"<line x1="\#(x(xv))" x2="\#(x(xv))" y1="\#(top)" y2="\#(h - bottom)" stroke="\#(SVGChart.gridColor)"/><text x="\#(x(xv))" y="\#(h - bottom + 14)" text-anchor="middle" fill="\#(SVGChart.mutedColor)">\#(SVGChart.label(xv))%</text>"#
            svg += #"<line x1="\#(left)" x2="\#(w - right)" y1="\#(y(yv))" y2="\#(y(yv))" stroke="\#(SVGChart.gridColor)"/><text x="\#(left - 6)" y="\#(y(yv) + 4)" text-anchor="end" fill="\#(SVGChart.mutedColor)">\#(SVGChart.label(yv))%</text>"#
        }
        svg += #"<text x="\#((w + left) / 2)" y="\#(h - 4)" text-anchor="middle" fill="\#(SVGChart.mutedColor)">slack (share of allocation held idle)</text>"#
        for (i, p) in policies.enumerated() where p.slack[r].isFinite && p.shortfall[r].isFinite {
            let color = palette[i % palette.count]
            svg += #"<circle class="policy-point" cx="\#(x(p.slack[r]))" cy="\#(y(p.shortfall[r]))" r="5" fill="\#(color)"><title>\#(HTML.escape(p.name)): slack \#(HTML.number(p.slack[r], 1))%, shortfall \#(HTML.number(p.shortfall[r], 3))%</title></circle>"#
            // Near the right edge the label goes to the point's left, so that it is not cut off.
            let leftward = x(p.slack[r]) > w - right - 90
            svg += #"<text x="\#(x(p.slack[r]) + (leftward ? -7 : 7))" y="\#(y(p.shortfall[r]) - 6)" text-anchor="\#(leftward ? "end" : "start")" fill="\#(color)">\#(HTML.escape(p.name))</text>"#
        }
        return svg + "</svg>"
    }
}
