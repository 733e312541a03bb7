#!/usr/bin/env python3
"""How far simple reactive policies get on a Bitbrains trace: slack against short intervals.

Each policy sets every VM's allocation for a slot from what the VM used before it (never
after): the peak of the last W slots times a margin, plus an absolute headroom. Accounted
as `poolswap simulate` accounts (slack % of allocated, instance-intervals where usage was
above the allocation), over the same window. It is the yardstick the closed-loop figures
are read against: where these policies already sit on a frontier, no forecaster moves it
much (memory on this trace); where the cheapest shortfalls sit on idle VMs, a small absolute
headroom removes most of them (cpu).

usage: Benchmarks/reactive_frontier.py [DATA_DIR] [FROM] [TO]
       (default ../shared/data/bitbrains-rnd 2013-09-15 2013-09-29; needs numpy)
"""
import calendar, glob, gzip, os, sys

import numpy as np

data = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/bitbrains-rnd"
start = sys.argv[2] if len(sys.argv) > 2 else "2013-09-15"
end = sys.argv[3] if len(sys.argv) > 3 else "2013-09-29"
if not os.path.isdir(data):
    sys.exit(f"no data at {data}: the benchmark needs the full development set")


def day(text):
    y, m, d = map(int, text.split("-"))
    return calendar.timegm((y, m, d, 0, 0, 0)) // 300


files = sorted(glob.glob(f"{data}/*/*.csv.gz"))
vms = sorted({int(os.path.basename(f).split(".")[0]) for f in files})
first, last = day(start) - 4 * 2016, day(end)   # four weeks of history before the window
cpu = np.full((len(vms), last - first), np.nan)
mem = np.full_like(cpu, np.nan)
for row, vm in enumerate(vms):
    for path in sorted(f for f in files if os.path.basename(f) == f"{vm}.csv.gz"):
        with gzip.open(path, "rt") as lines:
            next(lines)
            for line in lines:
                fields = [x.strip() for x in line.split(";")]
                t = float(fields[0])
                t = t / 1000 if t > 1e11 else t           # seconds despite the header
                cores, capacity = float(fields[1]), float(fields[2])
                slot = int(t // 300) - first
                if cores <= 0 or capacity <= 0 or not 0 <= slot < cpu.shape[1] or not np.isnan(cpu[row, slot]):
                    continue                              # switched off, outside, or a duplicate
                cpu[row, slot] = float(fields[3]) / (capacity / cores)
                mem[row, slot] = float(fields[6]) / 2**20
a = day(start) - first


def peak(x, w):
    """Per slot of the window, each VM's peak over the w slots before it (NaN: none)."""
    filled = np.where(np.isnan(x), -np.inf, x)
    out = np.stack([filled[:, t - w:t].max(axis=1) for t in range(a, x.shape[1])], axis=1)
    return np.where(np.isinf(out), np.nan, out)


def account(x, allocation):
    used = x[:, a:]
    present = ~np.isnan(used)
    allocation = np.where(np.isnan(allocation), used, allocation)
    short = present & (used > allocation)
    slack = np.where(present, np.maximum(0, allocation - used), 0).sum()
    return 100 * slack / np.where(present, allocation, 0).sum(), int(short.sum())


print(f"{len(vms)} VMs, {start} to {end}, {int((~np.isnan(cpu[:, a:])).sum())} instance-intervals")
print("\n| resource | policy | slack | short intervals |\n|---|---|---|---|")
for w, margin in [(6, 1.25), (12, 1.1), (36, 1.1), (288, 1.1)]:
    p = peak(cpu, w)
    for headroom in (0, 0.02, 0.05):
        s, n = account(cpu, p * margin + headroom)
        print(f"| cpu | peak of {w} slots x {margin} + {headroom} cores | {s:.1f}% | {n:,} |")
for w in (288, 864, 1440, 2016, 4032):
    p = peak(mem, w)
    for margin in (1.1, 1.2):
        s, n = account(mem, p * margin)
        print(f"| memory | peak of {w} slots x {margin} | {s:.1f}% | {n:,} |")
