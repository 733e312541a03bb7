#!/usr/bin/env bash
# Times `poolswap simulate` on the 130-VM Bitbrains development set in a release build,
# with peak memory, and checks the figures the spine promises. Prints the numbers that go
# into BENCHMARKS.md.
#
# usage: Benchmarks/simulate.sh [DATA_DIR]   (default ../shared/data/bitbrains-rnd)
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/data/bitbrains-rnd}
[ -d "$data" ] || { echo "no data at $data: the benchmark needs the full development set" >&2; exit 1; }

swift build -c release --product poolswap >/dev/null
bin=.build/release/poolswap
out=$(mktemp -d)

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "swift: $(swift --version 2>&1 | head -1)"

for run in 1 2 3; do
    /usr/bin/time -f "%e %M" -o "$out/time.$run" "$bin" simulate --data "$data" --policy static,percentile,oracle --json > "$out/result.json"
    read -r wall rss < "$out/time.$run"
    python3 - "$out/result.json" "$wall" "$rss" "$run" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
print(f"run {sys.argv[4]}: {doc['instances']} VMs x {doc['slots']} slots, {doc['rows']} rows: "
      f"wall {float(sys.argv[2]):.2f} s (read {doc['readSeconds']:.2f} s, replay of 3 policies {doc['simulateSeconds']:.2f} s), "
      f"peak RSS {int(sys.argv[3]) / 1024:.0f} MiB")
PY
done

python3 - "$out/result.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
p = {x["name"]: x for x in doc["policies"]}
print()
print("| policy | cpu slack core-h (%) | cpu shortfall core-h (%) | memory slack GiB-h (%) | memory shortfall GiB-h (%) | shortfall intervals | resizes | changes / instance-day |")
print("|---|---|---|---|---|---|---|---|")
for name, x in p.items():
    s, f = x["slack"], x["shortfall"]
    print(f"| {name} | {s['cpu']['total']:.0f} ({s['cpu']['percent']:.1f}%) | {f['cpu']['total']:.0f} ({f['cpu']['percent']:.2f}%) | "
          f"{s['memory']['total']:.0f} ({s['memory']['percent']:.1f}%) | {f['memory']['total']:.0f} ({f['memory']['percent']:.2f}%) | "
          f"{x['shortfallIntervals']} | {x['resizes']} | {x['changesPerInstanceDay']:.3f} |")
ok = all(p["oracle"]["slack"][r]["total"] < p["percentile"]["slack"][r]["total"] < p["static"]["slack"][r]["total"] for r in ("cpu", "memory"))
ok = ok and all(p["oracle"]["shortfall"][r]["total"] == 0 for r in ("cpu", "memory"))
print()
print("check: oracle slack < percentile slack < static slack, oracle shortfall 0:", "yes" if ok else "NO")
sys.exit(0 if ok else 1)
PY
