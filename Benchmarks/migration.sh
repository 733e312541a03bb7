#!/usr/bin/env bash
# Live migration of a 256 MiB QEMU guest (TCG) between two network-namespace nodes: idle,
# moderate and heavy dirtying, at 100 and 400 Mbit/s (tbf on the veth link), pre-copy and
# stop-and-copy; each migration predicted by the cost model fitted on all the others and
# compared with what QEMU measured; and the time resizes take. Needs root, QEMU and the test
# guest (built here if missing).
#
# usage: Benchmarks/migration.sh
set -euo pipefail
cd "$(dirname "$0")/.."
Tests/scripts/build_guest.sh >/dev/null
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(qemu-system-x86_64 --version | head -1)"
swift build --build-tests >/dev/null
log=$(mktemp)
status=0
POOLSWAP_BENCH_MIGRATION=1 swift test --skip-build --filter QEMUMigrationBenchmark > "$log" 2>&1 || status=$?
grep -E '^(\||leave-one-out|fitted|rolled back)|✘|passed after|failed after' "$log" || true
rm -f "$log"
exit $status
