#!/usr/bin/env python3
"""How far can a forecaster get on PSF-G? Scores forecasters that cheat: each knows the true
values around its target instant (w instants before and w after it, the target itself left
out), which no forecaster at the origin can know. If even these miss a goal, that goal asks
for more than the series' local level: it asks for the minute-by-minute bursts themselves.

  point     the median of the 2w neighbours
  interval  "neighbours": their 5th and 95th percentiles;
            "calibrated": the point plus the 5th/95th percentile of the series' own errors of
            that point over every scored target (the future again)

usage: python3 Benchmarks/psfg_oracle.py [DATA_DIR]   (default ../shared/data/gentd26-gpu)"""
import os, sys
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "../../shared/tools/psfg"))
import protocol as P  # the scorer's own reader, cleaning and truth

data = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "../../shared/data/gentd26-gpu")
ds = P.load_dataset(data)
truth = P.build_truth(ds)
# 0.85 × and 0.8 × the best anchors of ../shared/docs/gpu-forecast-anchors.md
GOALS = {("gpu_util", 5): (0.426, 2.46), ("gpu_util", 16): (0.449, 2.62), ("gpu_util", 32): (0.444, 2.53),
         ("gpu_mem", 5): (0.932, 9.56), ("gpu_mem", 16): (1.195, 11.17), ("gpu_mem", 32): (1.261, 12.02)}
print("| target | h | goal MASE / MSIS90 | w | MASE | MSIS90 (neighbours) | MSIS90 (calibrated) | cov90 (calibrated) | targets |")
print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
for target in P.TARGETS:
    for hi, h in enumerate(P.HORIZONS):
        for w in (1, 2, 5, 15, 30):
            mase, msis_n, msis_c, cov, n = [], [], [], [], 0
            for c in ds.containers:
                t = truth[(c, target)]
                if t.status != "scored":
                    continue
                y = ds.series(c, target)
                rows = []
                for oi, k in enumerate(P.ORIGIN_K):
                    yt = t.y[oi, hi]
                    if not np.isfinite(yt):
                        continue
                    i = k + h - 1
                    near = np.concatenate([y[max(0, i - w):i], y[i + 1:i + w + 1]])
                    near = near[np.isfinite(near)]
                    if len(near) == 0:  # a target alone in a gap: scored with the last value
                        near = y[:k][np.isfinite(y[:k])][-1:]
                    lo, hi_ = np.percentile(near, [5, 95])
                    rows.append((yt, np.median(near), lo, hi_))
                a = np.array(rows)
                err = a[:, 0] - a[:, 1]
                elo, ehi = np.percentile(err, [5, 95])
                mase.append(np.mean(np.abs(err)) / t.scale)
                msis_n.append(np.mean([P.interval_score(lo, up, yt, 0.1) for yt, _, lo, up in a]) / t.scale)
                msis_c.append(np.mean([P.interval_score(p + elo, p + ehi, yt, 0.1) for yt, p, _, _ in a]) / t.scale)
                cov.extend((a[:, 1] + elo <= a[:, 0]) & (a[:, 0] <= a[:, 1] + ehi))
                n += len(a)
            g = GOALS[(target, h)]
            print(f"| {target} | {h} | {g[0]} / {g[1]} | {w} | {np.mean(mase):.3f} | {np.mean(msis_n):.2f} | "
                  f"{np.mean(msis_c):.2f} | {np.mean(cov):.3f} | {n} |", flush=True)
