#!/usr/bin/env python3
"""kill -9 of `poolswap serve` during ingest and during plans loses no acknowledged
sample or plan.

Starts the real server on a fresh SQLite file, registers a pool, then pushes usage
batches and queues swap plans from two threads while the loop runs; kills the server
with SIGKILL mid-stream, restarts it on the same file and checks that every sample
and plan the server acknowledged (HTTP 200 / 202) is there.

usage: Tests/scripts/crash_test.py [path/to/poolswap]
"""
import json, os, signal, sqlite3, subprocess, sys, tempfile, threading, time, urllib.request, urllib.error

BIN = sys.argv[1] if len(sys.argv) > 1 else ".build/debug/poolswap"
PORT = 18480
work = tempfile.mkdtemp(prefix="poolswap-crash-")
db = os.path.join(work, "pool.sqlite")
config = os.path.join(work, "config.json")
json.dump({"demo": False, "interval": 300, "warmupRounds": 0}, open(config, "w"))


def start():
    log = open(os.path.join(work, "serve.log"), "a")
    proc = subprocess.Popen([BIN, "serve", "--config", config, "--database", db, "--port", str(PORT), "--no-demo"],
                            stdout=log, stderr=log)
    deadline = time.time() + 60  # a restart replays recent history first
    while time.time() < deadline and proc.poll() is None:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{PORT}/healthz", timeout=1)
            return proc
        except Exception:
            time.sleep(0.05)
    sys.exit("server did not start: " + open(os.path.join(work, "serve.log")).read()[-2000:])


def call(method, path, body=None, token=None):
    req = urllib.request.Request(f"http://127.0.0.1:{PORT}{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, json.loads(r.read() or b"{}")


token = subprocess.run([BIN, "token", "create", "--role", "admin", "--database", db],
                       capture_output=True, text=True, check=True).stdout.strip()
server = start()
call("POST", "/nodes", {"id": "n1", "capacity": {"cpu": 64, "memory": 256, "gpu": 0}}, token)
instances = [f"vm{k}" for k in range(40)]
for i in instances:
    call("POST", "/instances", {"id": i, "tenant": "t", "node": "n1", "allocation": {"cpu": 1, "memory": 4, "gpu": 0},
                                "sla": {"minimum": {"cpu": 0.25, "memory": 1, "gpu": 0}, "maximum": {"cpu": 4, "memory": 8, "gpu": 0}}}, token)

acked_samples, acked_plans = [], []
stop = threading.Event()
t0 = 1_700_000_000


def ingest():
    k = 0
    while not stop.is_set():
        batch = [{"instance": i, "time": t0 + k, "cpu": 0.5, "memory": 2} for i in instances]
        try:
            status, receipt = call("POST", "/usage", {"samples": batch}, token)
            if status == 200 and receipt["accepted"] == len(batch):
                acked_samples.extend((s["instance"], s["time"]) for s in batch)
        except Exception:
            pass  # in flight when killed: not acknowledged
        k += 1


def plans():
    while not stop.is_set():
        try:
            status, answer = call("POST", "/swap_request", {"dryRun": False}, token)
            if status == 202:
                acked_plans.append(answer["id"])
        except Exception:
            pass
        time.sleep(0.02)


threads = [threading.Thread(target=ingest), threading.Thread(target=plans)]
for t in threads:
    t.start()
time.sleep(3)
server.send_signal(signal.SIGKILL)
server.wait()
stop.set()
for t in threads:
    t.join()

conn = sqlite3.connect(db)
stored = set(conn.execute("SELECT instance, time FROM usage"))
plan_ids = {row[0] for row in conn.execute("SELECT id FROM plan")}
conn.close()
lost_samples = [s for s in acked_samples if s not in stored]
lost_plans = [p for p in acked_plans if p not in plan_ids]
print(f"acknowledged before kill -9: {len(acked_samples)} samples, {len(acked_plans)} plans; "
      f"lost: {len(lost_samples)} samples, {len(lost_plans)} plans")

server = start()  # restarts on the same file: recovery must not lose them either
status, _ = call("GET", f"/swaps/{acked_plans[-1]}", token=token) if acked_plans else (200, None)
server.send_signal(signal.SIGTERM)
server.wait(timeout=20)
ok = acked_samples and acked_plans and not lost_samples and not lost_plans and status == 200
sys.exit(0 if ok else f"FAILED: lost {lost_samples[:5]} {lost_plans[:5]}, acked {len(acked_samples)}/{len(acked_plans)}, status {status}")
