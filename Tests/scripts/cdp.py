"""Minimal headless-Chromium driver over the DevTools protocol, stdlib only (Python 3.11).

Uses --remote-debugging-pipe (CDP as NUL-terminated JSON on fds 3/4), so there is no
port to pick, no HTTP /json polling and no websocket library needed.

    with Browser() as b:
        b.goto("http://127.0.0.1:8080/login")
        b.fill_and_submit({"token": "s3cret"})      # waits for the post-submit page load
        b.goto("http://127.0.0.1:8080/")
        html = b.html()
        b.screenshot("/tmp/dash.png")               # full_page=True for the whole document
"""
import base64, json, os, select, shutil, subprocess, tempfile, time

# Debian: call the real binary, bypassing the /usr/bin/chromium shell wrapper (noisy, adds flags).
CHROMIUM = os.environ.get("CHROMIUM") or next(
    (p for p in ("/usr/lib/chromium/chromium", shutil.which("chromium"), shutil.which("chromium-browser"))
     if p and os.path.exists(p)), "chromium")


class CDPError(RuntimeError):
    pass


class Browser:
    def __init__(self, width=1280, height=900, timeout=15.0, extra_args=()):
        self.timeout = timeout
        self.events = []          # buffered CDP events (dicts with method/params/sessionId)
        self._buf = b""
        self._id = 0
        self.profile = tempfile.mkdtemp(prefix="cdp-profile-")
        to_child_r, self._w = os.pipe()   # we write commands -> chromium fd 3
        self._r, from_child_w = os.pipe() # chromium fd 4 -> we read

        def setup_fds():
            os.dup2(to_child_r, 3)
            os.dup2(from_child_w, 4)

        args = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu",
                "--remote-debugging-pipe", f"--user-data-dir={self.profile}",
                f"--window-size={width},{height}", "--no-first-run", "--no-default-browser-check",
                "--disable-extensions", "--disable-background-networking", "--disable-sync",
                "--mute-audio", "--hide-scrollbars", "--log-level=3", *extra_args, "about:blank"]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, pass_fds=(3, 4),
                                     preexec_fn=setup_fds, start_new_session=True)
        os.close(to_child_r); os.close(from_child_w)
        try:
            tid = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            self.session = self.call("Target.attachToTarget", {"targetId": tid, "flatten": True})["sessionId"]
            for m in ("Page.enable", "Runtime.enable", "Network.enable"):
                self.call(m, session=True)
            self.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": height,
                      "deviceScaleFactor": 1, "mobile": False}, session=True)
        except Exception:
            self.close(); raise

    # ---- transport -------------------------------------------------------
    def _read_msg(self, deadline):
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("CDP: timed out waiting for chromium")
            if select.select([self._r], [], [], left)[0]:
                chunk = os.read(self._r, 1 << 20)
                if not chunk:
                    raise CDPError(f"chromium exited (rc={self.proc.poll()})")
                self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, session=False, timeout=None):
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = self.session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            m = self._read_msg(deadline)
            if m.get("id") == self._id:
                if "error" in m:
                    raise CDPError(f"{method}: {m['error']}")
                return m.get("result", {})
            if "method" in m:
                self.events.append(m)

    def wait_event(self, method, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for i, e in enumerate(self.events):
                if e["method"] == method:
                    return self.events.pop(i)
            self.events.append(self._read_msg(deadline))

    # ---- page helpers ----------------------------------------------------
    def eval(self, expr):
        r = self.call("Runtime.evaluate", {"expression": expr, "returnByValue": True,
                                           "awaitPromise": True}, session=True)
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise CDPError("JS error: " + d.get("exception", {}).get("description", d.get("text", "?")))
        return r["result"].get("value")

    def goto(self, url):
        self.events.clear()
        # Page.navigate itself only returns once the response starts arriving, so guard it too
        r = self._guard(lambda: self.call("Page.navigate", {"url": url}, session=True))
        if r.get("errorText"):
            raise CDPError(f"navigate {url}: {r['errorText']}")
        self._guard(lambda: self.wait_event("Page.loadEventFired"))
        return self.url()

    def _guard(self, fn):
        try:
            return fn()
        except TimeoutError:
            # a pending navigation blocks Runtime.evaluate etc.; abort it so the session stays usable
            self.call("Page.stopLoading", session=True, timeout=3)
            raise

    def fill_and_submit(self, fields, form_selector="form"):
        """Set input values by name and submit the form (native submit, follows POST->303)."""
        self.events.clear()
        self.eval(f"""(() => {{
            const f = document.querySelector({json.dumps(form_selector)});
            if (!f) throw new Error('form not found');
            for (const [k, v] of Object.entries({json.dumps(fields)})) {{
                const el = f.querySelector('[name="' + k + '"]');
                if (!el) throw new Error('field not found: ' + k);
                el.value = v;
            }}
            setTimeout(() => f.requestSubmit ? f.requestSubmit() : f.submit(), 0);
        }})()""")
        self._guard(lambda: self.wait_event("Page.loadEventFired"))
        return self.url()

    def url(self):
        return self.eval("location.href")

    def html(self):
        return self.eval("document.documentElement.outerHTML")

    def cookies(self):
        return self.call("Network.getCookies", session=True)["cookies"]

    def set_cookie(self, name, value, url, http_only=True):
        """Alternative to the form login: inject a session cookie directly."""
        self.call("Network.setCookie", {"name": name, "value": value, "url": url,
                                        "httpOnly": http_only}, session=True)

    def screenshot(self, path, full_page=False):
        params = {"format": "png"}
        if full_page:
            m = self.call("Page.getLayoutMetrics", session=True)["cssContentSize"]
            params.update(captureBeyondViewport=True,
                          clip={"x": 0, "y": 0, "width": m["width"], "height": m["height"], "scale": 1})
        data = base64.b64decode(self.call("Page.captureScreenshot", params, session=True)["data"])
        with open(path, "wb") as f:
            f.write(data)
        return len(data)

    def js_errors(self):
        return [e["params"] for e in self.events if e["method"] == "Runtime.exceptionThrown"]

    # ---- lifecycle -------------------------------------------------------
    def close(self):
        try:
            if self.proc.poll() is None:
                try:
                    self.call("Browser.close", timeout=3)
                except Exception:
                    pass
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, 9)   # own session group: chromium + its children only
                    self.proc.wait(timeout=5)
        finally:
            for fd in (self._r, self._w):
                try: os.close(fd)
                except OSError: pass
            shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
