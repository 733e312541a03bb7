import Foundation
import Storage

/// Every swap: filterable like `GET /swap_history`, each with its explanation, risk report and
/// verification, predicted against realised benefit, rollbacks highlighted with their reason;
/// forms to plan a dry run, approve a held swap and roll back a committed one.
enum SwapsPage {
    static func body(swaps: [SwapRecord], query: SwapHistoryQuery, csrf: String, mayOperate: Bool, notice: String?,
                     approvable: Set<String>? = nil, error: String? = nil) -> String {
        var html = notice.map { #"<p class="notice">\#(HTML.escape($0))</p>"# } ?? ""
        html += error.map { #"<p class="error">\#(HTML.escape($0))</p>"# } ?? ""
        html += #"<form method="get" action="/ui/swaps" id="filter">instance <input name="instance" value="\#(HTML.escape(query.instance ?? ""))" size="14"> "#
        html += #"tenant <input name="tenant" value="\#(HTML.escape(query.tenant ?? ""))" size="10"> outcome <select name="outcome"><option value="">any</option>"#
        for outcome in SwapRecord.Outcome.allCases {
            html += #"<option\#(query.outcome == outcome ? " selected" : "")>\#(outcome.rawValue)</option>"#
        }
        html += #"</select> from <input name="from" value="\#(query.from.map(String.init) ?? "")" size="11" placeholder="unix seconds">"#
        html += #" to <input name="to" value="\#(query.to.map(String.init) ?? "")" size="11" placeholder="unix seconds">"#
        html += #" limit <input name="limit" value="\#(query.limit)" size="4"> <button>Filter</button></form>"#
        html += "<h2>History</h2>" + table(swaps, csrf: csrf, mayOperate: mayOperate, approvable: approvable)
        // Pages as GET /swap_history's cursor: the same filters, ids below the last shown.
        func link(cursor: Int64?) -> String {
            let fields: [(String, String?)] = [("instance", query.instance), ("tenant", query.tenant), ("outcome", query.outcome?.rawValue),
                                               ("from", query.from.map(String.init)), ("to", query.to.map(String.init)),
                                               ("limit", String(query.limit)), ("cursor", cursor.map(String.init))]
            return "/ui/swaps?" + fields.compactMap { name, value in value.map { "\(name)=\(Path.encode($0))" } }.joined(separator: "&amp;")
        }
        var pages: [String] = []
        if query.before != nil { pages.append(#"<a id="newest" href="\#(link(cursor: nil))">← Newest swaps</a>"#) }
        if swaps.count == query.limit, let last = swaps.last?.id { pages.append(#"<a id="older" href="\#(link(cursor: last))">Older swaps →</a>"#) }
        if !pages.isEmpty { html += "<p>" + pages.joined(separator: " · ") + "</p>" }
        if mayOperate {
            html += """
            <h2>Plan a swap</h2><form method="post" action="/ui/plan" id="plan">\(HTML.csrfField(csrf))
            instances <input name="instances" placeholder="all, or ids separated by commas" size="30">
            target <select name="target"><option>both</option><option>costReduction</option><option>performance</option></select>
            horizon <select name="horizon"><option>5m</option><option selected>15m</option><option>30m</option></select>
            <input type="hidden" name="dryRun" value="1"><button>Dry run</button></form>
            """
        }
        return html
    }

    /// `approvable`: the plans whose held swaps get an Approve button (nil: every plan; a tenant
    /// approves only the plans it made).
    static func table(_ swaps: [SwapRecord], csrf: String, mayOperate: Bool, approvable: Set<String>? = nil) -> String {
        guard !swaps.isEmpty else { return #"<p id="no-swaps">No swaps.</p>"# }
        var html = #"<table id="swaps"><tr><th>swap</th><th>time</th><th>instance</th><th>tenant</th><th>node</th><th>cpu</th><th>memory</th><th>gpu</th><th>predicted</th><th>realised</th><th>outcome</th><th>reason, risk, verification</th><th></th></tr>"#
        for s in swaps {
            let node = s.fromNode == s.toNode ? HTML.escape(s.fromNode) : "\(HTML.escape(s.fromNode)) → \(HTML.escape(s.toNode))"
            let amounts = (0..<3).map { r in s.before[r] == s.after[r] ? HTML.number(s.after[r]) : "\(HTML.number(s.before[r])) → \(HTML.number(s.after[r]))" }
            var detail = s.reason.map { #"<div class="reason">\#(HTML.escape($0))</div>"# } ?? ""
            if let risk = s.risk { detail += "<details><summary>risk report</summary><pre>\(HTML.escape(pretty(risk)))</pre></details>" }
            if let verification = s.verification { detail += "<details><summary>verification</summary><pre>\(HTML.escape(pretty(verification)))</pre></details>" }
            var actions = ""
            if mayOperate, s.outcome == .held, approvable?.contains(s.plan) ?? true {
                actions = #"<form method="post" action="/ui/swaps/\#(Path.encode(s.plan))/approve" class="inline">\#(HTML.csrfField(csrf))<button title="approves every held swap of plan \#(HTML.escape(s.plan))">Approve plan</button></form>"#
            } else if mayOperate, s.outcome == .committed || s.outcome == .verifying {
                actions = #"<form method="post" action="/ui/swaps/\#(Path.encode(s.plan))/rollback" class="inline">\#(HTML.csrfField(csrf))<input type="hidden" name="instance" value="\#(HTML.escape(s.instance))"><button>Roll back</button></form>"#
            }
            html += #"<tr class="\#(s.outcome.rawValue)" data-swap="\#(s.id ?? 0)"><td><a href="/ui/plans/\#(Path.encode(s.plan))" title="its plan: why, by how much, the binding limit">\#(s.id ?? 0)</a></td><td>\#(HTML.time(s.time))</td><td><a href="/ui/instances/\#(Path.encode(s.instance))">\#(HTML.escape(s.instance))</a></td><td>\#(HTML.escape(s.tenant))</td><td>\#(node)</td><td>\#(amounts[0])</td><td>\#(amounts[1])</td><td>\#(amounts[2])</td><td class="predicted">\#(HTML.number(s.predictedBenefit))</td><td class="realised">\#(HTML.number(s.realisedBenefit))</td><td class="outcome">\#(s.outcome.rawValue)</td><td>\#(detail)</td><td>\#(actions)</td></tr>"#
        }
        return html + "</table>"
    }

    /// A plan as the solver made it: each swap's changes with the limit that bound them, its
    /// benefit and risk; a dry run offers to queue it (`/ui/plans/ID` shows a stored plan).
    /// `wholePool` false (a tenant): the pool-wide objective is not shown.
    static func plan(_ view: PlanView, form: [String: String], csrf: String, wholePool: Bool = true) -> String {
        let objective = wholePool ? "objective \(HTML.number(view.objectiveBefore)) → \(HTML.number(view.objectiveAfter)), solver \(HTML.escape(view.solver))\(view.gap.map { ", gap " + HTML.number($0 * 100, 3) + "%" } ?? ""), " : ""
        var html = #"<p id="plan-summary">Plan \#(HTML.escape(view.id)) (\#(HTML.escape(view.status))): \#(objective)\#(view.swaps.count) swaps.</p>"#
        if !view.swaps.isEmpty {
            html += #"<table id="planned"><tr><th>instance</th><th>node</th><th>change (why: the binding limit)</th><th>benefit</th><th>covered level</th><th>state</th></tr>"#
            for s in view.swaps {
                let changes = s.changes.map { "\($0.resource) \(HTML.number($0.old)) → \(HTML.number($0.new)) (demand \(HTML.number($0.demand)); \(HTML.escape($0.limit)))" }.joined(separator: "<br>")
                let node = s.fromNode == s.toNode ? HTML.escape(s.fromNode) : "\(HTML.escape(s.fromNode)) → \(HTML.escape(s.toNode))"
                html += #"<tr><td><a href="/ui/instances/\#(Path.encode(s.instance))">\#(HTML.escape(s.instance))</a></td><td>\#(node)</td><td>\#(changes)</td><td>\#(HTML.number(s.benefit))</td><td>\#(HTML.percent(s.risk.coveredLevel))</td><td>\#(HTML.escape(s.state ?? ""))\#(s.reason.map { ": " + HTML.escape($0) } ?? "")</td></tr>"#
            }
            html += "</table>"
        }
        if view.status == "dryRun", !view.swaps.isEmpty {
            let kept = ["instances", "target", "horizon"].map { #"<input type="hidden" name="\#($0)" value="\#(HTML.escape(form[$0] ?? ""))">"# }.joined()
            html += #"<form method="post" action="/ui/plan" id="queue">\#(HTML.csrfField(csrf))\#(kept)<input type="hidden" name="dryRun" value="0"><button>Queue this plan for the next round</button></form><p class="muted">Queued, it is planned again from that round's forecasts and passes the risk gates then.</p>"#
        }
        return html
    }

    /// JSON text re-indented for reading.
    static func pretty(_ text: String) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)),
              let data = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]) else { return text }
        return String(decoding: data, as: UTF8.self)
    }
}
