"""The seed's allocation instance, three ways, in one run (issue 3, benchmark 1).

Instance: the seed pipeline's CATE estimates (one LinearDML per discount,
LightGBM nuisances) on ``make_uplift_data(10_000, design="separate",
random_state=0)``: 30,000 customers x 3 arms, costs 0.1 / 0.2 / 0.3,
min_budget = max_budget = 3,000.

(a) a faithful re-implementation of the seed's model building: pywraplp with
    SCIP, one ``IntVar`` per (customer, arm) in a Python loop, one
    ``solver.Sum`` constraint per customer, budget rows and objective as
    Python sums of expressions, default SCIP settings;
(b) ``allocate(..., method="scip")`` (vectorised model, gap 0);
(c) ``allocate(..., method="exact")`` (median of 5 runs).

    python benchmarks/seed_instance.py --out benchmarks/results/seed_instance.md

Add ``--skip-seed`` to leave out (a) (it takes minutes).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

COSTS = np.array([0.1, 0.2, 0.3])
BUDGET = 3000.0


def seed_values(n: int, seed: int) -> np.ndarray:
    from upliftopt import PerTreatmentDML, make_uplift_data

    data = make_uplift_data(n, design="separate", random_state=seed)
    model = PerTreatmentDML(control=data.control, random_state=seed)
    model.fit(data.X, data.T, data.y, experiment=data.experiment)
    return model.effect(data.X)[list(data.arms)].to_numpy()


def seed_model(values: np.ndarray, time_limit: float | None) -> dict:
    """The seed's way: per-variable Python loops, Python sums, default settings."""
    from ortools.linear_solver import pywraplp

    n, k = values.shape
    started = time.perf_counter()
    solver = pywraplp.Solver.CreateSolver("SCIP")
    x = {}
    for i in range(n):
        for j in range(k):
            x[i, j] = solver.IntVar(0, 1, f"x_{i}_{j}")
    for i in range(n):
        solver.Add(solver.Sum([x[i, j] for j in range(k)]) <= 1)
    spend = sum(COSTS[j] * x[i, j] for i in range(n) for j in range(k))
    solver.Add(spend <= BUDGET)
    solver.Add(spend >= BUDGET)
    solver.Maximize(sum((values[i, j] - COSTS[j]) * x[i, j] for i in range(n) for j in range(k)))
    if time_limit is not None:
        solver.SetTimeLimit(int(time_limit * 1000))  # pywraplp takes milliseconds
    built = time.perf_counter()
    status = solver.Solve()
    solved = time.perf_counter()
    assignment = np.full(n, -1)
    for i in range(n):
        for j in range(k):
            if x[i, j].solution_value() > 0.5:
                assignment[i] = j
    treated = assignment >= 0
    objective = float((values - COSTS)[np.flatnonzero(treated), assignment[treated]].sum())
    bound = solver.Objective().BestBound()
    return {
        "method": "(a) seed: pywraplp loops, default SCIP",
        "build": built - started,
        "solve": solved - built,
        "total": solved - started,
        "objective": objective,
        "spend": float(COSTS[assignment[treated]].sum()),
        "status": {0: "OPTIMAL", 1: "FEASIBLE"}.get(status, str(status)),
        "gap": (bound - objective) / max(1.0, abs(bound)),
    }


def ours(values: np.ndarray, method: str, repeat: int) -> dict:
    from upliftopt import allocate

    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = allocate(values, COSTS, min_budget=BUDGET, max_budget=BUDGET, method=method)
        runs.append(time.perf_counter() - started)
    return {
        "method": f"({'b' if method == 'scip' else 'c'}) allocate(method={method!r})",
        "build": result.details.get("build_time", float("nan")),
        "solve": result.details.get("solve_time", float("nan")),
        "total": statistics.median(runs),
        "objective": result.objective,
        "spend": result.cost,
        "status": str(result.status),
        "gap": result.gap,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="customers per experiment")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-seed", action="store_true")
    parser.add_argument("--time-limit", type=float, default=None, help="for (a) only")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    values = seed_values(args.n, args.seed)
    rows = []
    if not args.skip_seed:
        rows.append(seed_model(values, args.time_limit))
        print(rows[-1], flush=True)
    rows.append(ours(values, "scip", 1))
    print(rows[-1], flush=True)
    rows.append(ours(values, "exact", 5))
    print(rows[-1], flush=True)
    exact = rows[-1]
    lines = [
        f"Seed instance: {values.shape[0]:,} customers x {values.shape[1]} arms, "
        f"costs 0.1/0.2/0.3, min = max budget = {BUDGET:,.0f}.",
        "",
        "| method | build s | solve s | total s | objective | spend | status | gap "
        "| total / exact |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['method']} | {r['build']:.2f} | {r['solve']:.2f} | {r['total']:.3f} | "
            f"{r['objective']:.6f} | {r['spend']:.6f} | {r['status']} | {r['gap']:.1e} | "
            f"{r['total'] / exact['total']:,.0f}x |"
        )
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
