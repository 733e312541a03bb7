import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Storage
import Testing
@testable import Service

/// The dashboard over HTTP in process: the login cookie, its limits, the cross-site checks,
/// tenants, and the pages' numbers. The browser tests (Tests/scripts/dashboard_test.py) load
/// the same pages in Chromium.
@Suite("Dashboard") struct DashboardTests {
    static func cookie(_ session: String) -> HTTPFields { [.cookie: "poolswap_session=\(session)"] }

    static func form(_ fields: [String: String], cookie session: String? = nil, origin: String? = nil, fetchSite: String? = nil) -> (HTTPFields, ByteBuffer) {
        var headers: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
        if let session { headers[.cookie] = "poolswap_session=\(session)" }
        if let origin { headers[.origin] = origin }
        if let fetchSite { headers[DashboardRoutes.secFetchSite] = fetchSite }
        let body = fields.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }.joined(separator: "&")
        return (headers, ByteBuffer(string: body))
    }

    /// Logs in with `token` through the form: the session id of the cookie set.
    static func login(_ client: any TestClientProtocol, _ token: String) async throws -> String {
        let (headers, body) = form(["token": token])
        return try await client.execute(uri: "/login", method: .post, headers: headers, body: body) { response in
            #expect(response.status == .seeOther && response.headers[.location] == "/")
            let cookie = try #require(response.headers[.setCookie])
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "\(cookie)")
            let id = try #require(DashboardSession.token(cookieHeader: String(cookie.split(separator: ";")[0])))
            #expect(id != token && id.count == 64, "the cookie holds a session id, not the token")
            return id
        }
    }

    @Test func theLoginOpensASessionThatOnlyTheDashboardTakesAndLogoutEnds() async throws {
        let harness = try await ServiceHarness()
        let admin = harness.tokens["admin"]!
        try await harness.test { client in
            try await harness.registerPool(client)
            try await client.execute(uri: "/", method: .get) { response in
                #expect(response.status == .seeOther && response.headers[.location] == "/login")
            }
            let (bad, badBody) = Self.form(["token": "nope"])
            try await client.execute(uri: "/login", method: .post, headers: bad, body: badBody) { response in
                #expect(response.status == .unauthorized)
                #expect(String(buffer: response.body).contains("That token is not known."))
            }
            for (origin, site) in [("null", nil), ("http://evil.example", nil), (nil, "cross-site")] as [(String?, String?)] {
                let (foreign, body) = Self.form(["token": admin], origin: origin, fetchSite: site)
                try await client.execute(uri: "/login", method: .post, headers: foreign, body: body) { response in
                    #expect(response.status == .forbidden && response.headers[.setCookie] == nil, "a login posted from \(origin ?? site ?? "")")
                }
            }
            let session = try await Self.login(client, admin)
            try await client.execute(uri: "/", method: .get, headers: Self.cookie(session)) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("text/html") == true)
                #expect(response.headers[.contentSecurityPolicy]?.contains("frame-ancestors 'none'") == true)
            }
            for cookie in [session, admin] {
                try await client.execute(uri: "/pool", method: .get, headers: Self.cookie(cookie)) { response in
                    #expect(response.status == .unauthorized, "the JSON API takes no cookie: no cross-site request reaches it")
                }
            }
            try await client.execute(uri: "/", method: .get, headers: Self.cookie(admin)) { response in
                #expect(response.status == .seeOther && response.headers[.setCookie]?.contains("Max-Age=0") == true, "the token itself is no session")
            }
            let (logout, body) = Self.form(["csrf": DashboardSession.csrf(token: session)], cookie: session)
            try await client.execute(uri: "/logout", method: .post, headers: logout, body: body) { response in
                #expect(response.status == .seeOther && response.headers[.location] == "/login")
            }
            try await client.execute(uri: "/", method: .get, headers: Self.cookie(session)) { response in
                #expect(response.status == .seeOther && response.headers[.location] == "/login", "the session ended with the logout")
            }
        }
    }

    @Test func aFormPostNeedsThePagesTokenAndNoForeignOrigin() async throws {
        let harness = try await ServiceHarness()
        try await harness.test { client in
            try await harness.registerPool(client)
            try await harness.feed(client, rounds: 6)
            let session = try await Self.login(client, harness.tokens["admin"]!)
            let csrf = DashboardSession.csrf(token: session)
            try await client.execute(uri: "/ui/swaps", method: .get, headers: Self.cookie(session)) { response in
                #expect(String(buffer: response.body).contains(#"name="csrf" value="\#(csrf)""#), "the page's forms carry the session's token")
            }
            for (fields, origin, site, expected) in [
                (["dryRun": "1"], nil, nil, HTTPResponse.Status.forbidden),
                (["dryRun": "1", "csrf": (csrf.hasPrefix("0") ? "1" : "0") + csrf.dropFirst()], nil, nil, .forbidden),  // one character off
                (["dryRun": "1", "csrf": csrf], "http://evil.example", nil, .forbidden),
                (["dryRun": "1", "csrf": csrf], "null", nil, .forbidden),
                (["dryRun": "1", "csrf": csrf], nil, "cross-site", .forbidden),
                (["dryRun": "1", "csrf": csrf], nil, "same-site", .forbidden),
                (["dryRun": "1", "csrf": csrf], "http://evil.example", "same-origin", .ok),  // the browser's own word wins
                (["dryRun": "1", "csrf": csrf], nil, nil, .ok),
            ] as [([String: String], String?, String?, HTTPResponse.Status)] {
                let (headers, body) = Self.form(fields, cookie: session, origin: origin, fetchSite: site)
                try await client.execute(uri: "/ui/plan", method: .post, headers: headers, body: body) { response in
                    #expect(response.status == expected, "\(fields.keys.sorted()) from \(origin ?? "no origin"), Sec-Fetch-Site \(site ?? "none")")
                    if expected == .ok { #expect(String(buffer: response.body).contains(#"id="plan-summary""#)) }
                }
            }
            // Queued, the browser is sent on (a reload does not queue it twice) and the plan is stored.
            let (queue, body) = Self.form(["dryRun": "0", "csrf": csrf], cookie: session)
            try await client.execute(uri: "/ui/plan", method: .post, headers: queue, body: body) { response in
                #expect(response.status == .seeOther && response.headers[.location]?.hasPrefix("/ui/swaps?notice=plan") == true)
            }
            #expect(try await harness.store.plans(status: .queued).count == 1)
            let reader = try await Self.login(client, harness.tokens["reader"]!)
            let (headers, readerBody) = Self.form(["dryRun": "1", "csrf": DashboardSession.csrf(token: reader)], cookie: reader)
            try await client.execute(uri: "/ui/plan", method: .post, headers: headers, body: readerBody) { #expect($0.status == .forbidden, "a reader plans nothing") }
        }
    }

    @Test func theDashboardShowsATenantItsOwnOnly() async throws {
        let harness = try await ServiceHarness()
        try await harness.test { client in
            try await harness.registerPool(client)
            try await harness.feed(client, rounds: 3)
            let acme = try await Self.login(client, harness.tokens["acme-reader"]!)
            try await client.execute(uri: "/", method: .get, headers: Self.cookie(acme)) { response in
                let page = String(buffer: response.body)
                #expect(page.contains("/ui/instances/a1") && page.contains("/ui/instances/a2"))
                #expect(!page.contains("/ui/instances/g1") && !page.contains("id=\"nodes\""), "no other tenant's instance, no nodes")
            }
            for uri in ["/ui/instances/g1", "/ui/nodes/n1"] {
                try await client.execute(uri: uri, method: .get, headers: Self.cookie(acme)) { #expect($0.status == .notFound, "\(uri)") }
            }
            try await client.execute(uri: "/ui/instances/a1", method: .get, headers: Self.cookie(acme)) { #expect($0.status == .ok) }
            try await client.execute(uri: "/ui/swaps?tenant=globex", method: .get, headers: Self.cookie(acme)) { response in
                #expect(String(buffer: response.body).contains(#"id="no-swaps""#), "another tenant's swaps: none")
            }
        }
    }

    @Test func anIdOfAnyCharactersIsFoundAndShownEscaped() async throws {
        let harness = try await ServiceHarness()
        let id = #"x"><img src=x onerror=alert(1)> @é:1"#
        try await harness.test { client in
            try await harness.registerPool(client)
            let body = #"{"id":"x\"><img src=x onerror=alert(1)> @é:1","tenant":"<i>t&","node":"n1","allocation":{"cpu":1,"memory":1,"gpu":0},"sla":{"maximum":{"cpu":2,"memory":2,"gpu":0}}}"#
            try await client.execute(uri: "/instances", method: .post, headers: harness.headers("admin"), body: ByteBuffer(string: body)) { #expect($0.status == .created) }
            try await harness.feed(client, rounds: 2)
            let session = try await Self.login(client, harness.tokens["admin"]!)
            let path = "/ui/instances/" + Path.encode(id)
            try await client.execute(uri: path, method: .get, headers: Self.cookie(session)) { response in
                let page = String(buffer: response.body)
                #expect(response.status == .ok, "\(path)")
                #expect(page.contains("Instance x&quot;&gt;&lt;img src=x onerror=alert(1)&gt; @é:1") && page.contains("&lt;i&gt;t&amp;"))
                #expect(!page.contains("<img") && !page.contains("<i>t"), "nothing of the id or tenant is markup")
            }
            try await client.execute(uri: "/ui/nodes/n1", method: .get, headers: Self.cookie(session)) { response in
                let page = String(buffer: response.body)
                #expect(page.contains(#"href="\#(path)""#) && !page.contains("<img"), "the node page links to it, escaped")
            }
        }
    }

    @Test func thePoolPageShowsWhatGetPoolSays() async throws {
        let harness = try await ServiceHarness()
        try await harness.test { client in
            try await harness.registerPool(client)
            try await harness.feed(client, rounds: 12)
            let session = try await Self.login(client, harness.tokens["admin"]!)
            let pool = await harness.service.runtime.poolView()
            try await client.execute(uri: "/", method: .get, headers: Self.cookie(session)) { response in
                let page = String(buffer: response.body)
                #expect(page.contains(#"<span class="allocated">\#(HTML.number(pool.allocated.cpu, 1))</span> / <span class="capacity">\#(HTML.number(pool.capacity.cpu, 1))</span>"#))
                #expect(page.components(separatedBy: #"class="node""#).count - 1 == 2, "a cell per node")
                #expect(page.components(separatedBy: #"data-label="used""#).count - 1 == 2, "used drawn for cpu and memory")
            }
            try await client.execute(uri: "/ui/instances/a1?days=1", method: .get, headers: Self.cookie(session)) { response in
                let page = String(buffer: response.body)
                let parts = page.components(separatedBy: #"id="history""#)
                #expect(parts.count == 2 && parts[0].contains(#"id="closeup""#), "the close-up, then the history")
                for part in parts {
                    for level in [80, 90, 95] { #expect(part.components(separatedBy: #"data-label="\#(level)% interval""#).count - 1 == 2, "\(level)% band") }
                    #expect(part.components(separatedBy: #"data-label="forecast""#).count - 1 == 2, "the forecast for cpu and memory")
                }
                #expect(page.components(separatedBy: #"<td class="model">"#).count - 1 == 6, "3 horizons × cpu and memory")
            }
            // Each node's forecast: its instances' points, which add up to the pool's; drawn on its page.
            for r in 0..<3 {
                let nodes = pool.nodes.reduce(0) { $0 + $1.forecast.values[r] }
                #expect(abs(nodes - pool.forecast.values[r]) <= 1e-9 * max(1, pool.forecast.values[r]), "resource \(r): nodes \(nodes), pool \(pool.forecast.values[r])")
            }
            #expect(pool.forecast.cpu > 0, "a forecast to draw")
            try await client.execute(uri: "/ui/nodes/n1", method: .get, headers: Self.cookie(session)) { response in
                let page = String(buffer: response.body)
                #expect(page.components(separatedBy: #"data-label="forecast""#).count - 1 == 2, "the node's forecast for cpu and memory")
                #expect(!page.contains(#"data-label="shortfall""#), "no pool shortfall on a node")
            }
        }
    }

    @Test func anOperatorQueuesAPlanAndRollsASwapBackThroughTheForms() async throws {
        let harness = try await ServiceHarness()
        try await harness.test { client in
            try await harness.registerPool(client)
            try await harness.feed(client, rounds: 30)
            let session = try await Self.login(client, harness.tokens["operator"]!)
            let csrf = DashboardSession.csrf(token: session)
            let (queue, body) = Self.form(["dryRun": "0", "horizon": "15m", "target": "both", "csrf": csrf], cookie: session)
            try await client.execute(uri: "/ui/plan", method: .post, headers: queue, body: body) { #expect($0.status == .seeOther) }
            try await harness.feed(client, rounds: 1, from: 30)
            let taken = try await harness.store.swapHistory(SwapHistoryQuery())
            let swap = try #require(taken.first { $0.outcome == .verifying }, "the queued plan ran in the next round")
            try await client.execute(uri: "/ui/swaps", method: .get, headers: Self.cookie(session)) { response in
                let page = String(buffer: response.body)
                #expect(page.contains(#"action="/ui/swaps/\#(Path.encode(swap.plan))/rollback""#), "a verifying swap offers its rollback")
            }
            try await client.execute(uri: "/ui/plans/\(Path.encode(swap.plan))", method: .get, headers: Self.cookie(session)) { response in
                let page = String(buffer: response.body)
                #expect(page.contains(#"id="planned""#) && page.contains("/ui/instances/\(Path.encode(swap.instance))"), "the swap's plan: its changes and why")
                #expect(page.contains("demand "), "each change with its demand and binding limit")
            }
            let (rollback, rollbackBody) = Self.form(["instance": swap.instance, "csrf": csrf], cookie: session)
            try await client.execute(uri: "/ui/swaps/\(Path.encode(swap.plan))/rollback", method: .post, headers: rollback, body: rollbackBody) { response in
                #expect(response.status == .seeOther && response.headers[.location]?.hasPrefix("/ui/swaps?notice=") == true)
            }
            let after = try await harness.store.swapHistory(SwapHistoryQuery(instance: swap.instance))
            #expect(after.first { $0.id == swap.id }?.outcome == .rolledBack, "rolled back from the dashboard")
            try await client.execute(uri: "/ui/plans/\(Path.encode(swap.plan))", method: .get, headers: Self.cookie(session)) { response in
                #expect(String(buffer: response.body).contains("rolledBack"), "the plan page shows each swap as its record stands now")
            }
            // A tenant sees the operator's plan for its own swaps in it, and nothing of the others'.
            let acme = try await Self.login(client, harness.tokens["acme-reader"]!)
            let planned = try await harness.store.swapHistory(SwapHistoryQuery(plan: swap.plan))
            try #require(planned.contains { $0.tenant == "acme" }, "the plan changes an acme instance (a2 idles)")
            try await client.execute(uri: "/ui/plans/\(Path.encode(swap.plan))", method: .get, headers: Self.cookie(acme)) { response in
                let page = String(buffer: response.body)
                #expect(response.status == .ok && !page.contains("/ui/instances/g") && !page.contains("objective"), "acme's swaps only, no pool objective")
            }
            #expect(await harness.service.runtime.instance(swap.instance)?.allocation == swap.before, "the allocation it had before")
            // Paging: a full page links to the next by GET /swap_history's cursor.
            let all = try await harness.store.swapHistory(SwapHistoryQuery(limit: 1000))
            try #require(all.count >= 2, "two swaps to page through: \(all.count)")
            let newest = try #require(all[0].id), next = try #require(all[1].id)
            try await client.execute(uri: "/ui/swaps?limit=1", method: .get, headers: Self.cookie(session)) { response in
                #expect(String(buffer: response.body).contains(#"id="older" href="/ui/swaps?limit=1&amp;cursor=\#(newest)""#))
            }
            try await client.execute(uri: "/ui/swaps?limit=1&cursor=\(newest)", method: .get, headers: Self.cookie(session)) { response in
                let page = String(buffer: response.body)
                #expect(page.contains(#"data-swap="\#(next)""#), "the next page starts below the cursor")
                #expect(page.contains(#"id="newest" href="/ui/swaps?limit=1""#), "and links back to the newest")
            }
            try await client.execute(uri: "/ui/swaps?from=yesterday", method: .get, headers: Self.cookie(session)) { response in
                let page = String(buffer: response.body)
                #expect(page.contains(#"from: expected an integer, not &quot;yesterday&quot;"#) && page.contains(#"id="no-swaps""#),
                        "a filter GET /swap_history would refuse says so and shows nothing")
            }
            // A tenant operator's dry run: its own swaps, without the pool's objective.
            let globex = try await Self.login(client, harness.tokens["globex"]!)
            let (dry, dryBody) = Self.form(["dryRun": "1", "horizon": "15m", "target": "both", "csrf": DashboardSession.csrf(token: globex)], cookie: globex)
            try await client.execute(uri: "/ui/plan", method: .post, headers: dry, body: dryBody) { response in
                let page = String(buffer: response.body)
                #expect(response.status == .ok && page.contains(#"id="plan-summary""#), "\(response.status)")
                #expect(!page.contains("objective") && !page.contains("/ui/instances/a"), "globex's dry run: no pool objective, no acme instance")
            }
            // A reader's session sees the page but no buttons, and its posts are refused.
            let reader = try await Self.login(client, harness.tokens["reader"]!)
            try await client.execute(uri: "/ui/swaps", method: .get, headers: Self.cookie(reader)) { response in
                #expect(!String(buffer: response.body).contains("/rollback\""), "no rollback offered to a reader")
            }
        }
    }

    @Test func theAllocationLineIsRebuiltFromTheSwapsInTimeOrder() {
        let record = InstanceRecord(id: "a", tenant: "t", node: "n", allocation: [3, 8, 0], minimum: [0, 0, 0], maximum: [8, 16, 0], weight: 1)
        func swap(_ time: Int64, _ before: Double, _ after: Double, _ outcome: SwapRecord.Outcome, ended: Int64? = nil, restored: Double? = nil) -> SwapRecord {
            SwapRecord(plan: "p", instance: "a", tenant: "t", time: time, fromNode: "n", toNode: "n", before: [before, 8, 0], after: [after, 8, 0],
                       predictedBenefit: 0, utilisationBefore: 0, durationMilliseconds: 0, outcome: outcome, endedAt: ended, restored: restored.map { [$0, 8, 0] })
        }
        // 4 → 2 at 100, rolled back to 4 at 400; 4 → 3 at 500; a rejected swap changes nothing.
        let swaps = [swap(500, 4, 3, .committed), swap(100, 4, 2, .rolledBack, ended: 400, restored: 4), swap(200, 2, 9, .rejected)]
        let line = InstancePage.allocation(record, swaps: swaps, from: 0, to: 1000, resource: 0)
        #expect(line.map(\.0) == [0, 100, 400, 500, 1000] && line.map(\.1) == [4, 2, 4, 3, 3])
        let late = InstancePage.allocation(record, swaps: swaps, from: 450, to: 1000, resource: 0)
        #expect(late.map(\.1) == [4, 3, 3], "the value at the window's start carried from the last change before it")
    }

    /// A tenant approves only the held plans it made (as `POST /swaps/{id}/approve` allows); a
    /// token of no tenant approves any, and nobody approves without the operator role.
    @Test func approveIsOfferedForTheHeldPlansThePrincipalMayApprove() async throws {
        let path = NSTemporaryDirectory() + "poolswap-approve-\(UUID().uuidString).sqlite"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try SQLiteStore(path: path)
        try await store.save(plan: PlanRecord(id: "mine", created: 0, status: .held, tenant: "acme", request: "{}", answer: "{}"))
        try await store.save(plan: PlanRecord(id: "loop", created: 0, status: .held, tenant: nil, request: "{}", answer: "{}"))
        func held(_ plan: String) -> SwapRecord {
            SwapRecord(plan: plan, instance: "a", tenant: "acme", time: 1, fromNode: "n", toNode: "n", before: [1, 1, 0], after: [2, 1, 0],
                       predictedBenefit: 1, utilisationBefore: 0, durationMilliseconds: 0, outcome: .held)
        }
        let swaps = [held("mine"), held("loop")]
        let tenant = Principal(name: "t", role: .operator, tenant: "acme"), pool = Principal(name: "p", role: .operator, tenant: nil)
        let approvable = try await DashboardRoutes.approvable(swaps, tenant, store)
        #expect(approvable == ["mine"])
        #expect(try await DashboardRoutes.approvable(swaps, pool, store) == nil, "a token of no tenant approves any plan")
        let page = SwapsPage.table(swaps, csrf: "c", mayOperate: true, approvable: approvable)
        #expect(page.contains(#"action="/ui/swaps/mine/approve""#) && !page.contains(#"action="/ui/swaps/loop/approve""#))
        #expect(!SwapsPage.table(swaps, csrf: "c", mayOperate: false).contains("/approve"), "no button without the operator role")
    }

    @Test func aLongLineIsDrawnThroughEachColumnsLowestAndHighest() {
        var points: [(Int64, Double)] = []
        for i in 0..<10_000 { points.append((Int64(i), i % 100 == 37 ? 50.0 : Double(i % 7))) }
        let drawn = SVGChart.decimate(points, columns: 100, from: 0, to: 9_999)
        let times: [Int64] = drawn.map { $0.0 }
        #expect(drawn.count <= 200)
        #expect(drawn.filter { $0.1 == 50 }.count == 100, "every spike kept")
        #expect(times == times.sorted(), "in time order")
        #expect(SVGChart.decimate(Array(points.prefix(150)), columns: 100, from: 0, to: 9_999).count == 150, "short lines drawn as they are")
    }

    @Test func textIsEscapedAndFormsDecoded() {
        #expect(HTML.escape(#"<a href="x">'&'</a>"#) == "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;")
        #expect(DashboardSession.form("token=a%2Bb+c&csrf=&x") == ["token": "a+b c", "csrf": "", "x": ""])
        #expect(DashboardSession.token(cookieHeader: "a=1; poolswap_session=abc; b=2") == "abc")
        #expect(HTML.time(1_700_000_000) == "2023-11-14 22:13")
    }
}
