#!/usr/bin/env python3
"""SIGKILL of `poolswap serve --driver qemu` in the middle of live migrations of a real QEMU
guest between two network-namespace nodes (`scripts/qemu_nodes.sh`, 100 Mbit/s links).

The server boots the guest (256 MiB, 96 MiB of it filled, so that a move takes seconds; moved
by stop-and-copy, since QEMU 7.2 under TCG may corrupt a guest that writes this much during a
pre-copy) from its configuration. A move that ends before its moment (undone by the driver's
check, or too quick to catch) is asked for again. Each try asks it to move the guest to the other node (POST /swap_request
with `nodes`, forced) and kills the server at one moment of the move:

- from outside, while QEMU streams the guest (2 s after the driver's migration marker appears);
- from outside, while the driver verifies the target (once the guest beats there);
- from its own crash points: right after the journal's intent (the driver not yet called),
  right after the instance's new node is stored, right after the journal's `done`.

After each kill the server is started again (automatic swaps off) and runs until nothing is in
flight; then the guest runs exactly once (one QEMU process of it), not rebooted (its uptime
went on), on the node the driver's node file names, which is the node the ledger says, and
every journal intent has its outcome.

usage: Tests/scripts/qemu_crash_test.py [path/to/poolswap]   (root, QEMU, the guest of build_guest.sh)
"""
import json, os, re, shutil, signal, sqlite3, subprocess, sys, tempfile, time
from live_helpers import http, wait_for

BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".build/debug/poolswap")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GUEST = os.environ.get("POOLSWAP_GUEST_DIR", "/var/cache/poolswap/guest")
PORT = 18530
PREFIX = f"pqc{os.getpid() % 100000}"
work = tempfile.mkdtemp(prefix="poolswap-qemu-crash-")
run = os.path.join(work, "run")
db = os.path.join(work, "pool.sqlite")
config = os.path.join(work, "poolswap.json")
CGROUP = f"poolswap-crash-vm-{os.getpid()}"
NODES = ["node-1", "node-2"]
server = None
token = None
plans = []   # the moves asked for, shown when the test fails
log = open(os.path.join(work, "serve.log"), "a")


def fail(message):
    print("FAILED:", message)
    log.flush()
    text = open(os.path.join(work, "serve.log")).read()
    print("\n".join(line for line in text.splitlines() if "round " not in line)[-6000:])
    if plans and server and server.poll() is None:
        print(json.dumps(call("GET", f"/swaps/{plans[-1]}")[1], indent=1)[:4000])
    cleanup()
    sys.exit(1)


def call(method, path, body=None):
    status, text = http(method, f"http://127.0.0.1:{PORT}{path}", body, token)
    try:
        return status, json.loads(text or "{}")
    except json.JSONDecodeError:
        return status, {}


def start(environment=None):
    global server
    server = subprocess.Popen([BIN, "serve", "--config", config, "--database", db, "--port", str(PORT)],
                              stdout=log, stderr=log, env=dict(os.environ, **(environment or {})))
    wait_for("the server answering /healthz", lambda: server.poll() is not None or http("GET", f"http://127.0.0.1:{PORT}/healthz")[0] == 200,
             240, fail)
    if server.poll() is not None:
        fail(f"the server exited with {server.returncode} at start")


def stop():
    if server and server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def qemu_processes():
    """(pid, node) of every QEMU process of the guest, from their command lines."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            line = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if line and line[0].endswith(b"qemu-system-x86_64") and b"-pidfile" in line:
            pidfile = line[line.index(b"-pidfile") + 1].decode()
            if pidfile.startswith(run + "/vm/"):
                found.append((int(pid), pidfile.split("/")[-2]))
    return found


def heartbeat(node):
    """(sequence, uptime seconds) of the last complete heartbeat the guest wrote on `node`."""
    try:
        text = open(os.path.join(run, "vm", node, "heartbeat.log"), errors="replace").read()
    except OSError:
        return None
    lines = [l for l in text.replace("\r", "").split("\n")[:-1] if l.startswith("hb ")]
    if not lines:
        return None
    fields = lines[-1].split()
    return int(fields[1]), float(fields[2])


def migrations():
    """The driver's migration records (from, to, outcome), oldest first."""
    try:
        lines = open(os.path.join(run, "migrations.jsonl")).read().splitlines()
    except OSError:
        return []
    records = [json.loads(line) for line in lines if line.strip()]
    for r in records:
        for key in ("from", "to"):
            r[key] = r[key]["rawValue"] if isinstance(r[key], dict) else r[key]
    return records


def ledger_node():
    conn = sqlite3.connect(db)
    try:
        row = conn.execute("SELECT node FROM instance WHERE id = 'vm'").fetchone()
        return row[0] if row else None
    finally:
        conn.close()


def settled():
    """Nothing in flight: no plan executing, no swap verifying, every intent closed."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        if conn.execute("SELECT count(*) FROM plan WHERE status = 'executing'").fetchone()[0]:
            return False
        if conn.execute("SELECT count(*) FROM swap WHERE outcome = 'verifying'").fetchone()[0]:
            return False
        open_intents = set()
        for plan, step, phase in conn.execute("SELECT plan, step, phase FROM journal ORDER BY id"):
            if phase == "intent":
                open_intents.add((plan, step))
            elif phase in ("done", "failed", "refused", "recovered"):
                open_intents.discard((plan, step))
        return not open_intents
    except sqlite3.Error:
        return False
    finally:
        conn.close()


def observed():
    status, listing = call("GET", "/instances")
    return status == 200 and any(i["id"] == "vm" and i.get("used") for i in listing.get("instances", []))


def check(label, beat_before):
    """The guest runs once, where the driver's node file and the ledger say, and was not rebooted
    (its heartbeat count, which starts at boot, went on from `beat_before`)."""
    processes = qemu_processes()
    if len(processes) != 1:
        fail(f"{label}: {len(processes)} QEMU processes of the guest run, not 1: {processes}")
    pid, node = processes[0]
    named = open(os.path.join(run, "vm", "node")).read().strip()
    if named != node:
        fail(f"{label}: the guest runs on {node}, the driver's node file says {named}")
    if os.path.exists(os.path.join(run, "vm", "migration")):
        fail(f"{label}: the migration marker is still there")
    wait_for(f"{label}: the ledger saying {node}", lambda: ledger_node() == node, 30, fail)
    first = wait_for(f"{label}: a heartbeat on {node}", lambda: heartbeat(node), 30, fail)
    later = wait_for(f"{label}: the guest's heartbeat going on on {node}", lambda: (heartbeat(node) or (0, 0))[0] > first[0] and heartbeat(node), 30, fail)
    if later[0] < beat_before[0] or later[1] < beat_before[1]:
        fail(f"{label}: the guest's heartbeat is {later}, behind the {beat_before} it had reached: it was booted again")
    return node, later


def cleanup():
    stop()
    for pid, _ in qemu_processes():
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    time.sleep(0.5)
    for base in (f"/sys/fs/cgroup/cpu/{CGROUP}", f"/sys/fs/cgroup/cpuacct/{CGROUP}", f"/sys/fs/cgroup/{CGROUP}"):
        for dirpath, _, _ in sorted(os.walk(base), key=lambda entry: -entry[0].count("/")):
            try:
                os.rmdir(dirpath)
            except OSError:
                pass
    subprocess.run([os.path.join(ROOT, "scripts", "qemu_nodes.sh"), "down", PREFIX], check=False)


def main():
    global token
    for needed in ("vmlinuz", "initramfs.cpio.gz"):
        if not os.path.exists(os.path.join(GUEST, needed)):
            print(f"FAILED: no {GUEST}/{needed}: run Tests/scripts/build_guest.sh")
            sys.exit(1)
    subprocess.run([os.path.join(ROOT, "scripts", "qemu_nodes.sh"), "up", PREFIX, "2", "100mbit"], check=True)
    settings = {
        "demo": False, "driver": "qemu", "interval": 2, "autoSwap": False, "warmupRounds": 1, "cooldownRounds": 0,
        "risk": {"maxMigrationSeconds": 600, "maxDowntimeMilliseconds": 600000},
        "qemu": {
            "runDirectory": run, "cgroupParent": CGROUP,
            "nodes": [{"id": node, "capacity": [4, 4, 0], "namespace": f"{PREFIX}-{k + 1}", "address": f"10.231.0.{k + 1}",
                       "bandwidthMbit": 100} for k, node in enumerate(NODES)],
            "machines": [{"id": "vm", "node": "node-1", "memoryMiB": 256, "kernel": f"{GUEST}/vmlinuz",
                          "initrd": f"{GUEST}/initramfs.cpio.gz", "append": "poolswap.hog=96", "allocation": [1, 0.25],
                          # Pre-copy of a guest that writes this much can be corrupted by QEMU 7.2 under TCG.
                          "migration": "stop-and-copy"}],
        },
    }
    json.dump(settings, open(config, "w"))
    token = subprocess.run([BIN, "token", "create", "--role", "admin", "--database", db], capture_output=True, text=True,
                           check=True).stdout.strip()
    if http("GET", f"http://127.0.0.1:{PORT}/healthz")[0] != 0:
        fail(f"something already answers on port {PORT}")
    start()
    wait_for("the guest observed by a round", observed, 180, fail)
    node, beat = check("after the first start", (0, 0))
    stop()

    def moved(label, environment, kill_when):
        """Asks for a move of the guest, kills the server as `kill_when` says, restarts, checks."""
        nonlocal node, beat
        start(environment)
        marker = os.path.join(run, "vm", "migration")
        for attempt in range(1, 4):
            wait_for(f"{label}: the guest observed", observed, 120, fail)
            wait_for(f"{label}: nothing in flight before the move", settled, 120, fail)
            where = open(os.path.join(run, "vm", "node")).read().strip()
            target = NODES[1 - NODES.index(where)]
            for _ in range(10):
                status, answer = call("POST", "/swap_request", {"nodes": {"vm": target}, "force": True, "dryRun": False})
                if status != 409 or "cooling down" not in json.dumps(answer):
                    break
                time.sleep(2.5)   # the round the last swap took effect in: a round later it may move
            if status != 202:
                fail(f"{label}: the move to {target} was answered {status}: {answer}")
            if not answer.get("id"):
                fail(f"{label}: the move to {target} was queued without a plan id: {answer}")
            plans.append(answer["id"])
            if kill_when is None:
                # A move the driver undid (its check failed) writes no `done`: ask again.
                def ended():
                    if server.poll() is not None:
                        return "killed"
                    return "missed" if call("GET", f"/swaps/{plans[-1]}")[1].get("status") in ("executed", "failed") else None
                if wait_for(f"{label}: the crash point killing the server", ended, 180, fail) == "killed":
                    if server.returncode != -signal.SIGKILL:
                        fail(f"{label}: the server exited with {server.returncode}, not by its crash point")
                    break
                print(f"{label}: attempt {attempt}: the move ended without reaching the crash point; asking again")
                continue
            # The moment may pass unseen (a move done, or undone, between two looks): ask again.
            seen, looks = [False], [0]
            def moment():
                if server.poll() is not None or kill_when(target):
                    return "kill"
                seen[0] = seen[0] or os.path.exists(marker)
                if seen[0] and not os.path.exists(marker):
                    return "missed"
                looks[0] += 1
                if looks[0] % 50 == 0 and call("GET", f"/swaps/{plans[-1]}")[1].get("status") in ("executed", "failed", "held"):
                    return "missed"   # ended without a migration marker (refused before it)
                return None
            outcome = wait_for(f"{label}: the moment to kill", moment, 180, fail, pause=0.02)
            if server.poll() is not None:
                fail(f"{label}: the server exited with {server.returncode} before it was killed")
            if outcome == "kill":
                server.kill()
                server.wait()
                break
            print(f"{label}: attempt {attempt} missed the moment (the move ended first); asking again")
        else:
            fail(f"{label}: three moves ended before the moment to kill came")
        killed_during = os.path.exists(os.path.join(run, "vm", "migration"))
        before = len(migrations())
        start({"POOLSWAP_AUTO_SWAP": "false"})
        wait_for(f"{label}: nothing left in flight after the restart", settled, 120, fail)
        stop()
        node, beat = check(label, beat)
        since = [f"{r['from']}→{r['to']} {r['outcome'][:40]}" for r in migrations()[before:]]
        print(f"{label}: killed {'with' if killed_during else 'without'} a migration under way; after the restart "
              f"{'; '.join(since) or 'no migration'}; the guest runs once, on {node}, where the ledger says; heartbeat {beat[0]}, uptime {beat[1]:.0f} s")
        return killed_during

    def streaming(target):
        marker = os.path.join(run, "vm", "migration")
        if not os.path.exists(marker):
            streaming.since = None
            return False
        streaming.since = streaming.since or time.time()
        return time.time() - streaming.since >= 2
    streaming.since = None

    under_way = 0
    under_way += moved("killed while QEMU streams the guest", {}, streaming)
    def verifying(target):
        """The guest runs on the target (it has written there) and the move is not committed."""
        try:
            return os.path.exists(os.path.join(run, "vm", "migration")) and os.path.getsize(os.path.join(run, "vm", target, "heartbeat.log")) > 0
        except OSError:
            return False

    under_way += moved("killed while the target is verified", {}, verifying)
    for point in ("intent:1", "instance:1", "done:1"):
        moved(f"killed right after {point}", {"POOLSWAP_CRASH_AFTER": point}, None)
    if under_way < 2:
        fail(f"only {under_way} of the 2 outside kills came while a migration was under way")
    processes = qemu_processes()
    print(f"qemu crash test passed: 5 kills, {under_way} in the middle of a migration; the guest ran once throughout, on {processes[0][1]}")


signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))   # a CI timeout still cleans up
try:
    main()
finally:
    cleanup()
    shutil.rmtree(work, ignore_errors=True)
