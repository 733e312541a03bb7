#!/usr/bin/env python3
"""Prometheus as the metrics source, all real: `poolswap agent --server none` exports three real
processes on real cgroups (`busy` burns a core under a 0.5-core quota, `idle` sleeps, `hog` is
OOM-killed again and again under a 64 MiB limit), Debian's `prometheus` scrapes it every second,
and `poolswap serve --no-demo --driver none --interval 5 --prometheus URL` pulls from it. Checks:

1. Instances registered after the agent started get their past from Prometheus (samples older
   than their registration), and the rounds then store one sample per slot.
2. What is stored is what the processes did: busy's demand about a core (served plus throttled),
   idle's almost none, hog's memory bumped above its limit in slots with OOM kills.
3. A partition between server and Prometheus (a proxy that refuses while Prometheus goes on
   scraping) fails pulls, and the next pull fetches every slot missed: no slot is lost.
4. A restart of the server pulls the slots that ended while it was down.

usage: Tests/scripts/prometheus_test.py [path/to/poolswap]   (root, cgroups, /usr/bin/prometheus)
"""
import json, os, re, shutil, socket, sqlite3, subprocess, sys, tempfile, threading, time
from cgroup_fixture import Cgroups
import live_helpers

BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".build/debug/poolswap")
PORT, METRICS, PROMETHEUS, PROXY = 18540, 18541, 18542, 18543
INTERVAL = 5
PARENT = f"poolswap-prom-{os.getpid()}"
work = tempfile.mkdtemp(prefix="poolswap-prom-")
db = os.path.join(work, "pool.sqlite")
cgroups = Cgroups(PARENT)
children = []
token = None


def call(method, url, body=None):
    return live_helpers.http(method, url, body, token)


def wait_for(what, check, seconds):
    return live_helpers.wait_for(what, check, seconds, fail)


def stop(process):
    live_helpers.stop(process, fail)


def log_of(name):
    try:
        return open(os.path.join(work, name)).read()
    except OSError:
        return ""


def fail(message):
    print("FAILED:", message)
    for name in ["serve.log", "agent.log", "prometheus.log"]:
        print(f"--- {name}\n" + log_of(name)[-2500:])
    sys.exit(1)





def spawn(name, args, env=None):
    log = open(os.path.join(work, name + ".log"), "a")
    process = subprocess.Popen(args, stdout=log, stderr=log, env=env)
    children.append(process)
    return process





class Proxy(threading.Thread):
    """TCP from PROXY to Prometheus; `cut()` closes the connections it carries, and until `heal()`
    it takes new ones and closes them."""
    def __init__(self):
        super().__init__(daemon=True)
        self.open = True
        self.carried = []
        self.listener = socket.create_server(("127.0.0.1", PROXY))

    def cut(self):
        self.open = False
        for s in self.carried:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.carried = []

    def heal(self):
        self.open = True

    def run(self):
        while True:
            client, _ = self.listener.accept()
            if not self.open:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", PROMETHEUS), timeout=10)
            except OSError:
                client.close()
                continue
            self.carried += [client, upstream]
            for a, b in [(client, upstream), (upstream, client)]:
                threading.Thread(target=self.pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def pipe(a, b):
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def start_server():
    server = spawn("serve", [BIN, "serve", "--no-demo", "--driver", "none", "--interval", str(INTERVAL), "--database", db,
                             "--port", str(PORT), "--prometheus", f"http://127.0.0.1:{PROXY}"],
                   env=dict(os.environ, POOLSWAP_RETRAIN_HOURS="0", POOLSWAP_AUTO_SWAP="false"))
    wait_for("the server answering", lambda: call("GET", f"http://127.0.0.1:{PORT}/healthz")[0] == 200 if server.poll() is None else fail("server exited"), 60)
    return server


def rows(name):
    return sqlite3.connect(db).execute("SELECT time, cpu, memory FROM usage WHERE instance = ? ORDER BY time", (name,)).fetchall()


def contiguous(name, since):
    """The stored slots of `name` from `since` on, and the ones missing between them."""
    times = [r[0] for r in rows(name) if r[0] >= since]
    missing = sorted(set(range(times[0], times[-1] + 1, INTERVAL)) - set(times)) if times else []
    return times, missing


try:
    if os.geteuid() != 0:
        sys.exit("the Prometheus test needs root (it makes cgroups and moves processes into them)")
    if not shutil.which("prometheus"):
        sys.exit("the Prometheus test needs /usr/bin/prometheus (apt-get install prometheus)")
    cgroups.make("busy", 0.5, 256 << 20)
    cgroups.make("idle", 0.5, 256 << 20)
    cgroups.make("hog", 0.5, 64 << 20)
    cgroups.start("busy", "exec dd if=/dev/zero of=/dev/null bs=1M")
    cgroups.start("idle", "exec sleep 1000000")
    cgroups.start("hog", "while :; do python3 -c 'b = bytearray(200 << 20)'; sleep 3; done")
    spawn("agent", [BIN, "agent", "--server", "none", "--driver", "cgroup", "--cgroup-parent", PARENT, "--node", "prom-node",
                    "--interval", str(INTERVAL), "--port", str(METRICS)])
    open(os.path.join(work, "prometheus.yml"), "w").write(
        f"global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"scrape_configs:\n  - job_name: poolswap-agent\n    static_configs:\n      - targets: ['127.0.0.1:{METRICS}']\n")
    spawn("prometheus", ["prometheus", f"--config.file={work}/prometheus.yml", f"--storage.tsdb.path={work}/tsdb",
                         f"--web.listen-address=127.0.0.1:{PROMETHEUS}"])
    Proxy().start()

    def target_up():
        status, body = call("GET", f"http://127.0.0.1:{PROMETHEUS}/api/v1/targets")
        targets = json.loads(body)["data"]["activeTargets"] if status == 200 else []
        return any(t["health"] == "up" for t in targets)
    wait_for("Prometheus scraping the agent (its targets API says up)", target_up, 60)

    def series_seen():
        status, body = call("GET", f"http://127.0.0.1:{PROMETHEUS}/api/v1/query?query=poolswap_instance_cpu_seconds_total")
        return status == 200 and len(json.loads(body)["data"]["result"]) == 3
    wait_for("the three instances' counters in Prometheus", series_seen, 60)
    print("Prometheus scrapes the agent; letting it gather history for 25 s")
    time.sleep(25)

    token = subprocess.run([BIN, "token", "create", "--role", "admin", "--database", db], capture_output=True, text=True, check=True).stdout.strip()
    server = start_server()
    base = f"http://127.0.0.1:{PORT}"
    status, body = call("POST", f"{base}/nodes", {"id": "prom-node", "capacity": {"cpu": 4, "memory": 8, "gpu": 0}})
    if status >= 300:
        fail(f"POST /nodes: {status} {body}")
    for name, memory in [("busy", 0.25), ("idle", 0.25), ("hog", 0.0625)]:
        status, body = call("POST", f"{base}/instances", {"id": name, "tenant": "local", "node": "prom-node",
                                                          "allocation": {"cpu": 0.5, "memory": memory, "gpu": 0},
                                                          "sla": {"maximum": {"cpu": 2, "memory": 1, "gpu": 0}}})
        if status >= 300:
            fail(f"POST /instances {name}: {status} {body}")
    registered = int(time.time())

    # 1. History from before the registration, then a sample every slot.
    wait_for("history pulled for the three instances", lambda: all(rows(n) and rows(n)[0][0] < registered - 15 for n in ["busy", "idle", "hog"]), 60)
    wait_for("three slots stored after the registration", lambda: len([r for r in rows("busy") if r[0] >= registered]) >= 3, 60)
    first = {n: rows(n)[0][0] for n in ["busy", "idle", "hog"]}
    print("history from Prometheus: " + ", ".join(f"{n} from {registered - t} s before its registration" for n, t in first.items()))

    # 2. What the processes did.
    busy = [r[1] for r in rows("busy")][1:]
    idle = [r[1] for r in rows("idle")][1:]
    if not busy or not (sum(busy) / len(busy) > 0.8 and max(idle) < 0.1):
        fail(f"busy should read about a core of demand (0.5 served + throttled), idle almost none: busy {busy}, idle {idle}")
    wait_for("an OOM kill of hog", lambda: cgroups.oom_kills("hog") >= 1, 30)
    wait_for("a slot of hog with its memory bumped above the 64 MiB limit (OOM kills pulled)",
             lambda: any(r[2] >= 0.0625 * 1.2 for r in rows("hog")), 40)
    print(f"busy reads {sum(busy) / len(busy):.2f} cores of demand, idle at most {max(idle):.3f}; hog OOM-killed "
          f"{cgroups.oom_kills('hog')} times, its memory at most {max(r[2] for r in rows('hog')) * 1024:.0f} MiB")

    # 3. A partition: pulls fail, Prometheus scrapes on, and the next pull gets every slot.
    proxy = [t for t in threading.enumerate() if isinstance(t, Proxy)][0]
    failures = lambda: float((re.search(r"^poolswap_source_pull_failures_total (\S+)$", call("GET", f"{base}/metrics")[1], re.M) or [0, "0"])[1])
    failed_before = failures()
    proxy.cut()
    wait_for("two failed pulls while partitioned", lambda: failures() >= failed_before + 2, 40)
    proxy.heal()
    healed = int(time.time())
    wait_for("two slots stored after the partition", lambda: len([r for r in rows("busy") if r[0] >= healed]) >= 2, 40)
    since = registered - registered % INTERVAL
    times, missing = contiguous("busy", since)
    print(f"partition: {failures() - failed_before:.0f} pulls failed; busy has {len(times)} slots since its registration, {len(missing)} missing")
    if missing:
        fail(f"slots lost across the partition: {missing}")

    # 4. A restart: the slots that ended while the server was down are pulled at start.
    stop(server)
    down = int(time.time())
    time.sleep(3 * INTERVAL)
    server = start_server()
    wait_for("a slot stored after the restart", lambda: rows("busy")[-1][0] >= down + 2 * INTERVAL, 40)
    times, missing = contiguous("busy", since)
    pulled = re.findall(r"prometheus: (\d+) samples of (\d+) instances pulled", log_of("serve.log"))
    print(f"restart: {pulled[-1][0] if pulled else 0} samples pulled at start; busy has {len(times)} slots, {len(missing)} missing")
    if missing or not pulled or int(pulled[-1][0]) < 3:
        fail(f"slots lost across the restart: {missing} (pulled at start: {pulled})")
    for name in ["busy", "idle", "hog"]:
        t, m = contiguous(name, since)
        if m or len(t) < 10:
            fail(f"{name}: {len(t)} slots since its registration, missing {m}")
    stop(server)
    print("Prometheus test passed")
finally:
    for p in children:
        if p.poll() is None:
            p.kill()
    cgroups.remove()
    shutil.rmtree(work, ignore_errors=True)
