#!/usr/bin/env bash
# Backtest of the forecaster (release build, training included) under PSF-1 on the 130-VM
# development set, or under PSF-G on GenTD26's GPU trace (`--protocol psfg`): wall time, peak
# memory, and the scores of ../shared/tools/psf1/score.py or psfg/score.py against the goals
# (0.85 × the best anchor's MASE, 0.8 × its MSIS90; for PSF-G the best eligible anchor's).
#
# usage: Benchmarks/backtest.sh [DATA_DIR] [extra backtest options...]
#        Benchmarks/backtest.sh ../shared/data/gentd26-gpu --protocol psfg [--network none] [--train-on-half]
#        OPENBLAS=1 Benchmarks/backtest.sh ...   # built with the OpenBLAS trait (libopenblas-dev)
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/data/bitbrains-rnd}
shift || true
protocol=psf1
previous=
for argument in "$@"; do
    [ "$previous" = --protocol ] && protocol=$argument
    previous=$argument
done
score=../shared/tools/$protocol/score.py
[ -d "$data" ] || { echo "no data at $data" >&2; exit 1; }
python3 -c "import pandas" 2>/dev/null || pip install -q pandas
if [ "${OPENBLAS:-0}" = 1 ]; then
    build=(--traits OpenBLAS --scratch-path .build-blas); bin=.build-blas/release/poolswap
else
    build=(); bin=.build/release/poolswap
fi
swift build -c release --product poolswap "${build[@]}" >/dev/null
out=$(mktemp -d)

/usr/bin/time -f "%e %M" -o "$out/time" "$bin" backtest --data "$data" --output "$out/forecasts.csv.gz" "$@" 2> "$out/stderr"
tr '\r' '\n' < "$out/stderr" | grep -v '^backtest \[' | grep -v '^$'
read -r wall rss < "$out/time"
echo "backtest: wall $wall s, peak RSS $((rss / 1024)) MiB"
python3 "$score" --data "$data" --forecasts "$out/forecasts.csv.gz" --json "$out/score.json" | tail -8
python3 - "$out/score.json" "$protocol" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
# Best anchors of forecast-anchors.md and gpu-forecast-anchors.md: (MASE, MSIS90) per target and horizon.
best = {("cpu", 1): (0.870, 14.0), ("cpu", 3): (1.241, 17.9), ("cpu", 6): (1.411, 16.3),
        ("memory", 1): (0.910, 7.7), ("memory", 3): (1.094, 8.5), ("memory", 6): (1.118, 8.1),
        ("gpu_util", 5): (0.501, 3.081), ("gpu_util", 16): (0.528, 3.271), ("gpu_util", 32): (0.522, 3.164),
        ("gpu_mem", 5): (1.096, 11.945), ("gpu_mem", 16): (1.406, 13.967), ("gpu_mem", 32): (1.484, 15.031)}
print()
print("| target | h | MASE | goal (0.85 x best) | MSIS90 | goal (0.8 x best) | cov80 | cov90 | cov95 | missing |")
print("|---|---|---|---|---|---|---|---|---|---|")
for r in doc["results"]:
    key = (r["target"], int(r["horizon"]))
    mase, msis = best[key]
    print(f"| {key[0]} | {key[1]} | {r['MASE']:.3f} | {0.85 * mase:.3f} {'met' if r['MASE'] <= 0.85 * mase else 'not met'} | "
          f"{r['MSIS90']:.2f} | {0.8 * msis:.2f} {'met' if r['MSIS90'] <= 0.8 * msis else 'not met'} | "
          f"{r['cov80']:.3f} | {r['cov90']:.3f} | {r['cov95']:.3f} | {r['missing']:.4f} |")
PY
echo "files: $out"
