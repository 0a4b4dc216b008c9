"""CATE accuracy of each final stage on the seed scenario, against the known effects.

Seed scenario: ``make_uplift_data(10_000, design="separate")`` (three binary
experiments of 10,000 rows, ~9 % control each). For every seed and candidate
this prints the per-arm RMSE and correlation of the estimated effect with the
true effect (over all 30,000 rows), the share of rows whose 95 % interval
covers the truth, and the fit time. It also runs :func:`select_cate_model`
(per-arm choice by held-out R-loss) and, as a reference point that no
estimator can beat with these rows, a linear final stage on *oracle* nuisances
(the true outcome mean and propensity).

Issue-4 target: per-arm RMSE <= 0.072 / 0.0875 / 0.10 (half of the seed
pipeline's 0.144 / 0.175 / 0.203).

Run ``python benchmarks/cate_accuracy.py --help`` for options.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd
from scipy.special import expit

from upliftopt import PerTreatmentDML, make_uplift_data, select_cate_model
from upliftopt.cate import ALL_CANDIDATES

TARGET = {"10% off": 0.072, "20% off": 0.0875, "50% off": 0.10}


def scores(effect: pd.DataFrame, tau: pd.DataFrame, lower=None, upper=None) -> dict:
    out = {}
    for arm in tau.columns:
        err = effect[arm].to_numpy() - tau[arm].to_numpy()
        out[(arm, "rmse")] = float(np.sqrt(np.mean(err**2)))
        out[(arm, "corr")] = float(np.corrcoef(effect[arm], tau[arm])[0, 1])
        if lower is not None:
            inside = (lower[arm] <= tau[arm]) & (tau[arm] <= upper[arm])
            out[(arm, "cover")] = float(inside.mean())
    return out


def oracle_linear(data) -> pd.DataFrame:
    """Linear final stage on the true nuisances: the floor for a linear CATE."""
    X = data.X.to_numpy()
    p = expit(data.baseline.to_numpy())
    effects = {}
    for arm in data.arms:
        rows = (data.experiment == arm).to_numpy()
        t = (data.T[rows] == arm).to_numpy().astype(float)
        tau = data.tau[arm].to_numpy()[rows]
        y_res = data.y.to_numpy()[rows] - (data.baseline.to_numpy()[rows] + p[rows] * tau)
        t_res = t - p[rows]
        design = t_res[:, None] * np.column_stack([np.ones(rows.sum()), X[rows]])
        coef = np.linalg.lstsq(design, y_res, rcond=None)[0]
        effects[arm] = coef[0] + X @ coef[1:]
    return pd.DataFrame(effects, index=data.X.index)


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="rows per experiment")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--candidates",
        nargs="+",
        default=[*ALL_CANDIDATES, "linear pooled", "select", "oracle"],
        help="names from ALL_CANDIDATES, 'linear pooled', 'select', 'oracle'",
    )
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")  # econml's covariance and convergence chatter
    records = []
    for seed in args.seeds:
        data = make_uplift_data(args.n, design="separate", random_state=seed)
        for name in args.candidates:
            start = time.perf_counter()
            lower = upper = None
            if name == "oracle":
                effect = oracle_linear(data)
            elif name == "select":
                model, table = select_cate_model(
                    data.X, data.T, data.y, experiment=data.experiment, random_state=seed
                )
                effect = model.effect(data.X)
                lower, upper = model.effect_interval(data.X)
                print(table.round(4).to_string())
                print("chosen:", model.final_stage, model.featurizer)
            else:
                params = dict(ALL_CANDIDATES.get(name, ALL_CANDIDATES["linear"]))
                if name == "linear pooled":
                    params["pool_controls"] = True
                model = PerTreatmentDML(random_state=seed, **params)
                model.fit(data.X, data.T, data.y, experiment=data.experiment)
                effect = model.effect(data.X)
                lower, upper = model.effect_interval(data.X)
            seconds = time.perf_counter() - start
            row = {"seed": seed, "candidate": name, "seconds": round(seconds, 1)}
            row.update(scores(effect, data.tau, lower, upper))
            records.append(row)
            print(
                f"seed {seed} {name:14s} {seconds:6.1f}s  "
                + "  ".join(
                    f"{arm}: rmse {row[(arm, 'rmse')]:.3f} corr {row[(arm, 'corr')]:.3f}"
                    for arm in data.arms
                ),
                flush=True,
            )
    table = pd.DataFrame.from_records(records).set_index(["candidate", "seed"]).sort_index()
    print(table.round(3).to_string())
    print("issue-4 target RMSE:", TARGET)
    return table


if __name__ == "__main__":
    main()
