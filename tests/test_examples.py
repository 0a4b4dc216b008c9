"""Every script in examples/ runs, at a small size."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_example_is_covered():
    assert {p.stem for p in EXAMPLES.glob("*.py")} == {
        "socks_discounts", "hillstrom_email", "customer_costs",
    }  # fmt: skip


def test_socks_discounts_script(tmp_path):
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "socks_discounts.py"), "--n", "300", "--budget", "60",
         "--methods", "greedy,exact", "--out", str(tmp_path), "--quiet"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "oracle (true effects)" in done.stdout
    assert (tmp_path / "summary.csv").exists()


def test_hillstrom_script(tmp_path):
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "hillstrom_email.py"), "--quick", "--folds", "1",
         "--outcome", "visit", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "visit" in done.stdout


def test_customer_costs_example():
    module = load("customer_costs")
    table = module.run(n=2000, budget=300.0, seed=0)
    assert list(table.index) == [
        "per-arm average costs", "cost model (per customer)", "oracle (true tau, true costs)",
    ]  # fmt: skip
    np.testing.assert_array_less(table["planned spend"], 300.0 + 1e-6)
    # the oracle is best under the truth, and spends exactly what it planned
    assert (table["true net"] <= table.loc["oracle (true tau, true costs)", "true net"]).all()
    oracle = table.loc["oracle (true tau, true costs)"]
    assert oracle["true spend"] == pytest.approx(oracle["planned spend"])
    # the cost model recovers the per-customer costs (true costs are 0.1-1.8)
    assert max(table.attrs["cost_rmse"].values()) < 0.1
