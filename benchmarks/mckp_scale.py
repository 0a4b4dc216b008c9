"""Scale benchmark of the exact multiple-choice knapsack solver (issue 3, benchmark 2).

Instances: n customers x K arms, values ~ N(0.5, 0.5), per-customer costs
~ U(0.05, 0.5). Budget ("cap"): max_budget at 20 % of the spend of the
unconstrained optimum. Budget ("window"): an active minimum as well,
min_budget = 0.9 x max_budget with max_budget at 120 % of that spend, so the
solver must push spend up with unprofitable edges.

Run one configuration (prints one JSON line)::

    python benchmarks/mckp_scale.py one --n 1000000 --k 5 --case cap

Run the whole grid, each configuration in its own process under
``/usr/bin/time -v`` for the peak resident memory, and write a Markdown table::

    python benchmarks/mckp_scale.py all --out benchmarks/results/mckp_scale.md

Timings are wall-clock seconds of ``allocate(...)`` alone; the peak memory is
the whole process's (inputs included: values and costs are 2 x n x K float64).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def instance(n: int, k: int, case: str, seed: int = 0):
    rng = np.random.default_rng(seed)
    values = rng.normal(0.5, 0.5, (n, k))
    costs = rng.uniform(0.05, 0.5, (n, k))
    net = values - costs
    best = net.argmax(axis=1)
    free = float(np.where(net.max(axis=1) > 0, costs[np.arange(n), best], 0.0).sum())
    del net, best
    if case == "cap":
        return values, costs, 0.0, 0.2 * free
    if case == "window":
        return values, costs, 0.9 * 1.2 * free, 1.2 * free
    raise ValueError(case)


def run_one(n: int, k: int, case: str) -> dict:
    from upliftopt import allocate

    values, costs, low, high = instance(n, k, case)
    started = time.perf_counter()
    result = allocate(values, costs, min_budget=low, max_budget=high, method="exact")
    seconds = time.perf_counter() - started
    return {
        "n": n,
        "k": k,
        "case": case,
        "seconds": seconds,
        "status": str(result.status),
        "objective": result.objective,
        "gap": result.gap,
        "tolerance": result.details["tolerance"],
        "core_customers": result.details.get("core_customers"),
        "core_method": result.details.get("core_method"),
        "edges": result.details["n_edges"],
    }


def run_all(out: Path, sizes: list[int], arms: list[int]) -> None:
    rows = []
    for case in ("cap", "window"):
        for k in arms:
            for n in sizes:
                command = [
                    "/usr/bin/time", "-v", sys.executable, __file__, "one",
                    "--n", str(n), "--k", str(k), "--case", case,
                ]  # fmt: skip
                done = subprocess.run(command, capture_output=True, text=True, check=True)
                row = json.loads(done.stdout.strip().splitlines()[-1])
                peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
                row["peak_gb"] = int(peak.group(1)) / 1024**2 if peak else float("nan")
                row["input_gb"] = 2 * n * k * 8 / 1024**3
                rows.append(row)
                print(json.dumps(row), flush=True)
    lines = [
        "| case | n | K | seconds | peak GB (inputs GB) | status | gap | core | edges |",
        "|---|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['case']} | {r['n']:,} | {r['k']} | {r['seconds']:.2f} | "
            f"{r['peak_gb']:.2f} ({r['input_gb']:.2f}) | {r['status']} | {r['gap']:.1e} | "
            f"{r['core_customers']} ({r['core_method']}) | {r['edges']:,} |"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    one = sub.add_parser("one")
    one.add_argument("--n", type=int, required=True)
    one.add_argument("--k", type=int, required=True)
    one.add_argument("--case", choices=["cap", "window"], default="cap")
    grid = sub.add_parser("all")
    grid.add_argument("--out", type=Path, default=Path("benchmarks/results/mckp_scale.md"))
    grid.add_argument("--sizes", default="10000,100000,1000000,10000000")
    grid.add_argument("--arms", default="3,5")
    args = parser.parse_args()
    if args.command == "one":
        print(json.dumps(run_one(args.n, args.k, args.case)))
    else:
        run_all(
            args.out,
            [int(s) for s in args.sizes.split(",")],
            [int(s) for s in args.arms.split(",")],
        )


if __name__ == "__main__":
    main()
