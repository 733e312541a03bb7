#!/usr/bin/env bash
# The closed loop on the 130-VM development set: `poolswap simulate` with the service's own
# loop (`predictive`, default settings) beside static, the VPA-style percentile and the oracle,
# accounted over the PSF-1 window, timed with its peak memory. With --sweep, also the risk and
# margin sweep of docs/evaluation.md and its trade-off chart.
#
# usage: Benchmarks/closed_loop.sh [--sweep] [DATA_DIR]   (default ../shared/data/bitbrains-rnd)
set -euo pipefail
cd "$(dirname "$0")/.."
sweep=0
if [ "${1:-}" = "--sweep" ]; then sweep=1; shift; fi
data=${1:-../shared/data/bitbrains-rnd}
[ -d "$data" ] || { echo "no data at $data: the benchmark needs the full development set" >&2; exit 1; }

swift build -c release --product poolswap >/dev/null
bin=.build/release/poolswap
out=$(mktemp -d)
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

table() {
    python3 - "$1" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
print("| policy | cpu slack | memory slack | cpu short | memory short (OOM) | throttled core-h | changes / VM-day |")
print("|---|---|---|---|---|---|---|")
for p in doc["policies"]:
    s, n = p["slack"], p["shortfallIntervalsByResource"]
    print(f"| {p['name']} | {s['cpu']['percent']:.1f}% | {s['memory']['percent']:.1f}% | {n['cpu']:,} | {n['memory']:,} "
          f"| {p['throttledCoreHours']:.0f} | {p['changesPerInstanceDay']:.2f} |")
PY
}

/usr/bin/time -f "%e %M" -o "$out/time" "$bin" simulate --data "$data" --policy static,percentile,predictive,oracle \
    --from 2013-09-15 --to 2013-09-29 --no-progress --json > "$out/one.json"
read -r wall rss < "$out/time"
echo "evaluation, default settings: wall $(python3 -c "print(f'{$wall / 60:.1f}')") min, peak RSS $((rss / 1024)) MiB"
table "$out/one.json"

if [ "$sweep" = 1 ]; then
    /usr/bin/time -f "%e %M" -o "$out/time" "$bin" simulate --data "$data" --policy static,percentile,predictive,oracle \
        --from 2013-09-15 --to 2013-09-29 --risk 0.5,1,1.5,2.5 --margin 0,0.15,0.3,0.6 --no-progress --json \
        --tradeoff-svg docs/tradeoff-2013-09-15.svg > "$out/sweep.json"
    read -r wall rss < "$out/time"
    echo
    echo "sweep (4 risk levels, 4 margins, one training): wall $(python3 -c "print(f'{$wall / 60:.1f}')") min, peak RSS $((rss / 1024)) MiB"
    table "$out/sweep.json"
    "$bin" simulate --data "$data" --policy percentile --from 2013-09-15 --to 2013-09-29 --percentile-headroom 0.02 --json > "$out/headroom.json"
    table "$out/headroom.json" | tail -n +3
fi
