#!/usr/bin/env python3
"""The dashboard in a real browser: headless Chromium (Debian's `chromium`, driven over the
DevTools protocol by cdp.py) against `poolswap serve` in demo mode (the simulated pool replaying
the bundled trace). Logs in through the form, loads every page, checks the DOM for the expected
elements and numbers (against the JSON API's answers), and saves screenshots. Checks:

1. Without the cookie a page sends the browser to /login; an unknown token is refused there; the
   cookie set is HttpOnly and SameSite=Strict and is not accepted by the JSON API.
2. Pool page: one card per resource whose allocated and capacity equal GET /pool's at the same
   round; one grid cell per node; the charts have the capacity, allocated and used lines; the
   page reloads itself in demo mode. A node's page: its charts with the forecast, and one row
   per instance GET /pool counts on it.
3. Instance page: the close-up of the last hours and the minutes ahead with the forecast and
   its 80/90/95% bands, the usage line, one forecast row per horizon and resource with GET
   /prediction's model, and one timeline mark per swap of the instance in the history charts.
4. Swaps page: one row per swap of GET /swap_history (same outcomes), and the next page by its
   cursor; a dry run through the form shows the plan; a post without the form's token or from
   another origin is refused (403).
5. Evaluation page: the policies of the `simulate --json` file it is given, a point each in the
   cpu and memory trade-off charts.
6. A tenant's token sees its own instances only: another tenant's instance and the nodes are 404.

usage: Tests/scripts/dashboard_test.py [path/to/poolswap] [screenshot dir]
"""
import html, html.parser, json, os, re, shutil, sqlite3, subprocess, sys, tempfile, time, urllib.error, urllib.parse, urllib.request
import live_helpers
from cdp import Browser, CDPError


class Reloading(Browser):
    """Demo pages reload themselves about every round: a read that meets the reload is tried again."""
    def html(self):
        return self._again(super().html)

    def screenshot(self, path, full_page=False):
        return self._again(lambda: super(Reloading, self).screenshot(path, full_page))

    def _again(self, read):
        for attempt in range(5):
            try:
                return read()
            except CDPError:
                if attempt == 4:
                    raise
                time.sleep(0.3)

BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".build/debug/poolswap")
SHOTS = os.path.abspath(sys.argv[2]) if len(sys.argv) > 2 else tempfile.mkdtemp(prefix="poolswap-shots-")
os.makedirs(SHOTS, exist_ok=True)
PORT = 18540
BASE = f"http://127.0.0.1:{PORT}"
work = tempfile.mkdtemp(prefix="poolswap-dashboard-")
db = os.path.join(work, "pool.sqlite")
checked = 0


def fail(message):
    print("FAILED:", message)
    try:
        print("--- server log\n" + open(os.path.join(work, "serve.log")).read()[-3000:])
    except OSError:
        pass
    sys.exit(1)


def check(condition, message):
    global checked
    if not condition:
        fail(message)
    checked += 1


def api(path, token):
    status, text = live_helpers.http("GET", BASE + path, token=token)
    check(status == 200, f"GET {path}: {status} {text[:200]}")
    return json.loads(text)


def token(role, tenant=None):
    args = [BIN, "token", "create", "--role", role, "--database", db] + (["--tenant", tenant] if tenant else [])
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()


def count(pattern, text):
    return len(re.findall(pattern, text))


def charts(page):
    """The instance page's charts: one per resource."""
    return count(r"<h2>(cpu|memory|gpu)</h2><svg", page)


def post_form(path, fields, cookie, origin=None):
    data = urllib.parse.urlencode(fields).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": f"poolswap_session={cookie}"}
    if origin:
        headers["Origin"] = origin
    request = urllib.request.Request(BASE + path, data=data, headers=headers, method="POST")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args):
            return None
    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


config = os.path.join(work, "config.json")
evaluation = os.path.join(work, "evaluation.json")
if os.environ.get("DASHBOARD_EVALUATION"):
    # For the screenshots in docs/: an evaluation with the predictive policy (minutes to make).
    shutil.copy(os.environ["DASHBOARD_EVALUATION"], evaluation)
else:
    with open(evaluation, "w") as out:
        subprocess.run([BIN, "simulate", "--json"], check=True, stdout=out, stderr=subprocess.DEVNULL)
# For the screenshots in docs/: DASHBOARD_ROUNDS=300 DASHBOARD_ROUND_SECONDS=0.3 runs 300 rounds first.
rounds_first = int(os.environ.get("DASHBOARD_ROUNDS", "0"))
json.dump({"demo": True, "demoRoundSeconds": float(os.environ.get("DASHBOARD_ROUND_SECONDS", "1.5")), "port": PORT, "database": db,
           "evaluationFile": evaluation}, open(config, "w"))
server = subprocess.Popen([BIN, "serve", "--config", config], stdout=open(os.path.join(work, "serve.log"), "w"), stderr=subprocess.STDOUT)
try:
    live_helpers.wait_for("the server answers /healthz", lambda: live_helpers.http("GET", BASE + "/healthz")[0] == 200, 120, fail)
    admin = token("admin")
    live_helpers.wait_for("a swap in the history", lambda: len(api("/swap_history?limit=5", admin)["swaps"]) > 0, 240, fail)
    live_helpers.wait_for(f"{rounds_first} rounds", lambda: api("/pool", admin)["round"] >= rounds_first, 30 + rounds_first, fail)
    instances = api("/instances", admin)["instances"]
    tenants = sorted({i["tenant"] for i in instances})
    check(len(tenants) >= 2, f"the demo pool has several tenants: {tenants}")

    with Reloading(width=1280, height=900, timeout=30) as browser:
        # 1. Login.
        check(browser.goto(BASE + "/").endswith("/login"), "a page without the cookie sends the browser to /login")
        browser.fill_and_submit({"token": "not-a-token"}, "#login")
        check("That token is not known." in browser.html(), "an unknown token is refused")
        check(browser.fill_and_submit({"token": admin}, "#login").rstrip("/") == BASE, "a known token logs in and lands on /")
        cookie = next((c for c in browser.cookies() if c["name"] == "poolswap_session"), None)
        check(cookie and cookie["httpOnly"] and cookie["sameSite"] == "Strict", f"the session cookie is HttpOnly and SameSite=Strict: {cookie}")
        session = cookie["value"]
        check(session != admin, "the cookie holds a session id, not the token")
        try:
            status = urllib.request.urlopen(urllib.request.Request(BASE + "/pool", headers={"Cookie": f"poolswap_session={session}"}), timeout=10).status
        except urllib.error.HTTPError as error:
            status = error.code
        check(status == 401, "the JSON API does not take the cookie")
        pages = []

        # 2. Pool page, read at the same round as GET /pool.
        # A round (or a swap within one) may fall between the page and the API's answer: read
        # both until they show the same round and amounts.
        def cards(page):
            found = {}
            for resource in ("cpu", "memory"):
                card = re.search(rf'id="card-{resource}".*?class="allocated">([\d.]+)</span> / <span class="capacity">([\d.]+)<', page, re.S)
                found[resource] = (float(card.group(1)), float(card.group(2))) if card else None
            return found
        for attempt in range(30):
            page = browser.html()
            pool = api("/pool", admin)
            shown, found = re.search(r"Round (\d+),", page), cards(page)
            if shown and int(shown.group(1)) == pool["round"] and all(
                    found[r] and abs(found[r][0] - pool["allocated"][r]) < 0.051 for r in found):
                break
            browser.goto(BASE + "/")
        else:
            fail(f"the pool page never showed GET /pool's round and allocations: {found} against {pool['allocated']}")
        for resource in ("cpu", "memory"):
            check(found[resource] is not None, f"a {resource} card")
            check(abs(found[resource][0] - pool["allocated"][resource]) < 0.051, f"{resource} allocated {found[resource][0]} = GET /pool's {pool['allocated'][resource]}")
            check(abs(found[resource][1] - pool["capacity"][resource]) < 0.051, f"{resource} capacity {found[resource][1]} = GET /pool's {pool['capacity'][resource]}")
        pages.append(page)
        check(count(r'class="node"', page) == len(pool["nodes"]), f"one grid cell per node ({len(pool['nodes'])})")
        for label in ("capacity", "allocated", "used", "forecast"):
            check(count(rf'class="line" data-label="{label}"', page) >= 2, f"the pool charts draw {label}")
        check(re.search(r'<meta http-equiv="refresh" content="\d+">', page) is not None, "the demo's pool page reloads itself")
        browser.screenshot(os.path.join(SHOTS, "pool.png"), full_page=True)

        # A node's page: its charts with the forecast, its instances as GET /pool counts them.
        busiest_node = max(pool["nodes"], key=lambda n: n["instances"])
        def node_forecast(page):
            return {r: float(v) for r, v in re.findall(r'<tr data-resource="(\w+)">.*?<td class="forecast">([\d.]+)</td>', page)}
        for attempt in range(30):
            browser.goto(f"{BASE}/ui/nodes/{urllib.parse.quote(busiest_node['id'], safe='')}")
            page = browser.html()
            on_node = next(n for n in api("/pool", admin)["nodes"] if n["id"] == busiest_node["id"])
            node_shown = node_forecast(page)
            if count(r'<tr><td><a href="/ui/instances/', page) == on_node["instances"] and \
                    all(abs(node_shown.get(r, -1) - on_node["forecast"][r]) < 0.051 for r in ("cpu", "memory")):
                break
        pages.append(page)
        check(count(r'<tr><td><a href="/ui/instances/', page) == on_node["instances"], f"node {busiest_node['id']} lists its {on_node['instances']} instances")
        for r in ("cpu", "memory"):
            check(abs(node_shown.get(r, -1) - on_node["forecast"][r]) < 0.051, f"the node's {r} forecast {node_shown.get(r)} = GET /pool's {on_node['forecast'][r]}")
        check(on_node["forecast"]["cpu"] > 0, "the node has a cpu forecast to show")
        for label in ("capacity", "allocated", "used", "forecast"):
            check(count(rf'class="line" data-label="{label}"', page) >= 2, f"the node's charts draw {label}")

        # 3. The instance with the most swaps. A round may fall between the page and the API's
        # answers: read both until they agree.
        history = api("/swap_history?limit=1000", admin)["swaps"]
        busiest = max({s["instance"] for s in history}, key=lambda i: sum(s["instance"] == i for s in history))
        for attempt in range(30):
            browser.goto(f"{BASE}/ui/instances/{urllib.parse.quote(busiest)}?days=90")
            page = browser.html()
            prediction = api(f"/prediction?instance={urllib.parse.quote(busiest)}", admin)
            mine = api(f"/swap_history?instance={urllib.parse.quote(busiest)}&limit=1000", admin)["swaps"]
            rows = re.findall(r'<tr><td>(\d+m)</td><td>(cpu|memory|gpu)</td>.*?<td class="model">([^<]*)</td>', page)
            expected = [(p["horizon"], r, p[r]["model"]) for p in prediction["predictions"] for r in ("cpu", "memory")]
            listed = re.findall(r'<tr class="(\w+)" data-swap="(\d+)"', page)
            closeup, _, history = page.partition('id="history"')
            if [row for row in rows if row[1] != "gpu"] == expected and listed == [(s["outcome"], str(s["id"])) for s in mine[:20]] \
                    and count(r'class="mark"', history) == charts(history) * len(mine):
                break
        pages.append(page)
        check('id="closeup"' in closeup and history, "the close-up comes first, then the history")
        check(count(r'<h3>(cpu|memory|gpu)</h3><svg', closeup) >= 2, "a close-up chart for cpu and memory")
        for level in ("80", "90", "95"):
            check(count(rf'class="band" data-label="{level}% interval"', closeup) >= 2, f"the close-up draws the {level}% band for cpu and memory")
            check(count(rf'class="band" data-label="{level}% interval"', history) >= 2, f"the history draws the {level}% band for cpu and memory")
        check(count(r'class="line" data-label="forecast"', closeup) >= 2, "the close-up draws the forecast for cpu and memory")
        check(count(r'class="line" data-label="used"', history) >= 2, "usage drawn for cpu and memory")
        check([row for row in rows if row[1] != "gpu"] == expected, f"forecast rows {rows} = GET /prediction's {expected}")
        check(charts(history) >= 2 and count(r'class="mark"', history) == charts(history) * len(mine), f"a timeline mark per swap of {busiest} ({len(mine)}) in each of its {charts(history)} history charts")
        check(listed == [(s["outcome"], str(s["id"])) for s in mine[:20]], f"the instance's newest swaps listed with their outcomes: {listed[:3]}…")
        browser.screenshot(os.path.join(SHOTS, "instance.png"))

        # 4. Swaps page and the dry-run form.
        for attempt in range(30):
            browser.goto(BASE + "/ui/swaps?limit=50")
            page = browser.html()
            listed = api("/swap_history?limit=50", admin)["swaps"]
            rows = re.findall(r'<tr class="(\w+)" data-swap="(\d+)"', page)
            if rows == [(s["outcome"], str(s["id"])) for s in listed]:
                break
        pages.append(page)
        check(len(rows) > 0 and rows == [(s["outcome"], str(s["id"])) for s in listed],
              f"the swaps page lists GET /swap_history's swaps with their outcomes ({len(rows)} rows)")
        rolled = sum(s["outcome"] == "rolledBack" for s in listed)
        if rolled:
            check(count(r'<tr class="rolledBack"', page) == rolled, "rollbacks highlighted")
        else:
            print("SKIP: rollback highlighting: no rollback among the 50 newest swaps of this run")
        browser.screenshot(os.path.join(SHOTS, "swaps.png"))
        # The next page, by GET /swap_history's cursor.
        if len(listed) >= 4:
            for attempt in range(30):
                browser.goto(BASE + "/ui/swaps?limit=2")
                page = browser.html()
                shown = re.findall(r'<tr class="\w+" data-swap="(\d+)"', page)
                older = re.search(r'id="older" href="([^"]+)"', page)
                check(older is not None, "a full page links to the older swaps")
                browser.goto(BASE + html.unescape(older.group(1)))
                following = re.findall(r'<tr class="\w+" data-swap="(\d+)"', browser.html())
                expected_next = [str(s["id"]) for s in api(f"/swap_history?limit=2&cursor={shown[-1]}", admin)["swaps"]]
                if following == expected_next:
                    break
            check(following and following == expected_next and int(following[0]) < int(shown[-1]), f"the older page {following} = GET /swap_history's next page {expected_next}")
            check(re.search(r'id="newest" href="/ui/swaps\?limit=2"', browser.html()) is not None, "an older page links back to the newest")
        else:
            print(f"SKIP: paging the swaps page: only {len(listed)} swaps in this run")
        # Each swap links to its plan: the changes, the demand and the binding limit of each.
        first = listed[0]
        browser.goto(f"{BASE}/ui/plans/{urllib.parse.quote(first['plan'], safe='')}")
        page = browser.html()
        pages.append(page)
        check('id="planned"' in page and f'/ui/instances/{urllib.parse.quote(first["instance"], safe="-._~")}"' in page and "demand " in page,
              f"the plan page of swap {first['id']} explains it")
        browser.goto(BASE + "/ui/swaps")
        browser.fill_and_submit({}, "#plan")
        page = browser.html()
        check("id=\"plan-summary\"" in page and "dryRun" in page, "the dry-run form shows the plan")
        browser.screenshot(os.path.join(SHOTS, "plan.png"))
        field = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
        check(field is not None, "the plan page's form carries the session's token")
        csrf = field.group(1)
        check(post_form("/ui/plan", {"dryRun": "1"}, session) == 403, "a form post without the page's token is refused")
        for origin in ("http://evil.example", "null"):
            check(post_form("/ui/plan", {"dryRun": "1", "csrf": csrf}, session, origin=origin) == 403, f"a post from origin {origin} is refused")
        check(post_form("/ui/plan", {"dryRun": "1", "csrf": csrf}, session) == 200, "the same post from the dashboard goes through")

        # The evaluation page: simulate's policies, a point each in both trade-off charts.
        browser.goto(BASE + "/ui/evaluation")
        page = browser.html()
        pages.append(page)
        policies = [p["name"] + (f" ({p['setting']})" if p.get("setting") else "") for p in json.load(open(evaluation))["policies"]]
        check(re.findall(r'<td class="policy">([^<]*)</td>', page) == policies, f"the evaluation's policies {policies}")
        check(count(r'class="policy-point"', page) == 2 * len(policies), "a point per policy in the cpu and memory charts")
        browser.screenshot(os.path.join(SHOTS, "evaluation.png"))

        # 6. A tenant sees its own only.
        own, other = tenants[0], tenants[1]
        reader = token("reader", own)
        browser.fill_and_submit({}, "form.who")
        check(browser.url().endswith("/login"), "logging out returns to the login form")
        check(post_form("/ui/plan", {"dryRun": "1", "csrf": csrf}, session) == 303, "the logged-out session is gone: back to /login")
        browser.fill_and_submit({"token": reader}, "#login")
        page = browser.html()
        listed = set(re.findall(r'href="/ui/instances/([^"]+)"', page))
        check(listed == {urllib.parse.quote(i["id"], safe="-._~") for i in instances if i["tenant"] == own},
              f"tenant {own} lists its instances only")
        foreign = next(i["id"] for i in instances if i["tenant"] == other)
        browser.goto(f"{BASE}/ui/instances/{urllib.parse.quote(foreign)}")
        check("not found" in browser.html(), "another tenant's instance is not found")
        browser.goto(f"{BASE}/ui/nodes/{urllib.parse.quote(pool['nodes'][0]['id'])}")
        check("not found" in browser.html(), "a tenant sees no node")
        check(all("<script" not in p for p in pages), "the pages hold no script: readable without JavaScript")
        status, headers = None, {}
        try:
            with urllib.request.urlopen(urllib.request.Request(BASE + "/", headers={"Authorization": f"Bearer {admin}"}), timeout=10) as response:
                status, headers = response.status, response.headers
        except urllib.error.HTTPError as error:
            status = error.code
        check(status == 200 and "script-src" not in headers.get("Content-Security-Policy", "x") and "default-src 'none'" in headers.get("Content-Security-Policy", ""),
              "the pages forbid scripts and framing (Content-Security-Policy)")
    print(f"dashboard: {checked} checks passed; screenshots in {SHOTS}")
finally:
    live_helpers.stop(server, fail)
    shutil.rmtree(work, ignore_errors=True)
