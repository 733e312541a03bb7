#!/usr/bin/env python3
"""SIGKILL of `poolswap serve` at every distinct step of a swap, on the simulated and the
cgroup drivers, at least 100 kills in all.

Each kill comes from the service itself (`POOLSWAP_CRASH_AFTER=KIND:N`: SIGKILL right after
its N-th durable write of that kind): a plan's record, a journal intent, the instance's new
allocation, a journal `done`, a swap's record, a swap's update, or any write of a rollback.
Every run also forces a shrink that throttles, so that rollbacks run and can be killed. After
each kill the service is started again without the crash point and with the automatic swaps
off, runs a few rounds (recovery, then the verification window), and is stopped; then:

- no plan is left executing, no swap is left verifying;
- what the driver holds (the simulated hosts' state file, the cgroup files) equals the ledger;
- the ledger's invariants hold: no node over capacity minus reserve, every allocation within SLA;
- every journal intent has its outcome (done, failed, refused, or recovered at the restart).

usage: Tests/scripts/execution_crash_test.py [path/to/poolswap] [kills]
"""
import collections, json, os, shutil, signal, sqlite3, subprocess, sys, tempfile, time, urllib.error, urllib.request
from cgroup_fixture import Cgroups

BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".build/debug/poolswap")
KILLS = int(sys.argv[2]) if len(sys.argv) > 2 else 100
PORT = 18520
KINDS = ["plan", "intent", "instance", "done", "record", "update", "rollback"]
work = tempfile.mkdtemp(prefix="poolswap-crash-exec-")
failures = []
kills = collections.Counter()
CG = "/sys/fs/cgroup"
PARENT = f"poolswap-crash-{os.getpid()}"


def call(method, path, body=None, token=None):
    request = urllib.request.Request(f"http://127.0.0.1:{PORT}{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")
    except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
        return 0, {}


def start(db, arguments, environment, log):
    server = subprocess.Popen([BIN, "serve", "--database", db, "--port", str(PORT)] + arguments,
                              stdout=log, stderr=log, env=dict(os.environ, **environment))
    for _ in range(600):
        if server.poll() is not None:
            return server
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{PORT}/healthz", timeout=1)
            return server
        except Exception:
            time.sleep(0.05)
    return server


def stop(server):
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def rounds(token):
    _, text = 0, ""
    try:
        request = urllib.request.Request(f"http://127.0.0.1:{PORT}/metrics", headers={"Authorization": f"Bearer {token}"})
        text = urllib.request.urlopen(request, timeout=5).read().decode()
    except Exception:
        return 0
    for line in text.splitlines():
        if line.startswith("poolswap_rounds_total "):
            return int(float(line.split()[1]))
    return 0


def force_shrink(token, candidates):
    """Queues a forced shrink to 0.1 cores of the first candidate (by default the instances
    using the most cpu) that is free to change."""
    status, listing = call("GET", "/instances", token=token)
    if status != 200:
        return
    if candidates is None:
        candidates = [i["id"] for i in sorted(listing["instances"], key=lambda i: -((i.get("used") or {}).get("cpu") or 0))]
    for instance in candidates:
        record = next((i for i in listing["instances"] if i["id"] == instance), None)
        if not record or record["allocation"]["cpu"] <= 0.2:
            continue
        amounts = dict(record["allocation"], cpu=max(0.1, record["sla"]["minimum"]["cpu"]))
        status, _ = call("POST", "/swap_request", {"allocations": {instance: amounts}, "force": True, "dryRun": False}, token)
        if status == 202:
            return


def verifying(db):
    """Swaps the store holds as verifying (read beside the running service: WAL allows it)."""
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute("SELECT count(*) FROM swap WHERE outcome = 'verifying'").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return 1   # not readable now: ask again


def check(db, driver_state, label):
    """The invariants after a kill and a recovery."""
    conn = sqlite3.connect(db)
    problems = []
    executing = [r[0] for r in conn.execute("SELECT id FROM plan WHERE status = 'executing'")]
    if executing:
        problems.append(f"plans left executing: {executing}")
    verifying = [r for r in conn.execute("SELECT id, instance FROM swap WHERE outcome = 'verifying'")]
    if verifying:
        problems.append(f"swaps left verifying: {verifying}")
    nodes = {r[0]: r[1:] for r in conn.execute("SELECT id, cpu, memory, gpu, reserve_cpu, reserve_memory, reserve_gpu FROM node")}
    used = collections.defaultdict(lambda: [0.0, 0.0, 0.0])
    held = {}
    for (iid, node, c, m, g, lc, lm, lg, hc, hm, hg) in conn.execute(
            "SELECT id, node, cpu, memory, gpu, min_cpu, min_memory, min_gpu, max_cpu, max_memory, max_gpu FROM instance"):
        held[iid] = (node, c, m, g)
        for k, (v, lo, hi) in enumerate([(c, lc, hc), (m, lm, hm), (g, lg, hg)]):
            used[node][k] += v
            if v < lo - 1e-9 or v > hi + 1e-9:
                problems.append(f"{iid}: {['cpu', 'memory', 'gpu'][k]} {v} outside its SLA {lo}...{hi}")
    for node, total in used.items():
        cap = nodes[node]
        for k in range(3):
            if total[k] > cap[k] - cap[k + 3] + 1e-6:
                problems.append(f"node {node} over capacity in {['cpu', 'memory', 'gpu'][k]}: {total[k]} of {cap[k] - cap[k + 3]}")
    for iid, (node, c, m, g) in held.items():
        actual = driver_state(iid)
        if actual is None:
            continue
        dc, dm, dnode = actual
        if abs(dc - c) > 1.5e-5 and not (c < 0.01 and abs(dc - 0.01) <= 1.5e-5):
            problems.append(f"{iid}: the driver holds {dc} cores, the ledger {c}")
        if abs(dm - m) > 4096 / 2**30 + 1e-12:
            problems.append(f"{iid}: the driver holds {dm} GiB, the ledger {m}")
        if dnode is not None and dnode != node:
            problems.append(f"{iid}: the driver has it on {dnode}, the ledger on {node}")
    # An intent is closed by the next outcome of its step (an approval numbers its steps from 0 again).
    open_intents = {}
    for plan, step, phase in conn.execute("SELECT plan, step, phase FROM journal ORDER BY id"):
        if phase == "intent":
            open_intents[(plan, step)] = True
        elif phase in ("done", "failed", "refused", "recovered"):
            open_intents.pop((plan, step), None)
    for plan, step in open_intents:
        problems.append(f"journal: step {step} of {plan} has an intent and no outcome")
    conn.close()
    for p in problems[:10]:
        failures.append(f"{label}: {p}")
    return not problems


def campaign(name, arguments, environment, driver_state, kills_wanted, candidates, seconds_per_try):
    """Kills the service `kills_wanted` times over the kinds of write, reusing one database."""
    db = os.path.join(work, f"{name}.sqlite")
    log = open(os.path.join(work, f"{name}.log"), "a")
    token = subprocess.run([BIN, "token", "create", "--role", "admin", "--database", db], capture_output=True, text=True, check=True).stdout.strip()
    attempt = 0
    reached = 0
    n = {kind: 0 for kind in KINDS}
    while reached < kills_wanted and attempt < kills_wanted * 3:
        kind = KINDS[attempt % len(KINDS)]
        attempt += 1
        n[kind] += 1
        at = 1 + (n[kind] - 1) % 6   # the 1st to 6th write of that kind in a run, in turn
        log.write(f"\n=== {name}: crash after {kind}:{at}\n")
        log.flush()
        server = start(db, arguments, dict(environment, POOLSWAP_CRASH_AFTER=f"{kind}:{at}"), log)
        deadline = time.time() + seconds_per_try
        forced = False
        while server.poll() is None and time.time() < deadline:
            if not forced and rounds(token) >= 1:
                force_shrink(token, candidates)
                forced = True
            time.sleep(0.1)
        if server.poll() is None:
            stop(server)   # that write did not come: not a kill
            continue
        if server.returncode != -signal.SIGKILL:
            failures.append(f"{name}: the service exited with {server.returncode}, not by its crash point")
            break
        kills[(name, kind)] += 1
        reached += 1
        # Restart: recovery, then the verification window with nothing new planned. A swap is
        # verified only by rounds that saw its instance (the demo's trace has an outage on its
        # first evening, when most VMs send nothing), so the rounds go on until none is left
        # verifying, or a minute.
        server = start(db, arguments, dict(environment, POOLSWAP_AUTO_SWAP="false"), log)
        base = rounds(token)
        deadline = time.time() + 60
        while server.poll() is None and time.time() < deadline and (rounds(token) < base + 4 or verifying(db)):
            time.sleep(0.1)
        stop(server)
        if not check(db, driver_state, f"{name} after {kind}:{at}"):
            print(open(os.path.join(work, f"{name}.log")).read()[-4000:])
            break
    log.close()
    return reached


try:
    # The simulated driver: the demo's 20 VMs, a round every 50 ms.
    def simulated_state(db):
        def read(instance):
            state = {}
            path = db + ".simulated"
            if not os.path.exists(path):
                return None
            for line in open(path):
                fields = line.rstrip("\n").split("\t")
                if len(fields) == 5:
                    state[fields[0]] = (float(fields[1]), float(fields[2]), fields[4])
            return state.get(instance)
        return read
    demo_env = {"POOLSWAP_DEMO_ROUND_SECONDS": "0.05", "POOLSWAP_WARMUP_ROUNDS": "12", "POOLSWAP_RETRAIN_HOURS": "0",
                "POOLSWAP_COOLDOWN_ROUNDS": "1", "POOLSWAP_WARM_START_SLOTS": "288"}
    simulated_kills = KILLS * 4 // 5
    reached = campaign("simulated", [], demo_env, simulated_state(os.path.join(work, "simulated.sqlite")), simulated_kills,
                       None, 12)
    print(f"simulated driver: {reached} kills")

    # The cgroup driver: three real processes under a parent cgroup, a round a second.
    cgroup_kills = KILLS - reached
    if os.geteuid() != 0 or not os.path.isdir(f"{CG}/cpu"):
        failures.append("the cgroup campaign needs root and cgroup v1 here")
    else:
        cgroups = Cgroups(PARENT)
        for name, cores in [("busy", 0.5), ("idle", 0.6), ("alt", 0.4)]:
            cgroups.make(name, cores, 256 << 20)
        for name, script in [("busy", "exec dd if=/dev/zero of=/dev/null bs=1M"), ("idle", "exec sleep 1000000"),
                             ("alt", "while :; do timeout 5 dd if=/dev/zero of=/dev/null bs=1M; sleep 5; done")]:
            cgroups.start(name, script)

        def cgroup_state(instance):
            base = f"{CG}/cpu/{PARENT}/{instance}"
            if not os.path.isdir(base):
                return None
            q = int(open(base + "/cpu.cfs_quota_us").read())
            p = int(open(base + "/cpu.cfs_period_us").read())
            m = int(open(f"{CG}/memory/{PARENT}/{instance}/memory.limit_in_bytes").read())
            return (q / p if q > 0 else float("inf"), m / 2**30 if m < 2**62 else float("inf"), None)
        try:
            reached_cgroup = campaign("cgroup", ["--no-demo", "--driver", "cgroup", "--cgroup-parent", PARENT, "--interval", "1"],
                                      {"POOLSWAP_WARMUP_ROUNDS": "3", "POOLSWAP_RETRAIN_HOURS": "0", "POOLSWAP_COOLDOWN_ROUNDS": "1",
                                       "POOLSWAP_WARM_START_SLOTS": "288"},
                                      cgroup_state, cgroup_kills, ["busy", "alt"], 30)
            reached += reached_cgroup
            print(f"cgroup driver: {reached_cgroup} kills")
        finally:
            # `timeout` puts its command in a process group of its own: `remove` kills what the cgroups still hold.
            cgroups.remove()

    for (driver, kind), count in sorted(kills.items()):
        print(f"  {driver:9} killed after a {kind:8} write: {count}")
    missing = [f"{d}/{k}" for d in ("simulated", "cgroup") for k in KINDS if kills[(d, k)] == 0]
    if missing:
        failures.append(f"no kill after these kinds of write: {', '.join(missing)}")
    if reached < KILLS:
        failures.append(f"only {reached} kills of the {KILLS} wanted")
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures))
        sys.exit(1)
    print(f"{reached} kills, each recovered: no plan executing, no swap verifying, driver = ledger, invariants hold, every intent closed")
finally:
    shutil.rmtree(work, ignore_errors=True)
