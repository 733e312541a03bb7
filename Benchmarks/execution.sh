#!/usr/bin/env bash
# The execution path on the code the service runs (release build): a round of 1,000 resizes of
# real cgroups through the executor, journaled in SQLite (needs root and cgroup v1 or v2 with
# the cpu and memory controllers); whole control-loop rounds of a 10,000-instance simulated pool
# (ingest, forecast, verify, plan, risk, execute, record); the risk assessment per swap.
#
# usage: Benchmarks/execution.sh [CGROUPS] [SIMULATED_INSTANCES]
set -euo pipefail
cd "$(dirname "$0")/.."
cgroups=${1:-1000}
simulated=${2:-10000}
swift build -c release --product poolswap >/dev/null
bin=.build/release/poolswap
echo "== risk assessment"
"$bin" bench risk --swaps 100000
echo "== $cgroups cgroups resized in one round"
/usr/bin/time -f "cgroup-round: wall %e s, peak RSS %M KiB" "$bin" bench cgroup-round --instances "$cgroups"
echo "== $simulated simulated instances"
/usr/bin/time -f "simulated-round: wall %e s, peak RSS %M KiB" "$bin" bench simulated-round --instances "$simulated" --rounds 30
