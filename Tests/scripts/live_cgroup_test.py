#!/usr/bin/env python3
"""Live end to end on real cgroups: `poolswap serve --no-demo --driver cgroup --interval 2`
with three real processes under its parent cgroup, whose load follows a pattern: `busy` burns
a core from the start under a 0.5-core quota, `idle` sleeps under 0.8 cores, `alt` burns for
16 s and sleeps for 16 s under 0.4 cores. Checks, against the cgroup files themselves:

1. Poolswap learns and moves CPU quota from idle to busy; /swap_history shows committed swaps
   with realised benefit measured from throttling (busy's throttled cores fell).
2. A swap forced to shrink busy (POST /swap_request with an instance's allocation) is rolled
   back automatically within the verification window, and busy's quota is back.
3. POST /swaps/{id}/rollback restores an earlier allocation on the real cgroup.

With --agent the usage comes from `poolswap agent` on the same cgroups, pushed to POST /usage
(the server's driver only applies: driverSamples false): the verification and the realised
benefit then read the throttling the agent measured.

usage: Tests/scripts/live_cgroup_test.py [path/to/poolswap] [--agent]   (root, cgroup v1 or v2)
"""
import json, os, shutil, signal, subprocess, sys, tempfile, time, urllib.error, urllib.request
from cgroup_fixture import Cgroups

ARGS = [a for a in sys.argv[1:] if a != "--agent"]
AGENT = "--agent" in sys.argv[1:]
BIN = os.path.abspath(ARGS[0] if ARGS else ".build/debug/poolswap")
PORT, METRICS = 18510, 18511
PARENT = f"poolswap-live-{os.getpid()}"
work = tempfile.mkdtemp(prefix="poolswap-live-")
db = os.path.join(work, "pool.sqlite")
cgroups = Cgroups(PARENT)
server = agent = None
TOKEN = []
PLANS = []  # the forced plans asked for, printed when the test fails


def fail(message):
    print("FAILED:", message)
    if server:
        print(open(os.path.join(work, "serve.log")).read()[-3000:])
        if AGENT:
            print("--- agent log\n" + open(os.path.join(work, "agent.log")).read()[-2000:])
        _, history = call("GET", "/swap_history?limit=10", token=TOKEN[0]) if TOKEN else (0, {})
        print(json.dumps(history, indent=1)[:6000])
        for plan in PLANS[-2:]:
            print(json.dumps(call("GET", f"/swaps/{plan}", token=TOKEN[0])[1], indent=1)[:3000])
    sys.exit(1)


def call(method, path, body=None, token=None):
    request = urllib.request.Request(f"http://127.0.0.1:{PORT}{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, {}


def wait_for(what, check, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        result = check()
        if result:
            return result
        time.sleep(1)
    fail(f"{what} within {seconds} s")


def cleanup():
    if agent and agent.poll() is None:
        agent.kill()
    if server and server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    # `timeout` puts its command in a process group of its own: `remove` kills what the cgroups still hold.
    cgroups.remove()
    shutil.rmtree(work, ignore_errors=True)


try:
    if os.geteuid() != 0:
        sys.exit("the live cgroup test needs root (it makes cgroups and moves processes into them)")
    for name, cores in [("busy", 0.5), ("idle", 0.8), ("alt", 0.4)]:
        cgroups.make(name, cores, 256 << 20)
    for name, script in [("busy", "exec dd if=/dev/zero of=/dev/null bs=1M"),
                         ("idle", "exec sleep 1000000"),
                         ("alt", "while :; do timeout 16 dd if=/dev/zero of=/dev/null bs=1M; sleep 16; done")]:
        cgroups.start(name, script)
    token = subprocess.run([BIN, "token", "create", "--role", "admin", "--database", db],
                           capture_output=True, text=True, check=True).stdout.strip()
    TOKEN.append(token)
    environment = dict(os.environ, POOLSWAP_WARMUP_ROUNDS="6", POOLSWAP_RETRAIN_HOURS="0", POOLSWAP_COOLDOWN_ROUNDS="2",
                       POOLSWAP_DRIVER_SAMPLES="false" if AGENT else "true")
    log = open(os.path.join(work, "serve.log"), "w")
    server = subprocess.Popen([BIN, "serve", "--no-demo", "--driver", "cgroup", "--cgroup-parent", PARENT, "--interval", "2",
                               "--database", db, "--port", str(PORT)], stdout=log, stderr=log, env=environment)
    wait_for("the server answering", lambda: call("GET", "/readyz", token=token)[0] == 200 if server.poll() is None else fail("server exited"), 60)
    if AGENT:
        agent_log = open(os.path.join(work, "agent.log"), "w")
        agent = subprocess.Popen([BIN, "agent", "--server", f"http://127.0.0.1:{PORT}", "--driver", "cgroup", "--cgroup-parent", PARENT,
                                  "--interval", "2", "--spool", os.path.join(work, "spool"), "--port", str(METRICS)],
                                 stdout=agent_log, stderr=agent_log, env=dict(os.environ, POOLSWAP_TOKEN=token))
        print("usage from poolswap agent, pushed every 2 s; the server's cgroup driver applies the swaps")
    instances = wait_for("the three cgroups registered", lambda: (lambda s, a: a if s == 200 and len(a.get("instances", [])) == 3 else None)(
        *call("GET", "/instances", token=token)), 30)
    print("registered:", ", ".join(f"{i['id']} cpu {i['allocation']['cpu']}" for i in instances["instances"]))

    # 1. Poolswap learns and moves quota from idle to busy.
    def learned():
        _, history = call("GET", "/swap_history?limit=1000", token=token)
        swaps = history.get("swaps", [])
        grown = [s for s in swaps if s["instance"] == "busy" and s["outcome"] == "committed" and s["after"]["cpu"] > s["before"]["cpu"] + 0.1
                 and (s.get("realisedBenefit") or 0) > 0]
        shrunk = [s for s in swaps if s["instance"] == "idle" and s["outcome"] == "committed" and s["after"]["cpu"] < s["before"]["cpu"] - 0.1]
        return (grown[-1], shrunk[-1]) if grown and shrunk else None
    grown, shrunk = wait_for("a committed grow of busy with realised benefit and a committed shrink of idle", learned, 180)
    baseline = grown["verification"]["baseline"]["throttled"]
    after = [r["throttled"] for r in grown["verification"]["rounds"]]
    print(f"busy grown {grown['before']['cpu']:.3f} -> {grown['after']['cpu']:.3f} cores, realised benefit {grown['realisedBenefit']:.3f}; "
          f"throttled {baseline:.3f} cores before, {', '.join(f'{t:.3f}' for t in after)} after")
    print(f"idle shrunk {shrunk['before']['cpu']:.3f} -> {shrunk['after']['cpu']:.3f} cores, realised benefit {shrunk.get('realisedBenefit')}")
    if not baseline > 0.2 or not max(after) < baseline:
        fail("the grow's realised benefit is not measured from throttling that fell")

    # 2. A forced shrink of busy is rolled back automatically. The request is queued for the
    # next round; a loop plan that changed busy in between makes it stale, and it is refused
    # (rightly): then it is asked again.
    def applied(plan):
        _, view = call("GET", f"/swaps/{plan}", token=token)
        states = [s.get("state") for s in view.get("swaps", []) if s.get("instance") == "busy"]
        if view.get("status") in ("queued", None) or not states or states[0] in (None, "planned", "approved", "applying"):
            return None
        return states[0]
    refused = []
    def forced():
        cores = cgroups.quota("busy") / 100000
        memory = next(i["allocation"]["memory"] for i in call("GET", "/instances", token=token)[1]["instances"] if i["id"] == "busy")
        status, answer = call("POST", "/swap_request", {"allocations": {"busy": {"cpu": 0.1, "memory": memory, "gpu": 0}},
                                                         "force": True, "dryRun": False}, token)
        if status != 202:
            return None
        PLANS.append(answer["id"])
        state = wait_for(f"forced plan {answer['id']} run", lambda: applied(answer["id"]), 30)
        if state == "rejected":
            refused.append(answer["id"])
            return None
        return answer["id"], cores
    plan, before = wait_for("busy out of cooldown for a forced shrink", forced, 90)
    if refused:
        print(f"forced shrink refused {len(refused)} time(s) (busy changed before its round), asked again")
    print(f"forced busy from {before:.3f} to 0.1 cores in {plan}")

    def rolled_back():
        _, history = call("GET", "/swap_history?instance=busy&limit=20", token=token)
        ended = [s for s in history.get("swaps", []) if s["plan"] == plan and s["outcome"] in ("rolledBack", "failedSafe")]
        return ended[0] if ended else None
    swap = wait_for("the forced shrink rolled back", rolled_back, 40)
    rounds = len(swap["verification"]["rounds"]) if swap.get("verification") else 0
    print(f"rolled back after {rounds} round(s): {swap['reason']}; busy's quota now {cgroups.quota('busy')} µs")
    if swap["outcome"] != "rolledBack" or not swap["reason"].startswith("regression") or rounds > 3:
        fail(f"the shrink should roll back on a regression within the 3-round window: {swap}")
    if abs(cgroups.quota("busy") - round(swap["before"]["cpu"] * 100000)) > 1:
        fail(f"busy's quota {cgroups.quota('busy')} is not its allocation before the forced shrink ({swap['before']['cpu']} cores)")

    # 3. A rollback on request restores an earlier allocation on the cgroup: the plan that grew
    # busy is rolled back; busy's shrink back always fits, what it frees goes back where it came
    # from as far as the node has room (the rest is failed safe, left where it is).
    status, answer = call("POST", f"/swaps/{grown['plan']}/rollback", {"reason": "live test"}, token)
    if status != 200:
        fail(f"rollback of {grown['plan']} answered {status}: {answer}")
    _, history = call("GET", "/swap_history?limit=1000", token=token)
    for shown in answer["swaps"]:
        record = next(s for s in history["swaps"] if s["id"] == shown["swapID"])
        restored = record.get("restored") or {}
        print(f"rolled back {record['instance']} ({record['before']['cpu']:.3f} -> {record['after']['cpu']:.3f} cores): {record['outcome']}, "
              f"left at {restored.get('cpu')} cores; its quota is {cgroups.quota(record['instance'])} µs")
        if record["outcome"] not in ("rolledBack", "failedSafe") or abs(cgroups.quota(record["instance"]) - round(restored["cpu"] * 100000)) > 1:
            fail(f"{record['instance']}'s cgroup does not hold what its rollback left")
        if record["instance"] == "busy" and (record["outcome"] != "rolledBack" or abs(restored["cpu"] - record["before"]["cpu"]) > 1e-9):
            fail("busy is not back at its allocation before the grow")
    if AGENT:
        text = urllib.request.urlopen(f"http://127.0.0.1:{METRICS}/metrics", timeout=10).read().decode()
        count = lambda name: float(next((l.split()[1] for l in text.splitlines() if l.startswith(name + " ")), "nan"))
        sent, rejected = count("poolswap_agent_samples_sent_total"), count("poolswap_agent_samples_rejected_total")
        print(f"the agent sent {sent:.0f} samples, {rejected:.0f} rejected")
        if not (sent >= 30 and rejected == 0):
            fail(f"the agent's samples should all be taken: {sent} sent, {rejected} rejected")
    print("live cgroup test passed" + (" (usage from the agent)" if AGENT else ""))
finally:
    cleanup()
