#!/usr/bin/env python3
"""Cuts Data/bitbrains-sample from the full Bitbrains Rnd development set.

Takes 20 VMs over the 14 days from 2013-07-24 00:00 UTC, keeping every original line
byte for byte (header included) and the month-folder layout, so the sample has the
format's quirks: the ';\\t' delimiter, seconds in the '[ms]' column, scientific notation,
the month-boundary gap, a common outage, duplicate-timestamp and zero-core rows, a core
count change, a VM that never uses cpu and a VM that starts late.

usage: python3 Data/make-sample.py ../shared/data/bitbrains-rnd Data/bitbrains-sample
"""
import gzip, os, sys

START, END = 1374624000, 1374624000 + 14 * 86400
COUNT = 20

def lines(src, month, vm):
    path = os.path.join(src, month, f"{vm}.csv.gz")
    if not os.path.exists(path):
        return None, []
    with gzip.open(path, "rb") as f:
        all_lines = f.read().split(b"\n")
    header, rows = all_lines[0], [l for l in all_lines[1:] if l]
    return header, [r for r in rows if START <= int(r.split(b";")[0]) < END]

def quirks(rows):
    found, prev, cores = set(), None, set()
    zero_cpu = True
    for r in rows:
        f = [x.strip() for x in r.split(b";")]
        t = int(f[0])
        if prev == t: found.add("duplicate")
        prev = t
        if float(f[1]) == 0: found.add("zero-cores")
        else: cores.add(float(f[1]))
        if b"E" in r: found.add("scientific")
        if float(f[3]) != 0: zero_cpu = False
    if len(cores) > 1: found.add("core-change")
    if zero_cpu and rows: found.add("zero-cpu")
    if rows and int(rows[0].split(b";")[0]) > START + 86400: found.add("late-start")
    return found

def main(src, dst):
    vms = sorted(int(l.split(",")[0]) for l in open(os.path.join(src, "manifest.csv")).read().splitlines()[1:])
    info = {}
    for vm in vms:
        parts = {m: lines(src, m, vm) for m in ("2013-7", "2013-8")}
        rows = parts["2013-7"][1] + parts["2013-8"][1]
        if rows:
            info[vm] = (parts, quirks(rows))
    chosen, covered = [], set()
    for vm in sorted(info, key=lambda v: -len(info[v][1] - covered)):
        if len(chosen) < COUNT // 2 and info[vm][1] - covered:
            chosen.append(vm); covered |= info[vm][1]
    for vm in sorted(info):
        if len(chosen) >= COUNT: break
        if vm not in chosen: chosen.append(vm)
    for vm in sorted(chosen):
        for month, (header, rows) in info[vm][0].items():
            if not rows: continue
            os.makedirs(os.path.join(dst, month), exist_ok=True)
            with gzip.GzipFile(os.path.join(dst, month, f"{vm}.csv.gz"), "wb", mtime=0) as f:
                f.write(header + b"\n" + b"\n".join(rows) + b"\n")
        print(vm, sorted(info[vm][1]))
    print("covered:", sorted(covered))

if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
