"""Costs that depend on the customer: a second CATE model, of the cost.

A discount costs more for a customer who buys more. The synthetic generator
(``cost_rates=...``) records, besides the value outcome ``y``, the discount
actually paid (``cost_outcome``, 0 for control rows): the effect of arm j on it
is the expected cost of giving j to that customer, ``true_costs``. So the same
estimator, fitted on the cost outcome, is the cost model.

The script compares three ways to allocate under one budget:

* per-arm average costs (what you do without a cost model),
* per-customer costs from the cost model,
* the oracle: true effects and true costs,

and scores each by its TRUE net value. Run::

    python examples/customer_costs.py --n 5000 --budget 800
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

import upliftopt as uo

RATES = {"10% off": 0.10, "20% off": 0.20, "50% off": 0.50}


def true_net(result: uo.Allocation, tau: pd.DataFrame, true_costs: pd.DataFrame) -> float:
    """Net value of an allocation under the true effects AND the true costs."""
    chosen = result.assignment
    rows = np.flatnonzero(chosen >= 0)
    arms = chosen[rows]
    return float((tau.to_numpy() - true_costs.to_numpy())[rows, arms].sum())


def run(n: int = 5000, budget: float = 800.0, seed: int = 0) -> pd.DataFrame:
    data = uo.make_uplift_data(n, design="multiarm", cost_rates=RATES, random_state=seed)
    arms = list(data.arms)
    value_model = uo.PerTreatmentDML(control=data.control, random_state=seed)
    value_model.fit(data.X, data.T, data.y)
    cost_model = uo.PerTreatmentDML(control=data.control, random_state=seed)
    cost_model.fit(data.X, data.T, data.cost_outcome)

    values = value_model.effect(data.X)[arms]
    estimated_costs = cost_model.effect(data.X)[arms].clip(lower=0.0)
    average_costs = {
        arm: float(data.cost_outcome[data.T.eq(arm)].mean()) for arm in arms
    }  # per-arm average of the discount actually paid

    runs = {
        "per-arm average costs": uo.allocate(values, average_costs, max_budget=budget),
        "cost model (per customer)": uo.allocate(values, estimated_costs, max_budget=budget),
        "oracle (true tau, true costs)": uo.allocate(
            data.tau[arms], data.true_costs[arms], max_budget=budget
        ),
    }
    rows = []
    for name, result in runs.items():
        chosen = result.assignment
        spent = np.flatnonzero(chosen >= 0)
        true_spend = float(data.true_costs[arms].to_numpy()[spent, chosen[spent]].sum())
        rows.append(
            {
                "allocation": name,
                "treated": result.n_treated,
                "planned spend": result.cost,
                "true spend": true_spend,
                "true net": true_net(result, data.tau[arms], data.true_costs[arms]),
            }
        )
    table = pd.DataFrame(rows).set_index("allocation")
    rmse = np.sqrt(((estimated_costs - data.true_costs[arms]) ** 2).mean())
    table.attrs["cost_rmse"] = rmse.to_dict()
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--budget", type=float, default=800.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    table = run(args.n, args.budget, args.seed)
    with pd.option_context("display.width", 120, "display.float_format", "{:,.2f}".format):
        print(table)
    rmse = ", ".join(f"{arm} {value:.3f}" for arm, value in table.attrs["cost_rmse"].items())
    print(f"\ncost model RMSE against the true per-customer costs: {rmse}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
