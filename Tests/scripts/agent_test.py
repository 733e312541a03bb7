#!/usr/bin/env python3
"""The node agent on real cgroups against a real server: `poolswap agent --driver cgroup` samples
two real processes (one burning a core under a 0.5-core quota, one asleep) every 2 s and pushes
them to `poolswap serve --no-demo --driver none --interval 2`, registering the node and both
instances itself. The server is stopped for 12 s and started again: the agent buffers on disk
meanwhile and hands everything over after. Checks:

1. The server holds exactly the samples the agent says it took (none lost, none rejected), the
   gap's included, and the agent's spool is empty at the end.
2. The busy process's samples read its demand (served plus throttled cpu, about a core), the
   sleeping one's almost nothing.
3. /metrics is Prometheus text with the instances' counters.

usage: Tests/scripts/agent_test.py [path/to/poolswap]   (root, cgroup v1 or v2)
"""
import json, os, re, shutil, sqlite3, subprocess, sys, tempfile, time
from cgroup_fixture import Cgroups
import live_helpers

BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".build/debug/poolswap")
PORT, METRICS = 18530, 18531
PARENT = f"poolswap-agent-{os.getpid()}"
NAMES = ["busy", "idle"]
work = tempfile.mkdtemp(prefix="poolswap-agent-")
db = os.path.join(work, "pool.sqlite")
cgroups = Cgroups(PARENT)
servers, agents = [], []


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
    print("--- agent log\n" + log_of("agent.log")[-3000:])
    print("--- server log\n" + log_of("serve.log")[-2000:])
    sys.exit(1)


def get(url, token=None):
    return live_helpers.http("GET", url, token=token)


def metric(text, name, labels=""):
    match = re.search(rf"^{name}{re.escape(labels)} (\S+)$", text, re.M)
    return float(match.group(1)) if match else None


def start_server():
    log = open(os.path.join(work, "serve.log"), "a")
    server = subprocess.Popen([BIN, "serve", "--no-demo", "--driver", "none", "--interval", "2", "--database", db,
                               "--port", str(PORT)], stdout=log, stderr=log, env=dict(os.environ, POOLSWAP_RETRAIN_HOURS="0"))
    servers.append(server)
    wait_for("the server answering", lambda: get(f"http://127.0.0.1:{PORT}/healthz")[0] == 200 if server.poll() is None else fail("server exited"), 60)
    return server





def cleanup():
    for p in agents + servers:
        if p.poll() is None:
            p.kill()
    cgroups.remove()
    shutil.rmtree(work, ignore_errors=True)


try:
    if os.geteuid() != 0:
        sys.exit("the agent test needs root (it makes cgroups and moves processes into them)")
    for name in NAMES:
        cgroups.make(name, 0.5, 256 << 20)
    cgroups.start("busy", "exec dd if=/dev/zero of=/dev/null bs=1M")
    cgroups.start("idle", "exec sleep 1000000")
    token = subprocess.run([BIN, "token", "create", "--role", "admin", "--database", db],
                           capture_output=True, text=True, check=True).stdout.strip()
    server = start_server()
    agent_log = open(os.path.join(work, "agent.log"), "w")
    agent = subprocess.Popen([BIN, "agent", "--server", f"http://127.0.0.1:{PORT}", "--driver", "cgroup", "--cgroup-parent", PARENT,
                              "--node", "agent-node", "--interval", "2", "--spool", os.path.join(work, "spool"), "--port", str(METRICS)],
                             stdout=agent_log, stderr=agent_log, env=dict(os.environ, POOLSWAP_TOKEN=token))
    agents.append(agent)
    scrape = lambda: get(f"http://127.0.0.1:{METRICS}/metrics")[1] if agent.poll() is None else fail("agent exited")

    def registered():
        status, body = get(f"http://127.0.0.1:{PORT}/instances", token)
        ids = sorted(i["id"] for i in json.loads(body).get("instances", [])) if status == 200 else []
        return ids == NAMES and (metric(scrape(), "poolswap_agent_samples_sent_total") or 0) >= 6
    wait_for("both instances registered by the agent and samples sent", registered, 60)
    text = scrape()
    for name in NAMES:
        if metric(text, "poolswap_instance_cpu_seconds_total", f'{{instance_id="{name}"}}') is None:
            fail(f"/metrics has no cpu counter of {name}:\n{text}")
    if "# TYPE poolswap_instance_cpu_seconds_total counter" not in text:
        fail("/metrics lacks the TYPE line of poolswap_instance_cpu_seconds_total")

    stop(server)
    print("server stopped")
    time.sleep(12)
    buffered = metric(scrape(), "poolswap_agent_buffered_batches")
    print(f"agent buffered {buffered:.0f} batches while the server was down")
    if not buffered or buffered < 4:
        fail(f"the agent should have buffered at least 4 batches in 12 s, not {buffered}")
    server = start_server()
    wait_for("the buffer handed over", lambda: metric(scrape(), "poolswap_agent_buffered_batches") == 0, 60)
    stop(agent)
    stop(server)
    last = re.findall(r"stopped: (\d+) taken, (\d+) sent, (\d+) rejected, (\d+) batches buffered", log_of("agent.log"))
    if not last:
        fail("the agent did not log what it took and sent at exit")
    taken, sent, rejected, left = map(int, last[-1])
    rows = sqlite3.connect(db).execute("SELECT instance, COUNT(*), AVG(cpu), MIN(time), MAX(time) FROM usage GROUP BY instance").fetchall()
    stored = sum(r[1] for r in rows)
    print(f"agent took {taken} samples, sent {sent}, {rejected} rejected, {left} batches left; the server stored {stored}: "
          + ", ".join(f"{r[0]} {r[1]} samples mean cpu {r[2]:.2f} over {r[4] - r[3]} s" for r in rows))
    if left != 0 or rejected != 0 or sent != taken or stored != taken:
        fail(f"samples lost or refused: taken {taken}, sent {sent}, rejected {rejected}, stored {stored}, batches left {left}")
    if os.listdir(os.path.join(work, "spool")):
        fail(f"the spool is not empty: {os.listdir(os.path.join(work, 'spool'))}")
    mean = {r[0]: r[2] for r in rows}
    times = {r[0]: (r[3], r[4], r[1]) for r in rows}
    for name, (first, last_time, count) in times.items():
        if count != (last_time - first) // 2 + 1:
            fail(f"{name}: {count} samples from {first} to {last_time}: a 2-second slot is missing")
    if not (mean["busy"] > 0.8 and mean["idle"] < 0.1):
        fail(f"busy should read about a core of demand (0.5 served + throttled), idle almost none: {mean}")
    print("agent test passed")
finally:
    cleanup()
