#!/usr/bin/env bash
# PSF-G backtest of the forecaster on GenTD26's per-container GPU trace (release build,
# training included): wall time, peak memory, and the scores of ../shared/tools/psfg/score.py
# against the goals (0.85 × the best anchor's MASE, 0.8 × the best eligible anchor's MSIS90,
# 90% coverage within 0.88–0.92, 80% and 95% within ±0.03).
#
# usage: Benchmarks/psfg.sh [DATA_DIR] [extra backtest options, e.g. --network none, --train-on-half]
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/data/gentd26-gpu}
shift || true
score=../shared/tools/psfg/score.py
[ -d "$data" ] || { echo "no data at $data" >&2; exit 1; }
python3 -c "import pandas" 2>/dev/null || pip install -q pandas
swift build -c release --product poolswap >/dev/null
bin=.build/release/poolswap
out=$(mktemp -d)

/usr/bin/time -f "%e %M" -o "$out/time" "$bin" backtest --protocol psfg --data "$data" --output "$out/forecasts.csv.gz" "$@" 2> "$out/stderr"
tr '\r' '\n' < "$out/stderr" | grep -v '^backtest \[' | grep -v '^$'
read -r wall rss < "$out/time"
echo "backtest: wall $wall s, peak RSS $((rss / 1024)) MiB"
python3 "$score" --data "$data" --forecasts "$out/forecasts.csv.gz" --json "$out/score.json" | tail -8
python3 - "$out/score.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
# Best anchors of gpu-forecast-anchors.md: (MASE, eligible MSIS90) per target and horizon.
best = {("gpu_util", 5): (0.501, 3.081), ("gpu_util", 16): (0.528, 3.271), ("gpu_util", 32): (0.522, 3.164),
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
