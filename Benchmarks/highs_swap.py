#!/usr/bin/env python3
"""Solves a swap problem (../shared/docs/swap-problem.md, .json or .json.gz) with HiGHS through
highspy, as an independent reference for `poolswap recommend`: the MILP is written out here
from the spec (no code shared with the Swift solvers), as CbcSolver.swift writes it for Cbc.

Per instance i, resource r and allowed node q: allocation y(i,q,r); per movable instance a
binary x(i,q) choosing its node; per instance and resource waste u, shortfall s, change c >= 0
with  sum_q y - u + s = demand,  |sum_q y - a0| <= c.

usage: python3 Benchmarks/highs_swap.py PROBLEM [--time-limit S] [--output SOLUTION.json]
prints, last, one line of JSON: status, objective, bound, gap, seconds (HiGHS's solve; building
the model in Python is not counted), model size. HiGHS prints its banner before it."""
import argparse, gzip, json, math, sys, time
import numpy as np
import highspy

ap = argparse.ArgumentParser()
ap.add_argument("problem")
ap.add_argument("--time-limit", type=float, default=60)
ap.add_argument("--output")
args = ap.parse_args()
opener = gzip.open if args.problem.endswith(".gz") else open
with opener(args.problem, "rt") as f:
    p = json.load(f)

R = p["resources"]
integral = set(p.get("integral", []))
costs, limits = p["costs"], p.get("limits", {})
max_change = limits.get("maxChange", {})
budget = limits.get("maxMigrations", 0)
nodes = {n["id"]: k for k, n in enumerate(p["nodes"])}
usable = [[n["capacity"][r] - n.get("reserve", {}).get(r, 0) for r in R] for n in p["nodes"]]

col_lo, col_hi, col_cost, col_int = [], [], [], []
rows_lo, rows_hi = [], []
a_idx, a_val, a_start = [], [], [0]


def column(lo, hi, cost, integer=False):
    col_lo.append(lo); col_hi.append(hi); col_cost.append(cost); col_int.append(integer)
    return len(col_lo) - 1


def row(entries, lo, hi):
    for c, v in entries:
        a_idx.append(c); a_val.append(v)
    a_start.append(len(a_idx)); rows_lo.append(lo); rows_hi.append(hi)


INF = highspy.kHighsInf
capacity = [[[] for _ in R] for _ in p["nodes"]]
budget_terms = []
choices = []
amounts = []
for inst in p["instances"]:
    home = nodes[inst["node"]]
    locked = inst.get("locked", False)
    cands = [nodes[c] for c in inst.get("candidates", []) if nodes[c] != home]
    movable = not locked and budget > 0 and len(cands) > 0
    where = [home] + cands if movable else [home]
    xs = []
    if movable:
        for q in where:
            away = q != home
            x = column(0, 1, inst.get("migrationCost", 0) if away else 0, True)
            xs.append(x)
            if away:
                budget_terms.append(x)
        row([(x, 1) for x in xs], 1, 1)
    choices.append((where, xs))
    ys = []
    for ri, r in enumerate(R):
        a0 = inst["allocation"][r]
        mn = inst.get("min", {}).get(r, 0)
        mx = inst.get("max", {}).get(r, math.inf)
        mc = max_change.get(r, math.inf)
        lo = a0 if locked else max(mn, a0 - mc)
        hi = a0 if locked else min(mx, a0 + mc)
        terms = []
        for k, q in enumerate(where):
            upper = min(hi, max(lo, usable[q][ri]))
            if movable:
                y = column(0, INF, 0, r in integral)
                row([(y, 1), (xs[k], -upper)], -INF, 0)
                row([(y, 1), (xs[k], -lo)], 0, INF)
            else:
                y = column(lo, upper, 0, r in integral)
            ys.append((q, ri, y))
            terms.append((y, 1))
            capacity[q][ri].append(y)
        u = column(0, INF, costs["waste"][r])
        s = column(0, INF, inst.get("weight", 1) * costs["shortfall"][r])
        c = column(0, INF, costs["change"][r])
        row(terms + [(u, -1), (s, 1)], inst["demand"][r], inst["demand"][r])
        row(terms + [(c, -1)], -INF, a0)
        row([(y, -1) for y, _ in terms] + [(c, -1)], -INF, -a0)
    amounts.append(ys)
for q in range(len(p["nodes"])):
    for ri in range(len(R)):
        if capacity[q][ri]:
            row([(y, 1) for y in capacity[q][ri]], -INF, usable[q][ri])
if budget_terms:
    row([(x, 1) for x in budget_terms], -INF, budget)

lp = highspy.HighsLp()
lp.num_col_, lp.num_row_ = len(col_lo), len(rows_lo)
lp.col_cost_, lp.col_lower_, lp.col_upper_ = np.array(col_cost), np.array(col_lo), np.array(col_hi)
lp.row_lower_, lp.row_upper_ = np.array(rows_lo), np.array(rows_hi)
lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = np.array(a_start), np.array(a_idx), np.array(a_val)
lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous for i in col_int]
h = highspy.Highs()
h.setOptionValue("output_flag", False)
h.setOptionValue("time_limit", args.time_limit)
h.setOptionValue("mip_rel_gap", 1e-7)
h.setOptionValue("threads", 1)
h.passModel(lp)
start = time.time()
h.run()
seconds = time.time() - start
status = h.modelStatusToString(h.getModelStatus())
info = h.getInfo()
has_solution = info.primal_solution_status == 2
result = {"status": status, "objective": info.objective_function_value if has_solution else None,
          "bound": info.mip_dual_bound, "gap": info.mip_gap if has_solution else None,
          "seconds": round(seconds, 3), "columns": len(col_lo), "rows": len(rows_lo)}
print(json.dumps(result))
if args.output and has_solution:
    v = h.getSolution().col_value
    out = []
    for inst, (where, xs), ys in zip(p["instances"], choices, amounts):
        node = where[int(np.argmax([v[x] for x in xs]))] if xs else where[0]
        alloc = {R[ri]: 0.0 for ri in range(len(R))}
        for q, ri, y in ys:
            if q == node:
                alloc[R[ri]] = round(v[y]) if R[ri] in integral else v[y]
        out.append({"id": inst["id"], "node": p["nodes"][node]["id"], "allocation": alloc})
    status_word = "optimal" if status == "Optimal" else "feasible"
    with open(args.output, "w") as f:
        json.dump({"version": 1, "status": status_word, "objective": result["objective"], "instances": out}, f)
