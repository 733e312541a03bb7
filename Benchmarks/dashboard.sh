#!/usr/bin/env bash
# The dashboard's instance page for an instance with 90 days of history, in a pool of 10,000
# instances (`poolswap bench seed-pool`, 8 days each; one instance gets 90 days of 5-minute
# samples, its 8 days repeated, and a swap every 6 hours), served by `poolswap serve` (release
# build). The server
# warm-starts the last day only (`warmStartSlots` 288) so that it is up in minutes; the page
# reads its 90 days from the store at every request. Prints the time of 30 requests of the
# page (curl on loopback: request to last byte), after 3 unmeasured ones.
#
# usage: Benchmarks/dashboard.sh
#        SEEDED=/tmp/…/pool.sqlite Benchmarks/dashboard.sh   # reuse a store seeded by prediction.sh
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product poolswap >/dev/null
bin=.build/release/poolswap
dir=$(mktemp -d)
port=18520
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
if [ -n "${SEEDED:-}" ]; then
    cp "$SEEDED" "$dir/pool.sqlite"
else
    "$bin" bench seed-pool --database "$dir/pool.sqlite" --instances 10000 --days 8
fi
id=$(python3 - "$dir/pool.sqlite" <<'PY'
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
instance = con.execute("SELECT id FROM instance ORDER BY id LIMIT 1").fetchone()[0]
rows = con.execute("SELECT time, cpu, memory, gpu FROM usage WHERE instance = ? ORDER BY time", (instance,)).fetchall()
first, span = rows[0][0], rows[-1][0] - rows[0][0] + 300
older = [(instance, t - k * span, c, m, g) for k in range(1, 12) for (t, c, m, g) in rows if t - k * span > rows[-1][0] - 90 * 86_400]
con.executemany("INSERT OR IGNORE INTO usage VALUES (?, ?, ?, ?, ?)", older)
n, lo, hi = con.execute("SELECT count(*), min(time), max(time) FROM usage WHERE instance = ?", (instance,)).fetchone()
# Its swaps: one every 6 hours over the 90 days (360), a tenth of them rolled back, so that the
# page draws the allocation line, the marks and the swap table as a busy instance's.
tenant, node = con.execute("SELECT tenant, node FROM instance WHERE id = ?", (instance,)).fetchone()
swaps = []
for k, t in enumerate(range(lo + 3_600, hi, 6 * 3_600)):
    before, after = (2.0 + k % 3, 8.0, 0.0), (2.0 + (k + 1) % 3, 8.0 + k % 2, 0.0)
    rolled = k % 10 == 9
    swaps.append((f"bench-{k}", instance, tenant, t, node, node, ",".join(map(str, before)), ",".join(map(str, after)),
                  0.5, 0.4, 0.6, 0.7, 12.0, "rolledBack" if rolled else "committed", "bench" if rolled else None,
                  t + 600 if rolled else None, ",".join(map(str, before)) if rolled else None))
con.execute("DELETE FROM swap WHERE plan LIKE 'bench-%'")
con.executemany("""INSERT INTO swap (plan, instance, tenant, time, from_node, to_node, before, after, predicted, realised,
                                     utilisation_before, utilisation_after, duration_ms, outcome, reason, ended_at, restored)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""", swaps)
con.commit()
print(instance)
print(f"{instance}: {n} samples over {(hi - lo) / 86400:.1f} days, {len(swaps)} swaps", file=sys.stderr)
PY
)
echo '{"demo": false, "autoSwap": false, "warmStartSlots": 288}' > "$dir/config.json"
"$bin" serve --config "$dir/config.json" --database "$dir/pool.sqlite" --port $port > "$dir/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 6000); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
token=$("$bin" token create --role admin --database "$dir/pool.sqlite")
url="http://127.0.0.1:$port/ui/instances/$id?days=90"
size=$(curl -sf -H "Authorization: Bearer $token" "$url" | wc -c)
echo "instance page of $id, 90 days: $size bytes of HTML"
for _ in 1 2 3; do curl -sf -o /dev/null -H "Authorization: Bearer $token" "$url"; done
for _ in $(seq 30); do curl -sf -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $token" "$url"; done \
    | sort -n | awk '{ t[NR] = $1 * 1000 } END { printf "30 requests: median %.1f ms, p90 %.1f ms, max %.1f ms\n", t[15], t[27], t[30] }'
echo "files: $dir"
