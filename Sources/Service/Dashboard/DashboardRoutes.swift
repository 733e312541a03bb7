import Foundation
import HTTPTypes
import Hummingbird
import Storage

/// The web dashboard at `/`: pages rendered by the server (HTML with SVG charts, no script),
/// logged in once with a token (`DashboardSession`). A tenant's token sees its own instances
/// and swaps only; the pool and its nodes need a token bound to no tenant.
struct DashboardRoutes {
    let runtime: PoolRuntime
    let store: any PoolStore
    let sessions: DashboardSessions

    func add(to router: Router<PoolRequestContext>) {
        let runtime = runtime, store = store, sessions = sessions
        // Demo pages without a form to fill reload themselves about every round.
        let refresh = runtime.configuration.demo ? max(2, Int(runtime.configuration.demoRoundSeconds.rounded(.up))) : nil
        // Seconds the pool's and nodes' forecasts look ahead (the planning horizon).
        let ahead = Int64(runtime.configuration.horizonSlots * runtime.configuration.interval)

        router.get("/login") { request, _ -> Response in
            Self.html(Self.loginPage(error: request.uri.queryParameters.get("error").map { _ in "That token is not known." }), status: .ok)
        }
        router.post("/login") { request, context -> Response in
            let fields = DashboardSession.form(String(buffer: try await request.body.collect(upTo: 64 << 10)))
            guard DashboardSession.sameSite(origin: request.headers[.origin], fetchSite: request.headers[Self.secFetchSite], host: request.head.authority) else {
                return Self.html(Self.loginPage(error: "A login from another site is refused."), status: .forbidden)
            }
            let token = (fields["token"] ?? "").trimmingCharacters(in: .whitespaces)
            let hash = APIToken.hash(token)
            guard !token.isEmpty, try await store.token(hash: hash) != nil else {
                return Self.html(Self.loginPage(error: "That token is not known."), status: .unauthorized)
            }
            let secure = request.headers[Self.forwardedProto]?.lowercased() == "https"
            return Response(status: .seeOther, headers: [.location: "/", .setCookie: DashboardSession.setCookie(sessions.open(tokenHash: hash), secure: secure)])
        }
        router.post("/logout") { request, context -> Response in
            _ = try await Self.form(request, context)
            if let id = DashboardSession.token(cookieHeader: request.headers[.cookie]) { sessions.close(id) }
            return Response(status: .seeOther, headers: [.location: "/login", .setCookie: DashboardSession.clearCookie])
        }
        router.get("/") { _, context -> Response in
            let principal = try context.require(.read), csrf = context.csrf ?? ""
            if let tenant = principal.tenant {
                let mine = await runtime.allInstances().filter { $0.tenant == tenant }
                var body = #"<p class="muted">Your instances (tenant \#(HTML.escape(tenant))).</p><table id="instances"><tr><th>instance</th><th>cpu</th><th>memory</th><th>gpu</th></tr>"#
                for record in mine.sorted(by: { $0.id < $1.id }) {
                    body += #"<tr><td><a href="/ui/instances/\#(Path.encode(record.id))">\#(HTML.escape(record.id))</a></td><td>\#(HTML.number(record.allocation[0]))</td><td>\#(HTML.number(record.allocation[1]))</td><td>\#(HTML.number(record.allocation[2], 0))</td></tr>"#
                }
                return Self.page("Instances", "Pool", principal, csrf, refresh, body + "</table>")
            }
            let view = await runtime.poolView(), timeline = await runtime.timeline
            return Self.page("Pool", "Pool", principal, csrf, refresh, PoolPage.body(view: view, timeline: timeline, ahead: ahead))
        }
        router.get("/ui/nodes/:id") { _, context -> Response in
            let principal = try context.require(.read), csrf = context.csrf ?? ""
            let id = try Self.id(context)
            guard principal.tenant == nil, let node = await runtime.poolView().nodes.first(where: { $0.id == id }) else {
                return Self.notFound("node \(id) not found", principal, csrf)
            }
            let instances = await runtime.allInstances().filter { $0.node == id }
            let used = await runtime.lastUsed(instances.map(\.id))
            let entries = await runtime.timeline.nodes[id] ?? []
            return Self.page("Node \(id)", "Pool", principal, csrf, refresh, PoolPage.nodeBody(node: node, entries: entries, instances: instances, used: used, ahead: ahead))
        }
        router.get("/ui/instances/:id") { request, context -> Response in
            let principal = try context.require(.read), csrf = context.csrf ?? ""
            let id = try Self.id(context)
            guard let record = await runtime.instance(id), principal.sees(tenant: record.tenant) else {
                return Self.notFound("instance \(id) not found", principal, csrf)
            }
            let days = min(90, max(1, Int(request.uri.queryParameters.get("days") ?? "") ?? 2))
            let now = await runtime.poolTime
            let samples = try await store.samples(instance: id, from: now - Int64(days) * 86_400, to: now + 86_400)
            let prediction = await runtime.prediction(id, horizons: PredictionCache.defaultHorizons(interval: runtime.configuration.interval))
            let swaps = try await store.swapHistory(SwapHistoryQuery(instance: id, limit: 1000))
            let body = InstancePage.body(record: record, samples: samples, prediction: prediction, swaps: swaps, now: now, days: days,
                                         csrf: csrf, mayOperate: principal.may(.operate),
                                         approvable: try await Self.approvable(Array(swaps.prefix(20)), principal, store))
            return Self.page("Instance \(id)", "Pool", principal, csrf, refresh, body)
        }
        router.get("/ui/swaps") { request, context -> Response in
            let principal = try context.require(.read), csrf = context.csrf ?? ""
            let q = request.uri.queryParameters
            func text(_ name: String) -> String? { q.get(name).flatMap { $0.isEmpty ? nil : $0 } }
            // Numbers as GET /swap_history takes them; one it would refuse shows why and no swaps.
            var errors: [String] = []
            func integer(_ name: String) -> Int64? {
                guard let value = text(name) else { return nil }
                guard let number = Int64(value) else { errors.append("\(name): expected an integer, not \"\(value)\""); return nil }
                return number
            }
            var query = SwapHistoryQuery(instance: text("instance"), tenant: text("tenant"), from: integer("from"), to: integer("to"),
                                         before: integer("cursor"), limit: min(1000, max(1, Int(text("limit") ?? "") ?? 100)))
            query.outcome = text("outcome").flatMap(SwapRecord.Outcome.init(rawValue:))
            var swaps: [SwapRecord] = []
            if !errors.isEmpty {
                swaps = []
            } else if let tenant = principal.tenant, let asked = query.tenant, asked != tenant {
                swaps = []  // another tenant's swaps: none, as GET /swap_history answers
            } else {
                if let tenant = principal.tenant { query.tenant = tenant }
                swaps = try await store.swapHistory(query)
            }
            return Self.page("Swaps", "Swaps", principal, csrf, nil,
                             SwapsPage.body(swaps: swaps, query: query, csrf: csrf, mayOperate: principal.may(.operate), notice: text("notice"),
                                            approvable: try await Self.approvable(swaps, principal, store),
                                            error: errors.isEmpty ? nil : errors.joined(separator: "; ")))
        }
        router.get("/ui/plans/:id") { _, context -> Response in
            let principal = try context.require(.read), csrf = context.csrf ?? ""
            let id = try Self.id(context)
            // A tenant sees its own plans, and the loop's (pool-wide) plans that hold one of its swaps.
            guard let record = try await store.plan(id: id), var view = SwapRecords.value(PlanView.self, record.answer),
                  principal.sees(tenant: record.tenant) || (record.tenant == nil && view.swaps.contains { principal.sees(tenant: $0.tenant) }) else {
                return Self.notFound("plan \(id) not found", principal, csrf)
            }
            try await APIRoutes.current(&view, record: record, principal: principal, store: store)
            return Self.page("Plan \(id)", "Swaps", principal, csrf, nil, SwapsPage.plan(view, form: [:], csrf: csrf, wholePool: principal.tenant == nil))
        }
        router.get("/ui/evaluation") { _, context -> Response in
            let principal = try context.require(.read), csrf = context.csrf ?? ""
            return Self.page("Evaluation", "Evaluation", principal, csrf, nil, EvaluationPage.body(file: runtime.configuration.evaluationFile))
        }
        router.post("/ui/plan") { request, context -> Response in
            let fields = try await Self.form(request, context)
            let principal = try context.require(.operate), csrf = context.csrf ?? ""
            var body = SwapRequestBody()
            let ids = (fields["instances"] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            body.instances = ids.isEmpty ? nil : ids
            body.target = fields["target"].flatMap(SwapRequestBody.Target.init(rawValue:))
            body.horizon = fields["horizon"].flatMap { $0.isEmpty ? nil : $0 }
            body.dryRun = fields["dryRun"] != "0"
            do {
                let view = try await APIRoutes.submit(body, principal: principal, runtime: runtime, store: store)
                guard body.dryRun == true else {
                    // Queued: back to the swaps page, so that reloading it does not queue it again.
                    let notice = "plan \(view.id) queued for the next round (\(view.swaps.count) swaps)"
                    return Response(status: .seeOther, headers: [.location: "/ui/swaps?notice=" + (notice.addingPercentEncoding(withAllowedCharacters: Path.unreserved) ?? "")])
                }
                return Self.page("Dry run", "Swaps", principal, csrf, nil,
                                 SwapsPage.plan(view, form: fields, csrf: csrf, wholePool: principal.tenant == nil))
            } catch let failure as APIFailure {
                return Self.page("Plan refused", "Swaps", principal, csrf, nil, #"<p class="error">\#(HTML.escape(failure.description))</p>"#, status: failure.httpError.status)
            }
        }
        router.post("/ui/swaps/:id/approve") { request, context -> Response in
            _ = try await Self.form(request, context)
            let principal = try context.require(.operate)
            let id = try Self.id(context)
            return await Self.afterAction { try await runtime.approve(plan: id, tenant: principal.tenant) }
        }
        router.post("/ui/swaps/:id/rollback") { request, context -> Response in
            let fields = try await Self.form(request, context)
            let principal = try context.require(.operate)
            let id = try Self.id(context)
            let instances = fields["instance"].map { [$0] }
            return await Self.afterAction {
                try await runtime.rollBack(plan: id, instances: instances, reason: "operator: rollback requested from the dashboard", tenant: principal.tenant)
            }
        }
    }

    /// The plans of `swaps`' held ones that `principal` may approve (nil: any, a token of no
    /// tenant): a tenant approves only the plans it made, as `POST /swaps/{id}/approve` allows.
    static func approvable(_ swaps: [SwapRecord], _ principal: Principal, _ store: any PoolStore) async throws -> Set<String>? {
        guard let tenant = principal.tenant else { return nil }
        var mine = Set<String>()
        for plan in Set(swaps.filter { $0.outcome == .held }.map(\.plan)) where try await store.plan(id: plan)?.tenant == tenant {
            mine.insert(plan)
        }
        return mine
    }

    /// The fields of a dashboard form, after its cross-site checks (403 when they fail).
    static func form(_ request: Request, _ context: PoolRequestContext) async throws -> [String: String] {
        let fields = DashboardSession.form(String(buffer: try await request.body.collect(upTo: 1 << 20)))
        guard DashboardSession.allows(fields: fields, csrf: context.csrf, origin: request.headers[.origin],
                                      fetchSite: request.headers[secFetchSite], host: request.head.authority) else {
            throw APIFailure.forbidden("this form did not come from the dashboard's own page (cross-site request refused)").httpError
        }
        return fields
    }

    static let secFetchSite = HTTPField.Name("Sec-Fetch-Site")!, forwardedProto = HTTPField.Name("X-Forwarded-Proto")!

    /// The `id` of the path, percent-decoded (the router hands it over as sent).
    static func id(_ context: PoolRequestContext) throws -> String {
        let raw = try context.parameters.require("id")
        return raw.removingPercentEncoding ?? raw
    }

    /// Back to the swaps page with what an approval or a rollback did.
    static func afterAction(_ action: () async throws -> PlanView) async -> Response {
        let notice: String
        do {
            let view = try await action()
            notice = "plan \(view.id): \(view.status), " + view.swaps.map { "\($0.instance) \($0.state ?? "")" }.joined(separator: ", ")
        } catch {
            notice = "refused: \(error)"
        }
        let query = notice.addingPercentEncoding(withAllowedCharacters: Path.unreserved) ?? ""
        return Response(status: .seeOther, headers: [.location: "/ui/swaps?notice=\(query)"])
    }

    static func page(_ title: String, _ current: String, _ principal: Principal, _ csrf: String, _ refresh: Int?, _ body: String,
                     status: HTTPResponse.Status = .ok) -> Response {
        html(HTML.page(title: title, current: current, principal: principal, csrf: csrf, refresh: refresh, body: body), status: status)
    }

    static func notFound(_ message: String, _ principal: Principal, _ csrf: String) -> Response {
        page("Not found", "", principal, csrf, nil, #"<p class="error">\#(HTML.escape(message))</p>"#, status: .notFound)
    }

    static func html(_ text: String, status: HTTPResponse.Status) -> Response {
        Response(status: status, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                                           .contentSecurityPolicy: Self.policy, Self.contentTypeOptions: "nosniff"],
                 body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// No script, nothing from elsewhere, forms only to this site, never inside a frame.
    static let policy = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    static let contentTypeOptions = HTTPField.Name("X-Content-Type-Options")!

    static func loginPage(error: String?) -> String {
        """
        <!doctype html><html lang="en"><head><meta charset="utf-8"><title>Log in · Poolswap</title><style>\(HTML.style)</style></head>
        <body><header><strong>Poolswap</strong></header><main><h1>Log in</h1>
        \(error.map { #"<p class="error">\#(HTML.escape($0))</p>"# } ?? "")
        <form method="post" action="/login" id="login"><label>API token <input type="password" name="token" size="50" autofocus></label> <button>Log in</button></form>
        <p class="muted">A token comes from <code>poolswap token create --role reader</code> (or operator, admin). It is kept in a cookie only this site can read.</p>
        </main></body></html>
        """
    }
}
