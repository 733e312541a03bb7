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
    python3 - "$@" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
tiers = len(sys.argv) > 2
print("| policy | cpu slack | memory slack | cpu short (core-h) | memory short, OOM kills | throttled core-h | pool allocated, cpu / memory | changes / VM-day |")
print("|---|---|---|---|---|---|---|---|")
for p in doc["policies"]:
    s, n, f, u = p["slack"], p["shortfallIntervalsByResource"], p["shortfall"], p["utilisation"]
    print(f"| {p['name']} | {s['cpu']['percent']:.1f}% | {s['memory']['percent']:.1f}% | {n['cpu']:,} ({f['cpu']['total']:.0f}) "
          f"| {n['memory']:,}, {p['oomKills']} | {p['throttledCoreHours']:.0f} "
          f"| {u['cpu']['allocatedPercent']:.1f}% / {u['memory']['allocatedPercent']:.1f}% | {p['changesPerInstanceDay']:.2f} |")
if tiers:
    print()
    print("| policy | tier | VMs' intervals | cpu slack | memory slack | cpu short | memory short, OOM kills | throttled core-h | changes / VM-day |")
    print("|---|---|---|---|---|---|---|---|---|")
    for p in doc["policies"]:
        if p["policy"] not in ("percentile", "predictive"):
            continue
        for t in p["tiers"]:
            s, n = t["slack"], t["shortfallIntervalsByResource"]
            print(f"| {p['name']} | {t['tier']} | {t['instanceIntervals']:,} | {s['cpu']['percent']:.1f}% | {s['memory']['percent']:.1f}% "
                  f"| {n['cpu']:,} | {n['memory']:,}, {t['oomKills']} | {t['throttledCoreHours']:.0f} | {t['changesPerInstanceDay']:.2f} |")
PY
}

/usr/bin/time -f "%e %M" -o "$out/time" "$bin" simulate --data "$data" --policy static,percentile,predictive,oracle \
    --from 2013-09-15 --to 2013-09-29 --no-progress --json > "$out/one.json"
read -r wall rss < "$out/time"
echo "evaluation, default settings: wall $(python3 -c "print(f'{$wall / 60:.1f}')") min, peak RSS $((rss / 1024)) MiB"
table "$out/one.json" tiers
cp "$out/one.json" "${POOLSWAP_RESULTS:-/tmp}/closed-loop-default.json"

if [ "$sweep" = 1 ]; then
    /usr/bin/time -f "%e %M" -o "$out/time" "$bin" simulate --data "$data" --policy static,percentile,predictive,oracle \
        --from 2013-09-15 --to 2013-09-29 --risk 0.5,1,1.5,2.5 --margin 0,0.15,0.3,0.6 --no-progress --json \
        --tradeoff-svg docs/tradeoff-2013-09-15.svg > "$out/sweep.json"
    read -r wall rss < "$out/time"
    echo
    echo "sweep (4 risk levels, 4 margins, one training): wall $(python3 -c "print(f'{$wall / 60:.1f}')") min, peak RSS $((rss / 1024)) MiB"
    table "$out/sweep.json"
    cp "$out/sweep.json" "${POOLSWAP_RESULTS:-/tmp}/closed-loop-sweep.json"
    "$bin" simulate --data "$data" --policy percentile --from 2013-09-15 --to 2013-09-29 --percentile-headroom 0.02 --json > "$out/headroom.json"
    table "$out/headroom.json" | tail -n +3
fi
