#!/usr/bin/env python3
"""Writes a user's CSV export in Poolswap's format: 4 instances, 3 days of 60-second samples,
cpu only (a daily wave with noise; one instance of 96 cores, larger than the default node)."""
import math, random, sys

random.seed(7)
start = 1714521600  # 2024-05-01T00:00:00Z
with open(sys.argv[1], "w") as out:
    out.write("instance,timestamp,cpu_used,cpu_allocated\n")
    for index, (name, cores) in enumerate([("web", 4), ("db", 8), ("batch", 16), ("big", 96)]):
        for minute in range(3 * 1440):
            level = cores * (0.4 + 0.25 * math.sin(2 * math.pi * minute / 1440 + index)) + random.gauss(0, 0.03 * cores)
            out.write(f"{name},{start + 60 * minute},{max(0.0, level):.4f},{cores}\n")
