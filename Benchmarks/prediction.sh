#!/usr/bin/env bash
# GET /prediction on `poolswap serve` (release build) in the state users run: 10,000
# instances with 8 days of stored samples (the bundled trace tiled, `poolswap bench
# seed-pool`), the networks trained on them as the service trains them; the server
# warm-starts every instance's forecasts from the store and installs the networks. wrk
# measures requests/s and latency percentiles. Needs wrk (Debian).
#
# usage: Benchmarks/prediction.sh [INSTANCES] [DAYS]
#        SEEDED=/tmp/…/pool.sqlite Benchmarks/prediction.sh   # reuse an earlier run's seeded store
set -euo pipefail
cd "$(dirname "$0")/.."
instances=${1:-10000}
days=${2:-8}
command -v wrk >/dev/null || { apt-get install -y -q wrk >/dev/null; }
swift build -c release --product poolswap >/dev/null
bin=.build/release/poolswap
dir=$(mktemp -d)
port=18510
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); server and load generator share them"
if [ -n "${SEEDED:-}" ]; then
    # A store seeded by an earlier run (its pool.sqlite): the seeding and training skipped.
    cp "$SEEDED" "$dir/pool.sqlite"
    echo "reusing the seeded store $SEEDED"
else
    "$bin" bench seed-pool --database "$dir/pool.sqlite" --instances "$instances" --days "$days"
fi
echo '{"demo": false, "autoSwap": false}' > "$dir/config.json"
started=$(date +%s.%N)
"$bin" serve --config "$dir/config.json" --database "$dir/pool.sqlite" --port $port > "$dir/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 18000); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
echo "server up (warm start of $instances instances included) in $(echo "$(date +%s.%N) - $started" | bc | xargs printf '%.1f') s"
token=$("$bin" token create --role admin --database "$dir/pool.sqlite")
python3 - "$dir/pool.sqlite" "$dir/ids.txt" "$port" "$token" <<'PY'
import json, sqlite3, sys, time, urllib.request
db, out, port, token = sys.argv[1:]
headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
def call(path, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode() if body else None, headers=headers)
    return json.load(urllib.request.urlopen(req))
con = sqlite3.connect(db)
ids = [r[0] for r in con.execute("SELECT id FROM instance ORDER BY id")]
open(out, "w").write("\n".join(ids) + "\n")
# A live pool: every instance sends its sample of the current slot (its last stored values),
# and the next round observes it, so that the networks forecast from an observed last slot.
# Sent after the first round, as the runs recorded in BENCHMARKS.md did. (Before it the pool's
# clock is where the warm start began; a live pool now takes samples of the present anyway.)
def rounds():
    text = urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers=headers)).read().decode()
    return int(float(next(l.split()[1] for l in text.splitlines() if l.startswith("poolswap_rounds_total"))))
began = time.time()
while rounds() < 1:
    assert time.time() - began < 660, "no round ran in 11 minutes"
    time.sleep(2)
last = {}
for i in ids:
    row = con.execute("SELECT cpu, memory FROM usage WHERE instance = ? ORDER BY time DESC LIMIT 1", (i,)).fetchone()
    if row: last[i] = row
now = int(time.time())
accepted = 0
for k in range(0, len(ids), 1000):
    accepted += call("/usage", {"samples": [{"instance": i, "time": now, "cpu": last[i][0], "memory": last[i][1]} for i in ids[k:k + 1000] if i in last]})["accepted"]
assert accepted == len(last), f"{accepted} of {len(last)} samples accepted"
waited = time.time()
probe = ids[0]
while call(f"/prediction?instance={probe}")["lastObserved"] < now // 300 * 300:
    assert time.time() - waited < 660, "no round observed the posted slot"
    time.sleep(2)
print(f"posted one live slot for {len(last)} instances; the round observed it {time.time() - waited:.0f} s later")
# Every answer the benchmark asks for is a real forecast: check a spread of them.
models, checked = {}, 0
for i in ids[:: max(1, len(ids) // 200)]:
    body = call(f"/prediction?instance={i}&horizon=5m&horizon=15m&horizon=30m")
    for p in body["predictions"]:
        for resource in ("cpu", "memory"):
            f = p[resource]
            models[f["model"]] = models.get(f["model"], 0) + 1
            assert f["model"] != "none", (i, p)
    checked += 1
net = call("/forecaster")
print(f"{checked} instances checked, every forecast has a model behind it: " + ", ".join(f"{k} {v}" for k, v in sorted(models.items(), key=lambda kv: -kv[1])))
print("networks installed: " + ", ".join(f"{n['resource']} ({n.get('source', '')})" for n in net.get("networks", [])))
assert models.get("gru", 0) > 0, "the networks forecast nothing"
PY
# Each round stores every instance's answer for the default horizons once its forecasts are
# made (the loop's "predictions" step): both runs should find them stored.
curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$port/metrics" \
    | awk '/^poolswap_loop_step_duration_seconds_sum\{step="predictions"\}/ { sum = $2 } /^poolswap_loop_step_duration_seconds_count\{step="predictions"\}/ { n = $2 }
           END { printf "rounds store every answer: %.2f s a round on average over %d rounds\n", sum / (n > 0 ? n : 1), n }'
for pass in "first 15 s" "next 15 s"; do
    echo "--- GET /prediction (3 horizons, cpu and memory), random instance, 2 threads, 64 connections: $pass"
    POOLSWAP_IDS="$dir/ids.txt" wrk -t2 -c64 -d15s --latency -H "Authorization: Bearer $token" -s Benchmarks/service/prediction.lua "http://127.0.0.1:$port" \
        | grep -E "Requests/sec|Latency  |50%|90%|99%|requests in|Non-2xx"
done
echo "server peak RSS: $(awk '/VmHWM/{print int($2 / 1024)}' /proc/$pid/status) MiB"
echo "files: $dir"
