import Foundation

/// Server-rendered HTML: escaping, number formats and the page frame every dashboard page
/// shares (navigation, one inline style sheet, no script, nothing fetched from elsewhere).
enum HTML {
    /// `text` safe inside an element or a quoted attribute.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// A number with `digits` decimals, "–" for NaN or nil.
    static func number(_ x: Double?, _ digits: Int = 2) -> String {
        guard let x, x.isFinite else { return "–" }
        return String(format: "%.\(digits)f", x)
    }

    static func percent(_ x: Double?) -> String {
        guard let x, x.isFinite else { return "–" }
        return String(format: "%.0f%%", x * 100)
    }

    /// UTC time as `2026-12-06 14:05`.
    static func time(_ t: Int64?) -> String {
        guard let t else { return "–" }
        let days = Int(floor(Double(t) / 86_400)), seconds = Int(t - Int64(days) * 86_400)
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        let z = days + 719_468, era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097, yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1, month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        return String(format: "%04d-%02d-%02d %02d:%02d", year, month, day, seconds / 3600, seconds % 3600 / 60)
    }

    static let resources = ["cpu", "memory", "gpu"]
    static let units = ["cores", "GiB", "devices"]

    /// A whole page: `title`, the navigation with `current` marked, `body`. `refresh` (seconds)
    /// reloads the page, which is how a demo stays live without JavaScript.
    static func page(title: String, current: String, principal: Principal, csrf: String, refresh: Int?, body: String) -> String {
        let links = [("/", "Pool"), ("/ui/swaps", "Swaps"), ("/ui/evaluation", "Evaluation")].map { href, name in
            #"<a href="\#(href)"\#(name == current ? #" class="current""# : "")>\#(name)</a>"#
        }.joined()
        let who = "\(escape(principal.name)) (\(principal.role.rawValue)\(principal.tenant.map { ", tenant " + escape($0) } ?? ""))"
        return """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>\(escape(title)) · Poolswap</title>
        <meta name="viewport" content="width=device-width, initial-scale=1">\(refresh.map { #"<meta http-equiv="refresh" content="\#($0)">"# } ?? "")
        <style>\(style)</style></head>
        <body><header><strong>Poolswap</strong><nav>\(links)</nav><form method="post" action="/logout" class="who">\(who) <input type="hidden" name="csrf" value="\(csrf)"><button>Log out</button></form></header>
        <main><h1>\(escape(title))</h1>
        \(body)
        </main></body></html>
        """
    }

    static let style = """
    body{font-family:"Liberation Sans",Arial,sans-serif;margin:0;color:#1d2430;background:#f6f7f9}
    header{display:flex;gap:24px;align-items:center;padding:10px 24px;background:#1d2430;color:#fff}
    header nav a{color:#cfd6e4;margin-right:16px;text-decoration:none}header nav a.current{color:#fff;border-bottom:2px solid #5aa9e6}
    header .who{margin-left:auto;font-size:13px}main{padding:8px 24px 32px}h1{font-size:22px;margin:12px 0}
    h2{font-size:16px;margin:20px 0 8px}table{border-collapse:collapse;background:#fff;font-size:13px}
    th,td{padding:4px 10px;border-bottom:1px solid #e3e6eb;text-align:right}th:first-child,td:first-child{text-align:left}
    .cards{display:flex;gap:16px;flex-wrap:wrap}.card{background:#fff;border:1px solid #e3e6eb;border-radius:6px;padding:10px 14px}
    .card .big{font-size:22px;font-weight:bold}.muted{color:#6b7385;font-size:12px}
    .grid{display:flex;flex-wrap:wrap;gap:3px;max-width:1200px}.grid a{width:18px;height:18px;display:block;border-radius:2px}
    .legend span{display:inline-block;margin-right:14px;font-size:12px}.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-2px}
    tr.rolledBack td,tr.failedSafe td{background:#fde8e8}tr.held td{background:#fff6dd}.error{color:#b42318}
    form.inline{display:inline}svg{background:#fff;border:1px solid #e3e6eb}
    .closeup{display:flex;gap:16px;flex-wrap:wrap}.closeup>div{max-width:460px}h3{font-size:14px;margin:8px 0 4px}
    """

    /// A hidden field carrying the session's cross-site request token, for every form that posts.
    static func csrfField(_ csrf: String) -> String { #"<input type="hidden" name="csrf" value="\#(csrf)">"# }
}
