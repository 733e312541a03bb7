#!/usr/bin/env bash
# Times `poolswap recommend` (release build) on generated swap problems at the sizes of
# issue 4 and on the shared test vectors, and prints objective, status, certified gap,
# the time of each phase and peak memory: the figures that go into BENCHMARKS.md.
#
# usage: Benchmarks/recommend.sh [SHARED_DIR]   (default ../shared; needs python3 with numpy)
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${1:-../shared}
gen="$shared/tools/swapgen.py"
[ -f "$gen" ] || { echo "no generator at $gen" >&2; exit 1; }
python3 -c 'import numpy' 2>/dev/null || pip install -q numpy

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

[ -f "$work/fixed-100k.json" ] || python3 "$gen" --nodes 5000 --instances 100000 --seed 5 --out "$work/fixed-100k.json"
[ -f "$work/mig-10k.json" ] || python3 "$gen" --nodes 500 --instances 10000 --seed 4 --migrations --out "$work/mig-10k.json"
[ -f "$work/mig-100k.json" ] || python3 "$gen" --nodes 5000 --instances 100000 --seed 5 --migrations --out "$work/mig-100k.json"
run fixed-100k "$work/fixed-100k.json" 60 "HiGHS 405080.57 in 125 s"
run mig-10k "$work/mig-10k.json" 10 "HiGHS 34115.26 after 300 s, gap 0.6%"
run mig-100k "$work/mig-100k.json" 60 "HiGHS 405080.57 after 300 s (no migration), LP bound 355394.20"
