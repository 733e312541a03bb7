#!/usr/bin/env bash
# Times `poolswap recommend` (release build) on the shared test vectors and on generated swap
# problems, and prints objective, status, certified gap, the time of each phase and peak
# memory; solves every generated problem with HiGHS too (Benchmarks/highs_swap.py, highspy,
# same time limit) and prints both side by side; records the search's trajectory (--trace)
# and the warm and cold re-solves after 1% of demands change: the figures of BENCHMARKS.md.
#
# usage: Benchmarks/recommend.sh [SHARED_DIR]   (default ../shared; needs python3 with numpy
#        and highspy, installed from PyPI when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${1:-../shared}
gen="$shared/tools/swapgen.py"
[ -f "$gen" ] || { echo "no generator at $gen" >&2; exit 1; }
python3 -c 'import numpy' 2>/dev/null || pip install -q numpy
python3 -c 'import highspy' 2>/dev/null || pip install -q highspy

swift build -c release --product poolswap >/dev/null
bin=.build/release/poolswap
work=.build/bench-swap
mkdir -p "$work"

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "swift: $(swift --version 2>&1 | head -1)"

run() {   # name, problem file, time limit, reference
    local name=$1 problem=$2 limit=$3 reference=$4
    for attempt in 1 2 3; do
        /usr/bin/time -f "%e %M" -o "$work/time" "$bin" recommend --input "$problem" --output "$work/$name.solution.json" \
            --time-limit "$limit" 2> "$work/stderr" || true
        read -r wall rss < "$work/time"
        printf '%-14s run %d: %s | %s | wall %.2f s, peak %d MiB | reference %s\n' "$name" "$attempt" \
            "$(grep -v '^ *$' "$work/stderr" | head -1)" "$(sed -n 2p "$work/stderr" | sed 's/^[0-9]* nodes, [0-9]* instances; //')" \
            "$wall" "$((rss / 1024))" "$reference"
    done
    "$bin" recommend --input "$problem" --check "$work/$name.solution.json" | tail -1 | sed "s/^/$name checker: /"
}

for size in tiny small medium; do
    for variant in fixed mig; do
        f="$shared/data/swap-problems/$size-$variant.problem.json"
        [ -f "$f" ] || continue
        ref=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['objective'])" "${f%.problem.json}.highs.json")
        run "$size-$variant" "$f" 10 "HiGHS $ref (optimal)"
    done
done

highs() {   # name, problem file, time limit: HiGHS's line beside ours, its solution checked by ours
    local name=$1 problem=$2 limit=$3
    local line
    # HiGHS's seconds and limit count its solve only, not the model's construction in Python.
    line=$(python3 Benchmarks/highs_swap.py "$problem" --time-limit "$limit" --output "$work/$name.highs.json" | tail -1) \
        || line="highs_swap.py failed (exit $?)"
    printf '%-14s HiGHS (limit %s s): %s\n' "$name" "$limit" "$line"
    if [ -f "$work/$name.highs.json" ]; then
        { "$bin" recommend --input "$problem" --check "$work/$name.highs.json" || true; } | head -1 | sed "s/^/$name HiGHS checked: /"
    fi
    rm -f "$work/$name.highs.json"
}

trajectory() {   # name, problem, time limit: the search's trajectory, condensed
    local name=$1 problem=$2 limit=$3
    "$bin" recommend --input "$problem" --output "$work/$name.traced.json" --time-limit "$limit" --trace "$work/$name.trace.csv" 2>/dev/null || true
    echo "$name trajectory (seconds, work, phase, objective, bound, gap):"
    sed 1d "$work/$name.trace.csv" | awk -F, 'NR <= 3 || $3 == "done" || NR % 5 == 0 { print "   ", $0 }'
}

# Small generated migration problems (the shared small vector's size), several seeds.
for seed in 1 2 3; do
    f="$work/mig-200-$seed.json"
    [ -f "$f" ] || python3 "$gen" --nodes 10 --instances 200 --seed "$seed" --migrations --out "$f"
    run "mig-200-s$seed" "$f" 60 "(HiGHS below)"
    highs "mig-200-s$seed" "$f" 60
done

# Medium migration problems, several seeds: where HiGHS proves its optimum.
for seed in 1 2 3 4 5; do
    f="$work/mig-1k-$seed.json"
    [ -f "$f" ] || python3 "$gen" --nodes 50 --instances 1000 --seed "$seed" --migrations --out "$f"
    run "mig-1k-s$seed" "$f" 60 "(HiGHS below)"
    highs "mig-1k-s$seed" "$f" 60
done
trajectory mig-1k-s3 "$work/mig-1k-3.json" 60

[ -f "$work/fixed-100k.json" ] || python3 "$gen" --nodes 5000 --instances 100000 --seed 5 --out "$work/fixed-100k.json"
[ -f "$work/mig-10k.json" ] || python3 "$gen" --nodes 500 --instances 10000 --seed 4 --migrations --out "$work/mig-10k.json"
[ -f "$work/mig-100k.json" ] || python3 "$gen" --nodes 5000 --instances 100000 --seed 5 --migrations --out "$work/mig-100k.json"
[ -f "$work/mig-100k.json.gz" ] || gzip -k "$work/mig-100k.json"
run fixed-100k "$work/fixed-100k.json" 60 "(HiGHS below)"
highs fixed-100k "$work/fixed-100k.json" 60
run mig-10k "$work/mig-10k.json" 10 "(HiGHS below)"
highs mig-10k "$work/mig-10k.json" 10
run mig-100k "$work/mig-100k.json" 60 "(HiGHS below)"
run mig-100k-gz "$work/mig-100k.json.gz" 60 "the same problem, gzip-compressed"
highs mig-100k "$work/mig-100k.json" 60
trajectory mig-10k "$work/mig-10k.json" 10
trajectory mig-100k "$work/mig-100k.json" 60

# Incremental: 1% of the demands change; warm-started from the first solution, then cold.
for name in fixed-100k mig-10k mig-100k; do
    echo "$name:"
    "$bin" recommend --input "$work/$name.json" --output "$work/$name.resolved.json" --time-limit 60 --resolve-after-change 0.01 2>&1 \
        | grep 're-solve' | sed 's/^/    /'
done
