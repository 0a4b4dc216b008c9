"""The socks-discount demo (``upliftopt demo``) at a small size."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from upliftopt.demos.socks import DISCOUNT_COSTS, format_report, main, run_socks


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("socks")
    return run_socks(n=600, seed=1, budget=120.0, time_limit=10, out=out, progress=None)


def test_table_has_every_method_and_the_oracle(report):
    assert list(report.table.index) == [
        "greedy", "scip", "exact", "risk-averse", "oracle (true effects)",
    ]  # fmt: skip


def test_every_allocation_spends_the_budget(report):
    np.testing.assert_allclose(report.table["cost"], 120.0, atol=120.0 * 1e-9)


def test_oracle_is_best_on_the_truth_and_exact_best_on_estimates(report):
    table = report.table
    best = table.loc["oracle (true effects)", "true_net"]
    assert (table["true_net"] <= best + 1e-9).all()
    assert (table["gap_to_best"] >= -1e-12).all()
    exact = table.loc["exact", "est_net"]
    assert table.loc["greedy", "est_net"] <= exact + 1e-9
    assert table.loc["scip", "est_net"] <= exact + 1e-6
    assert table.loc["exact", "status"] == "optimal"


def test_true_net_matches_known_effects(report):
    # gap_to_best is (oracle - method) / oracle, recomputed here from the table
    table = report.table
    best = table.loc["oracle (true effects)", "true_net"]
    np.testing.assert_allclose(table["gap_to_best"], (best - table["true_net"]) / best)


def test_cate_accuracy_is_reported_per_arm(report):
    assert list(report.cate.index) == list(DISCOUNT_COSTS)
    assert (report.cate["rmse"] > 0).all()
    assert (report.cate["corr"] > 0).all()  # weak at n=600, but the right sign


def test_files_are_written(report):
    for key in ("cate", "frontier", "frontier_csv", "summary_csv", "mix", "intervals"):
        assert report.files[key].exists()
    customers = pd.read_csv(report.files["customers_csv"], index_col=0)
    assert len(customers) == 3 * 600
    # risk-averse: every treated customer's lower bound for the chosen arm is > 0
    treated = customers["arm_risk-averse"].notna()
    assert customers.loc[treated, "sure_risk-averse"].eq(1.0).all()
    assert report.files["cate"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_printed_report(report):
    text = format_report(report)
    assert "TRUE net" in text and "oracle (true effects)" in text
    assert "Time per stage" in text and "fit 3 CATE models" in text


def test_main_runs_a_subset_quietly(tmp_path, capsys):
    code = main(
        ["--n", "400", "--budget", "60", "--methods", "greedy,exact", "--out", str(tmp_path),
         "--quiet"]
    )  # fmt: skip
    assert code == 0
    captured = capsys.readouterr()
    assert "exact" in captured.out and captured.err == ""


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="methods must be a subset"):
        run_socks(n=100, methods=("magic",), out=None, progress=None)
    with pytest.raises(ValueError, match="risk_alpha"):
        run_socks(n=100, risk_alpha=1.5, out=None, progress=None)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--n", "2000", "--budget", "3000"], "budget must be between 0 and 1800"),
        (["--n", "-5"], "n must be an integer >= 10"),
        (["--methods", "foo"], "methods must be a subset"),
        (["--risk-alpha", "2"], "risk_alpha must be in"),
        (["--time-limit", "0"], "time_limit must be > 0"),
    ],
)
def test_bad_command_line_options_exit_2_before_any_work(argv, message, capsys):
    with pytest.raises(SystemExit) as stop:
        main([*argv, "--out", "unused", "--quiet"])
    assert stop.value.code == 2
    assert message in capsys.readouterr().err


def test_default_budget_scales_with_n():
    from upliftopt.demos.socks import default_budget

    assert default_budget(10_000) == pytest.approx(3000.0)
    assert default_budget(2000) == pytest.approx(600.0)
