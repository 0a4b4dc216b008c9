"""The socks-discount demo: the whole pipeline on synthetic data with known effects.

A sock shop tested three discounts, 10 %, 20 % and 50 % off, each in its own
experiment of ``n`` customers with its own control group (the synthetic
benchmark of :func:`upliftopt.make_uplift_data`, ``design="separate"``).
Giving a discount costs 0.1, 0.2 or 0.3 per customer, and the shop wants to
spend exactly ``budget`` on the 3n customers. The demo

1. generates the data (true effects known for every customer and arm),
2. fits one double-machine-learning CATE model per discount,
3. plots estimated against true effects,
4. allocates with the naive greedy ranking, the full SCIP model, the exact
   knapsack solver, and the exact solver on the lower confidence bounds
   (risk-averse), and solves the oracle problem on the true effects,
5. prints, per method, the estimated value, cost and net, the TRUE net value
   and its gap to the oracle, and the time of every stage.

Run it with ``upliftopt demo`` (options: ``upliftopt demo --help``) or
``python examples/socks_discounts.py``.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd

from .._progress import StageTimer, format_table

#: Cost of each discount per customer who gets it.
DISCOUNT_COSTS = {"10% off": 0.1, "20% off": 0.2, "50% off": 0.3}
METHODS = ("greedy", "scip", "exact", "risk-averse")


@dataclass
class SocksReport:
    """Everything the demo measured.

    Attributes
    ----------
    table : DataFrame
        One row per method (and the oracle): ``status``, ``est_value``,
        ``cost``, ``est_net``, ``true_net``, ``gap_to_best`` (relative shortfall
        of ``true_net`` against the oracle), ``treated``, ``seconds``,
        ``sure_share`` (treated customers whose interval for their arm excludes 0).
    cate : DataFrame
        Per arm: ``rmse`` and ``corr`` of the estimated against the true effect.
    timings : list of (stage, seconds)
    files : dict
        Name -> path of every file written.
    settings : dict
        The options of the run.
    notes : list of str
        Plain-language remarks (e.g. a solver stopped at its time limit).
    """

    table: pd.DataFrame
    cate: pd.DataFrame
    timings: list[tuple[str, float]]
    files: dict[str, Path] = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _fit_model(kind: str, data, seed: int):
    from ..cate import PerTreatmentDML, select_cate_model

    if kind == "linear":
        model = PerTreatmentDML(control=data.control, random_state=seed)
        return model.fit(data.X, data.T, data.y, experiment=data.experiment)
    if kind == "select":
        model, _ = select_cate_model(
            data.X,
            data.T,
            data.y,
            control=data.control,
            experiment=data.experiment,
            random_state=seed,
        )
        return model
    raise ValueError(f"model must be 'linear' or 'select'; got {kind!r}")


def run_socks(
    *,
    n: int = 10_000,
    seed: int = 0,
    budget: float | None = None,
    time_limit: float | None = 60.0,
    out: str | Path | None = "socks-demo",
    model: str = "linear",
    risk_alpha: float = 0.2,
    methods: tuple[str, ...] = METHODS,
    progress: TextIO | None = sys.stderr,
) -> SocksReport:
    """Run the socks-discount demo and return what it measured.

    Parameters
    ----------
    n : int, default 10_000
        Customers per experiment (3n in total).
    seed : int, default 0
        Seeds the data, the folds and every model.
    budget : float, optional
        Exact spend asked for (``min_budget = max_budget = budget``). Default:
        0.1 per customer, i.e. 3,000 for 3 x 10,000 customers.
    time_limit : float or None, default 60
        Seconds allowed to SCIP.
    out : path or None, default "socks-demo"
        Folder for the plots and CSV files; None writes nothing.
    model : {"linear", "select"}, default "linear"
        ``"linear"``: one LinearDML per arm, as the seed pipeline.
        ``"select"``: :func:`upliftopt.select_cate_model` picks a final stage
        per arm by cross-validated R-loss.
    risk_alpha : float, default 0.2
        The risk-averse allocation uses the lower end of the two-sided
        ``1 - risk_alpha`` interval (0.2: the 90 % one-sided lower bound).
    methods : tuple of str
        Which allocations to run, among ``METHODS``.
    progress : file or None
        Where progress lines go (stages longer than a second).

    Returns
    -------
    SocksReport
    """
    from ..allocation import allocate
    from ..datasets import make_uplift_data
    from ..evaluate import oracle_allocation, true_value
    from ..exceptions import SolverError

    check_options(n=n, budget=budget, time_limit=time_limit, risk_alpha=risk_alpha, methods=methods)
    if budget is None:
        budget = default_budget(n)
    timer = StageTimer(progress)
    settings = {
        "n_per_experiment": n,
        "seed": seed,
        "budget": budget,
        "time_limit": time_limit,
        "model": model,
        "risk_alpha": risk_alpha,
    }
    notes: list[str] = []

    with timer.stage("generate data"):
        data = make_uplift_data(n, design="separate", random_state=seed)
        costs = pd.Series([DISCOUNT_COSTS[arm] for arm in data.arms], index=list(data.arms))
    with timer.stage(f"fit {len(data.arms)} CATE models ({model})"):
        fitted = _fit_model(model, data, seed)
    with timer.stage("predict effects and intervals"):
        effects = fitted.effect(data.X)
        lower, upper = fitted.effect_interval(data.X, alpha=risk_alpha)
    tau = data.tau[list(effects.columns)]
    cate = pd.DataFrame(
        {
            "rmse": np.sqrt(((effects - tau) ** 2).mean()),
            "corr": [float(np.corrcoef(effects[a], tau[a])[0, 1]) for a in effects.columns],
        }
    )

    with timer.stage("oracle allocation on the true effects"):
        oracle = oracle_allocation(tau, costs, min_budget=budget, max_budget=budget)
    best = true_value(oracle, tau, costs)

    rows = []
    allocations = {}
    for method in methods:
        values = lower if method == "risk-averse" else effects
        solver = "exact" if method == "risk-averse" else method
        limit = time_limit if solver == "scip" else None
        with timer.stage(f"allocate: {method}"):
            try:
                result = allocate(
                    values, costs, min_budget=budget, max_budget=budget, method=solver,
                    time_limit=limit,
                )  # fmt: skip
            except SolverError as exc:
                notes.append(f"{method}: no allocation ({exc})")
                rows.append({"method": method, "status": "no solution"})
                continue
        allocations[method] = result
        if result.termination == "time_limit":
            notes.append(
                f"{method} stopped at its {time_limit:g} s time limit; the best bound it "
                f"proved leaves a gap of {result.gap:.2%}"
            )
        chosen = result.assignment
        treated = np.flatnonzero(chosen >= 0)
        sure = (lower.to_numpy()[treated, chosen[treated]] > 0).mean() if treated.size else math.nan
        est = allocate_summary(result, effects, costs)
        true_net = true_value(result, tau, costs)
        rows.append(
            {
                "method": method,
                "status": str(result.status)
                + (" (time limit)" if result.termination == "time_limit" else ""),
                **est,
                "true_net": true_net,
                "gap_to_best": (best - true_net) / abs(best) if best else math.nan,
                "treated": result.n_treated,
                "seconds": result.wall_time,
                "sure_share": sure,
            }
        )
    rows.append(
        {
            "method": "oracle (true effects)",
            "status": str(oracle.status),
            **allocate_summary(oracle, effects, costs),
            "true_net": best,
            "gap_to_best": 0.0,
            "treated": oracle.n_treated,
            "seconds": oracle.wall_time,
            "sure_share": math.nan,
        }
    )
    table = pd.DataFrame(rows).set_index("method")

    files: dict[str, Path] = {}
    if out is not None:
        with timer.stage("plots and files"):
            files = _write_outputs(
                Path(out), data, effects, (lower, upper), tau, costs, budget, table,
                allocations, seed,
            )  # fmt: skip
    return SocksReport(table, cate, timer.timings, files, settings, notes)


def default_budget(n: int) -> float:
    """0.1 per customer over the three experiments (3,000 at n = 10,000)."""
    return 0.1 * 3 * n


def check_options(
    *,
    n: int,
    budget: float | None,
    time_limit: float | None,
    risk_alpha: float,
    methods: tuple[str, ...],
) -> None:
    """Refuse bad options before any work, naming the option."""
    if not isinstance(n, int | np.integer) or n < 10:
        raise ValueError(f"n must be an integer >= 10 customers per experiment; got {n!r}")
    if budget is not None:
        most = 3 * n * max(DISCOUNT_COSTS.values())
        if not (math.isfinite(budget) and 0 <= budget <= most):
            raise ValueError(
                f"budget must be between 0 and {most:g} (every one of the {3 * n:,} customers "
                f"given the dearest discount); got {budget!r}"
            )
    if time_limit is not None and not time_limit > 0:
        raise ValueError(f"time_limit must be > 0 seconds; got {time_limit!r}")
    if not 0 < risk_alpha < 1:
        raise ValueError(f"risk_alpha must be in (0, 1); got {risk_alpha!r}")
    unknown = sorted(set(methods) - set(METHODS))
    if unknown or not methods:
        raise ValueError(f"methods must be a subset of {list(METHODS)}; got {list(methods)}")


def allocate_summary(result, effects: pd.DataFrame, costs: pd.Series) -> dict:
    """Estimated value, cost and net of an allocation, on the estimated effects."""
    chosen = result.assignment
    treated = np.flatnonzero(chosen >= 0)
    value = float(effects.to_numpy()[treated, chosen[treated]].sum())
    cost = float(costs.reindex(effects.columns).to_numpy()[chosen[treated]].sum())
    return {"est_value": value, "cost": cost, "est_net": value - cost}


def _write_outputs(
    out, data, effects, interval, tau, costs, budget, table, allocations, seed
) -> dict[str, Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .. import plot
    from ..allocation import frontier

    out.mkdir(parents=True, exist_ok=True)
    files = {}
    fig, axes = plt.subplots(1, len(effects.columns), figsize=(4.2 * len(effects.columns), 4))
    plot.cate_scatter(effects, tau, axes=np.atleast_1d(axes), sample=3000, random_state=seed)
    fig.suptitle("Estimated vs true effect per discount")
    fig.tight_layout()
    files["cate"] = out / "cate_estimated_vs_true.png"
    fig.savefig(files["cate"], dpi=110)
    plt.close(fig)

    budgets = np.linspace(0.0, 2.0 * budget, 17)
    curve = frontier(effects, costs, budgets, true_values=tau, random_state=seed)
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    shown = curve[["budget", "exact_true", "greedy_true", "random_true"]].rename(
        columns={"exact_true": "exact", "greedy_true": "greedy", "random_true": "random"}
    )
    plot.budget_frontier(shown, ax=ax)
    ax.set_title("True net value of each allocation rule vs budget")
    ax.axvline(budget, color="grey", lw=0.8, ls=":")
    fig.tight_layout()
    files["frontier"] = out / "budget_frontier.png"
    fig.savefig(files["frontier"], dpi=110)
    plt.close(fig)
    files["frontier_csv"] = out / "budget_frontier.csv"
    curve.to_csv(files["frontier_csv"], index=False)
    files["summary_csv"] = out / "summary.csv"
    table.to_csv(files["summary_csv"])

    # who gets what: the allocations by arm, split by the customers' baseline
    # outcome (quartiles of b(x): how much they buy anyway)
    segment = pd.qcut(data.baseline, 4, labels=["1 low", "2 mid-low", "3 mid-high", "4 high"])
    shown = [m for m in ("greedy", "exact", "risk-averse") if m in allocations]
    if shown:
        fig, axes = plt.subplots(1, len(shown), figsize=(4.2 * len(shown), 4), sharey=True)
        for ax, method in zip(np.atleast_1d(axes), shown, strict=True):
            plot.allocation_mix(allocations[method], segments=segment.astype(str), ax=ax)
            ax.set_title(method)
            ax.set_xlabel("baseline outcome quartile")
        fig.tight_layout()
        files["mix"] = out / "allocation_mix.png"
        fig.savefig(files["mix"], dpi=110)
        plt.close(fig)

    lower, upper = interval
    per_customer = pd.DataFrame(index=effects.index)
    for method, result in allocations.items():
        per_customer[f"arm_{method}"] = result.labels()
        chosen = result.assignment
        treated = chosen >= 0
        excludes = np.full(chosen.shape[0], np.nan)
        picked = np.flatnonzero(treated)
        excludes[picked] = lower.to_numpy()[picked, chosen[picked]] > 0
        per_customer[f"sure_{method}"] = excludes
    files["customers_csv"] = out / "customers.csv"
    per_customer.to_csv(files["customers_csv"])
    if "exact" in allocations and allocations["exact"].n_treated:
        fig, ax = plt.subplots(figsize=(7, 4))
        plot.effect_intervals(
            effects, lower, upper, allocation=allocations["exact"], ax=ax, n_customers=60,
            random_state=seed,
        )  # fmt: skip
        ax.set_ylabel("effect of the chosen discount")
        fig.tight_layout()
        files["intervals"] = out / "intervals_exact.png"
        fig.savefig(files["intervals"], dpi=110)
        plt.close(fig)
    return files


def format_report(report: SocksReport) -> str:
    """The demo's printed output."""
    s = report.settings
    lines = [
        f"Socks discounts: 3 experiments x {s['n_per_experiment']:,} customers (seed {s['seed']}), "
        f"spend exactly {s['budget']:,.2f}; costs per customer "
        + ", ".join(f"{a} {c:g}" for a, c in DISCOUNT_COSTS.items()),
        "",
        "CATE models vs the true effects:",
        format_table(
            [{"arm": arm, **row} for arm, row in report.cate.to_dict("index").items()],
            [("arm", "arm", ""), ("rmse", "RMSE", ".3f"), ("corr", "corr", ".3f")],
        ),
        "",
        "Allocations (est = on estimated effects; true = on the known effects):",
        format_table(
            [{"method": m, **row} for m, row in report.table.to_dict("index").items()],
            [
                ("method", "method", ""),
                ("status", "status", ""),
                ("treated", "treated", ",.0f"),
                ("est_value", "est value", ",.1f"),
                ("cost", "cost", ",.2f"),
                ("est_net", "est net", ",.1f"),
                ("true_net", "TRUE net", ",.1f"),
                ("gap_to_best", "gap to best", ".2%"),
                ("sure_share", "sure", ".0%"),
                ("seconds", "seconds", ".3f"),
            ],
        ),
        "  sure = share of treated customers whose "
        f"{1 - s['risk_alpha']:.0%} interval for their arm excludes zero",
    ]
    if report.notes:
        lines += ["", *[f"note: {note}" for note in report.notes]]
    lines += [
        "",
        "Time per stage:",
        format_table(
            [{"stage": name, "seconds": sec} for name, sec in report.timings],
            [("stage", "stage", ""), ("seconds", "seconds", ".2f")],
        ),
    ]
    if report.files:
        lines += ["", "Files:", *[f"  {path}" for path in report.files.values()]]
    return "\n".join(lines)


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """Command-line options of the demo (shared by the CLI and the example)."""
    parser = parser or argparse.ArgumentParser(
        prog="upliftopt demo", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--n", type=int, default=10_000, help="customers per experiment")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument(
        "--budget", type=float, default=None, help="exact spend (default: 0.1 per customer)"
    )
    parser.add_argument(
        "--time-limit", type=float, default=60.0, help="seconds allowed to SCIP (default 60)"
    )
    parser.add_argument("--out", default="socks-demo", help="folder for plots and CSV files")
    parser.add_argument(
        "--model", choices=["linear", "select"], default="linear", help="CATE model"
    )
    parser.add_argument(
        "--risk-alpha", type=float, default=0.2, help="interval level of the risk-averse run"
    )
    parser.add_argument(
        "--methods",
        default=",".join(METHODS),
        help=f"comma-separated subset of {','.join(METHODS)}",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``upliftopt demo`` and ``examples/socks_discounts.py``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    try:
        check_options(
            n=args.n, budget=args.budget, time_limit=args.time_limit,
            risk_alpha=args.risk_alpha, methods=methods,
        )  # fmt: skip
    except ValueError as exc:
        parser.error(str(exc))  # exits with status 2 and the usage line
    report = run_socks(
        n=args.n,
        seed=args.seed,
        budget=args.budget,
        time_limit=args.time_limit,
        out=args.out,
        model=args.model,
        risk_alpha=args.risk_alpha,
        methods=methods,
        progress=None if args.quiet else sys.stderr,
    )
    print(format_report(report))
    return 0
