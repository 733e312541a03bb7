#!/usr/bin/env bash
# Load on `poolswap serve` (release build) with 10,000 registered instances on 100 nodes:
# registration, then POST /usage batches of 1,000 samples (samples stored per second). Needs
# wrk (Debian). GET /prediction is measured by Benchmarks/prediction.sh, on instances with
# history and networks.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get install -y -q wrk >/dev/null; }
swift build -c release --product poolswap >/dev/null
bin=.build/release/poolswap
dir=$(mktemp -d)
port=18500
echo '{"demo": false, "autoSwap": false}' > "$dir/config.json"
"$bin" serve --config "$dir/config.json" --database "$dir/pool.sqlite" --port $port > "$dir/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
token=$("$bin" token create --role admin --database "$dir/pool.sqlite")

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); server and load generator share them"
python3 - "$port" "$token" <<'PY'
import http.client, json, sys, time
port, token = int(sys.argv[1]), sys.argv[2]
c = http.client.HTTPConnection("127.0.0.1", port)
h = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
def post(path, body):
    c.request("POST", path, json.dumps(body), h); r = c.getresponse(); r.read(); assert r.status < 300, (path, r.status)
t = time.time()
for n in range(100):
    post("/nodes", {"id": f"n{n}", "capacity": {"cpu": 256, "memory": 1024, "gpu": 0}})
for i in range(10000):
    post("/instances", {"id": f"vm{i}", "tenant": f"t{i % 10}", "node": f"n{i % 100}",
                        "allocation": {"cpu": 2, "memory": 8, "gpu": 0}, "sla": {"maximum": {"cpu": 8, "memory": 32, "gpu": 0}}})
print(f"registered 100 nodes and 10,000 instances in {time.time() - t:.1f} s (one request each, keep-alive)")
PY
before=$(curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:$port/metrics" | awk '/^poolswap_samples_accepted_total/{print $2}')
echo "--- POST /usage, batches of 1,000 samples, 2 threads x 1 connection, 15 s"
wrk -t2 -c2 -d15s --latency -H "Authorization: Bearer $token" -s Benchmarks/service/usage.lua "http://127.0.0.1:$port" \
    | grep -E "Requests/sec|Latency|99%|requests in|Non-2xx"
after=$(curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:$port/metrics" | awk '/^poolswap_samples_accepted_total/{print $2}')
echo "samples stored: $((after - before)) in 15 s = $(( (after - before) / 15 )) samples/s"
