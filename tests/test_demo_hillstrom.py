"""Tests of the Hillstrom job (``upliftopt hillstrom``), run on a quick subsample."""

from __future__ import annotations

import contextlib
import io
import math
import runpy
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from upliftopt import load_hillstrom
from upliftopt.demos import hillstrom as job
from upliftopt.demos.hillstrom import (
    POLICIES,
    QUICK_N,
    TABLE_COLUMNS,
    format_report,
    main,
    run_hillstrom,
    verdict,
)
from upliftopt.evaluate import policy_value

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CONTROL = "No E-Mail"
ARMS = ("Mens E-Mail", "Womens E-Mail")


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """One quick run of the command line (all outcomes, default budgets, two folds, seed 0)."""
    out = tmp_path_factory.mktemp("hillstrom")
    captured = []
    original = job.run_hillstrom

    def keep(**kwargs):  # the command line's own report object, for the checks below
        captured.append(original(**kwargs))
        return captured[-1]

    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(printed):
        patch.setattr(job, "run_hillstrom", keep)
        code = main(["--quick", "--out", str(out)])
    assert code == 0
    return out, captured[0], printed.getvalue()


@pytest.fixture(scope="module")
def data():
    return load_hillstrom()


# --------------------------------------------------------------------------
# The quick run: cross-fitted over both halves (the default)
# --------------------------------------------------------------------------

OUTCOMES = ("visit", "conversion", "spend")
BUDGETS = (0.25, 0.5, 1.0)
COST = 0.10


def test_table_has_every_outcome_budget_and_policy(quick):
    _, report, _ = quick
    expected = [
        (outcome, budget, policy)
        for outcome in OUTCOMES
        for budget in BUDGETS
        for policy in POLICIES[:3]
    ] + [(outcome, 0.0, "no e-mail") for outcome in OUTCOMES]
    table = report.table
    assert list(table.columns) == list(TABLE_COLUMNS)
    got = list(zip(table["outcome"], table["budget"], table["policy"], strict=True))
    assert sorted(got) == sorted(expected)
    folds = report.fold_table
    assert list(folds.columns) == ["fold", *TABLE_COLUMNS]
    for fold in (1, 2):
        part = folds[folds["fold"] == fold]
        got = list(zip(part["outcome"], part["budget"], part["policy"], strict=True))
        assert sorted(got) == sorted(expected)
    s = report.settings
    assert s["folds"] == 2 and s["n"] == QUICK_N and s["n_scored"] == QUICK_N
    assert s["halves"] == (QUICK_N // 2, QUICK_N // 2)


def test_every_row_is_scored_exactly_once_by_a_policy_learned_without_it(quick):
    _, report, _ = quick
    (fit_1, scored_1), (fit_2, scored_2) = report.splits
    # the two folds swap the halves
    np.testing.assert_array_equal(fit_1, scored_2)
    np.testing.assert_array_equal(fit_2, scored_1)
    assert np.intersect1d(fit_1, scored_1).size == 0
    scored = np.concatenate([scored_1, scored_2])
    assert scored.size == QUICK_N and np.unique(scored).size == QUICK_N
    # the per-customer record holds each scored customer once, with its fold
    assignments = report.assignments
    np.testing.assert_array_equal(assignments.index, np.sort(scored))
    np.testing.assert_array_equal(assignments.loc[scored_1, "fold"], 1)
    np.testing.assert_array_equal(assignments.loc[scored_2, "fold"], 2)


def test_values_finite_and_standard_errors_positive(quick):
    _, report, _ = quick
    for table in (report.table, report.fold_table):
        for column in ("emails", "ipw", "ipw_se", "dr", "dr_se"):
            assert np.isfinite(table[column]).all(), column
        assert (table[["ipw_se", "dr_se"]] > 0).all().all()
        compared = table[table["policy"].isin(["optimised", "best single e-mail"])]
        assert np.isfinite(compared[["vs_random", "vs_random_se", "vs_random_ipw"]]).all().all()
        assert (compared["vs_random_se"] > 0).all()
        # the comparison columns are empty exactly where there is nothing to compare
        others = table[table["policy"].isin(["random", "no e-mail"])]
        assert others[["vs_random", "vs_random_se", "vs_random_z"]].isna().all().all()


def test_pooled_numbers_are_the_row_weighted_means_of_the_folds(quick):
    _, report, _ = quick
    sizes = {k + 1: scored.size for k, (_, scored) in enumerate(report.splits)}
    n = sum(sizes.values())
    keys = ["outcome", "budget", "policy"]
    pooled = report.table.set_index(keys)
    per_fold = {
        fold: part.drop(columns="fold").set_index(keys)
        for fold, part in report.fold_table.groupby("fold")
    }
    for column, se_column in [
        ("ipw", "ipw_se"),
        ("dr", "dr_se"),
        ("vs_random", "vs_random_se"),
        ("vs_random_ipw", "vs_random_ipw_se"),
        ("vs_single", "vs_single_se"),
    ]:
        mean = sum(sizes[f] * per_fold[f][column] for f in sizes) / n
        np.testing.assert_allclose(pooled[column], mean, rtol=1e-9, atol=1e-15)
        # sd of the pooled rows from each fold's mean and sd:
        # (n - 1) sd^2 = sum_k (n_k - 1) sd_k^2 + n_k (mean_k - mean)^2
        squares = sum(
            (sizes[f] - 1) * (per_fold[f][se_column] * np.sqrt(sizes[f])) ** 2
            + sizes[f] * (per_fold[f][column] - mean) ** 2
            for f in sizes
        )
        np.testing.assert_allclose(
            pooled[se_column], np.sqrt(squares / (n - 1)) / np.sqrt(n), rtol=1e-9
        )
    # e-mails add up over the folds
    np.testing.assert_array_equal(pooled["emails"], per_fold[1]["emails"] + per_fold[2]["emails"])


def test_emails_respect_the_cap_within_each_fold(quick):
    _, report, _ = quick
    sizes = {k + 1: scored.size for k, (_, scored) in enumerate(report.splits)}
    table = report.fold_table
    for (fold, outcome, budget), part in table[table["budget"] > 0].groupby(
        ["fold", "outcome", "budget"]
    ):
        emails = part.set_index("policy")["emails"]
        assert emails["optimised"] <= math.floor(budget * sizes[fold]), (fold, outcome, budget)
        assert emails["random"] == emails["optimised"] == emails["best single e-mail"]
    # visit and conversion carry no e-mail cost: below 100 % the cap binds in each fold
    free = table[(table["outcome"] != "spend") & (table["budget"] < 1) & (table["budget"] > 0)]
    caps = np.floor(free["budget"] * free["fold"].map(sizes))
    np.testing.assert_array_equal(free["emails"], caps)
    # and the per-customer record agrees: e-mails per fold as counted in the table
    assignments = report.assignments
    for (fold, outcome, budget), part in table[table["policy"] == "optimised"].groupby(
        ["fold", "outcome", "budget"]
    ):
        labels = assignments.loc[assignments["fold"] == fold, f"{outcome}@{budget:g}"]
        assert (labels != CONTROL).sum() == part["emails"].item()


def test_email_mix_adds_up_to_the_emails_sent(quick):
    _, report, _ = quick
    sent = report.mix.groupby(["outcome", "budget"])["emails"].sum()
    optimised = report.table[report.table["policy"] == "optimised"]
    assert sent.to_dict() == {(r.outcome, r.budget): int(r.emails) for r in optimised.itertuples()}
    assert set(report.mix["arm"]) == set(ARMS)


def test_ipw_values_recomputed_from_the_assignments(quick, data):
    # IPW with propensity 1/3: a row scores 3 y when it received the label the
    # policy gives it (minus the e-mail cost for spend when that label is an e-mail).
    _, report, _ = quick
    assignments = report.assignments
    rows = assignments.index.to_numpy()
    received = data.T.to_numpy()[rows]
    share = {}
    for fold, (_, scored) in enumerate(report.splits, start=1):
        part = report.fold_table[report.fold_table["fold"] == fold]
        share[fold] = part.set_index(["outcome", "budget", "policy"])["emails"] / scored.size
    for outcome in OUTCOMES:
        y = data.outcomes[outcome].to_numpy()[rows]
        cost = COST if outcome == "spend" else 0.0
        table = report.table[report.table["outcome"] == outcome].set_index(["budget", "policy"])
        for budget in BUDGETS:
            labels = assignments[f"{outcome}@{budget:g}"].to_numpy()
            optimised = 3 * y * (received == labels) - cost * (labels != CONTROL)
            assert table.loc[(budget, "optimised"), "ipw"] == pytest.approx(
                optimised.mean(), rel=1e-12
            )
            # random: each fold e-mails its share f of rows, each e-mail half of that
            f = (
                assignments["fold"]
                .map({k: share[k][(outcome, budget, "random")] for k in (1, 2)})
                .to_numpy()
            )
            random = (1 - f) * 3 * y * (received == CONTROL) + f / 2 * sum(
                3 * y * (received == arm) - cost for arm in ARMS
            )
            assert table.loc[(budget, "random"), "ipw"] == pytest.approx(random.mean(), rel=1e-12)
            assert table.loc[(budget, "optimised"), "vs_random_ipw_se"] == pytest.approx(
                np.std(optimised - random, ddof=1) / np.sqrt(rows.size), rel=1e-9
            )


def test_paired_lift_is_the_difference_of_the_two_values(quick):
    _, report, _ = quick
    for frame in (report.table, report.fold_table):
        keys = ["outcome", "budget", "policy"] + (["fold"] if "fold" in frame else [])
        table = frame.set_index(keys)
        for key, opt in table.xs("optimised", level="policy").iterrows():
            rand = table.xs("random", level="policy").loc[key]
            single = table.xs("best single e-mail", level="policy").loc[key]
            assert opt["vs_random"] == pytest.approx(opt["dr"] - rand["dr"], abs=1e-12)
            assert opt["vs_random_ipw"] == pytest.approx(opt["ipw"] - rand["ipw"], abs=1e-12)
            assert opt["vs_single"] == pytest.approx(opt["dr"] - single["dr"], abs=1e-12)
            assert opt["vs_random_z"] == pytest.approx(opt["vs_random"] / opt["vs_random_se"])


def test_no_email_ipw_value_is_three_times_the_control_sum_per_customer(quick, data):
    _, report, _ = quick
    rows = report.assignments.index.to_numpy()  # every customer of the subsample
    T = data.T.to_numpy()[rows]
    for outcome in OUTCOMES:
        y = data.outcomes[outcome].to_numpy()[rows]
        direct = np.mean(y * (T == CONTROL)) * 3
        row = report.table[
            (report.table["outcome"] == outcome) & (report.table["policy"] == "no e-mail")
        ]
        assert row["ipw"].item() == pytest.approx(direct, rel=1e-12)
        assert row["ipw_se"].item() == pytest.approx(
            np.std(3 * y * (T == CONTROL), ddof=1) / np.sqrt(rows.size), rel=1e-12
        )


def test_best_single_email_is_the_best_difference_in_means_on_each_training_half(quick, data):
    _, report, _ = quick
    for outcome in OUTCOMES:
        assert len(report.best_single[outcome]) == 2
        for (train, _), best in zip(report.splits, report.best_single[outcome], strict=True):
            received = data.T.to_numpy()[train]
            y = data.outcomes[outcome].to_numpy()[train]
            base = y[received == CONTROL].mean()
            effect = {arm: y[received == arm].mean() - base for arm in ARMS}
            assert best == max(effect, key=effect.get)


def test_plots_are_png_files_and_csv_holds_pooled_and_per_fold_tables(quick):
    out, report, _ = quick
    assert [p.name for p in report.figures] == [
        "hillstrom_visit.png",
        "hillstrom_conversion.png",
        "hillstrom_spend.png",
    ]
    for path in report.figures:
        assert path.parent == out
        content = path.read_bytes()
        assert content.startswith(PNG_SIGNATURE) and len(content) > 10_000
    saved = pd.read_csv(report.csv)
    assert list(saved.columns) == ["fold", *TABLE_COLUMNS]
    pooled = saved[saved["fold"] == "pooled"].drop(columns="fold").reset_index(drop=True)
    pd.testing.assert_frame_equal(pooled, report.table, check_dtype=False)
    per_fold = saved[saved["fold"] != "pooled"].reset_index(drop=True)
    per_fold["fold"] = per_fold["fold"].astype(int)
    pd.testing.assert_frame_equal(per_fold, report.fold_table, check_dtype=False)


def test_model_choice_and_qini_are_reported_per_fold(quick):
    _, report, _ = quick
    selection = report.selection
    assert selection.groupby(["outcome", "fold"])["chosen"].sum().to_dict() == {
        (outcome, fold): 1 for outcome in OUTCOMES for fold in (1, 2)
    }
    # the chosen model has the best cross-validated lift of its outcome and fold
    for _, part in selection.groupby(["outcome", "fold"]):
        assert part.loc[part["chosen"], "cv_lift"].item() == part["cv_lift"].max()
    assert "conversion-x-order" in set(selection.loc[selection["outcome"] == "spend", "model"])
    assert "conversion-x-order" not in set(selection.loc[selection["outcome"] == "visit", "model"])
    assert len(report.qini) == 12 and np.isfinite(report.qini["qini"]).all()
    # each fold's Qini is of the model that fold chose
    chosen = selection[selection["chosen"]].set_index(["outcome", "fold"])["model"]
    for r in report.qini.itertuples():
        assert r.model == chosen[(r.outcome, r.fold)]


def test_printed_report_states_each_verdict_and_both_folds(quick):
    _, report, printed = quick
    text = format_report(report)
    assert printed == text + "\n"
    assert set(report.verdicts) == {
        (outcome, budget) for outcome in report.settings["outcomes"] for budget in BUDGETS
    }
    for against_random, against_single in report.verdicts.values():
        assert against_random in text and against_single in text
        assert against_random.split(" (")[0] in {
            "beats random",
            "does not beat random",
            "does worse than random",
        }
        assert against_single.split(" (")[0].endswith("the best single e-mail")
    # each verdict agrees with the pooled table's own numbers
    table = report.table.set_index(["outcome", "budget", "policy"])
    for (outcome, budget), (against_random, _) in report.verdicts.items():
        row = table.loc[(outcome, budget, "optimised")]
        assert against_random == verdict(row["vs_random"], row["vs_random_se"])
    assert "== visit ==" in text and "== spend ==" in text
    assert "cross-fitted" in text and text.count("optimised vs random per fold") == 3
    assert text.count("fold 2, chosen:") == 3


def test_same_seed_same_numbers_and_one_fold_is_the_first_fold(quick):
    _, report, _ = quick
    again = run_hillstrom(outcomes="visit", n=QUICK_N, seed=0)
    first = report.table[report.table["outcome"] == "visit"].reset_index(drop=True)
    pd.testing.assert_frame_equal(again.table, first)
    np.testing.assert_array_equal(again.assignments.index, report.assignments.index)
    # folds=1 is the single held-out split: fit on half A, score half B, which
    # is exactly fold 1 of the cross-fitted run (same seeds)
    single = run_hillstrom(outcomes="visit", n=QUICK_N, seed=0, folds=1)
    assert single.settings["n_scored"] == QUICK_N // 2 and len(single.splits) == 1
    np.testing.assert_array_equal(single.splits[0][1], report.splits[0][1])
    fold_1 = report.fold_table[
        (report.fold_table["fold"] == 1) & (report.fold_table["outcome"] == "visit")
    ]
    pd.testing.assert_frame_equal(single.table, fold_1.drop(columns="fold").reset_index(drop=True))
    pd.testing.assert_frame_equal(
        single.fold_table.drop(columns="fold"), single.table, check_dtype=False
    )
    assert "one split" in format_report(single)


# --------------------------------------------------------------------------
# Pieces on constructed inputs
# --------------------------------------------------------------------------


def test_verdict_beats_random_when_the_interval_is_above_zero():
    text = verdict(0.012, 0.003)
    assert text.startswith("beats random (z = 4.0;")
    assert "95% CI [+0.00612, +0.0179]" in text  # 0.012 -/+ 1.95996 * 0.003


def test_verdict_does_not_beat_random_when_the_interval_includes_zero():
    text = verdict(0.16, 0.16)
    assert text.startswith("does not beat random (z = 1.0;")
    assert "includes 0" in text
    # 1.95 standard errors is not enough at 95 %; 1.97 is
    assert verdict(1.95, 1.0).startswith("does not beat")
    assert verdict(1.97, 1.0).startswith("beats")


def test_verdict_says_worse_and_handles_zero_se():
    assert verdict(-0.5, 0.1, baseline="the best single e-mail").startswith(
        "does worse than the best single e-mail (z = -5.0;"
    )
    assert verdict(0.0, 0.0).startswith("does not beat random (z = 0;")
    assert verdict(0.2, 0.0).startswith("beats random (z = inf;")
    with pytest.raises(ValueError, match="se >= 0"):
        verdict(0.1, -1.0)
    with pytest.raises(ValueError, match="finite"):
        verdict(float("nan"), 0.1)


def test_allocation_counts_emails_and_subtracts_cost():
    effects = pd.DataFrame([[0.3, 0.1], [0.2, 0.5], [0.05, 0.01], [-0.1, -0.2]], columns=list(ARMS))
    two = job._allocate(effects, 0.1, 2)
    assert two.assignment.tolist() == [0, 1, -1, -1]
    assert two.objective == pytest.approx((0.3 - 0.1) + (0.5 - 0.1))
    assert two.cost == 2.0  # the budget row counts e-mails
    one = job._allocate(effects, 0.1, 1)
    assert one.assignment.tolist() == [-1, 1, -1, -1]
    # a generous cap still leaves out customers whose best net effect is negative
    many = job._allocate(effects, 0.1, 4)
    assert many.assignment.tolist() == [0, 1, -1, -1]
    # without a cost, every positive effect gets its e-mail
    free = job._allocate(effects, 0.0, 4)
    assert free.assignment.tolist() == [0, 1, 0, -1]


def test_expected_random_scores_equal_the_average_over_random_draws():
    # The random policy is scored by its expectation over the draw; check it
    # against many explicit draws of "m customers at random, each a random arm".
    rng = np.random.default_rng(5)
    n, m = 60, 20
    T = pd.Series(rng.choice([CONTROL, *ARMS], size=n))
    y = pd.Series(rng.exponential(size=n))
    costs = {arm: 0.1 for arm in ARMS}
    scores = job._label_scores(y, T, method="ipw", mu=None, costs=costs)
    expected = job._mixture_scores(m / n, {arm: 0.5 for arm in ARMS}, scores).mean()
    draws = []
    for _ in range(1000):
        labels = np.full(n, None, dtype=object)
        picked = rng.choice(n, size=m, replace=False)
        labels[picked] = rng.choice(np.array(ARMS, dtype=object), size=m)
        draws.append(
            policy_value(
                labels, y, T, control=CONTROL, propensity=1 / 3, method="ipw", costs=costs
            ).estimate
        )
    draws = np.array(draws)
    assert abs(draws.mean() - expected) < 4 * draws.std() / np.sqrt(draws.size)
    # and exactly: each row is treated with probability m / n, each arm half of that
    by_hand = (
        (1 - m / n) * 3 * y * (T == CONTROL)
        + m / n / 2 * sum(3 * y * T.eq(arm) - 0.1 for arm in ARMS)
    ).mean()
    assert expected == pytest.approx(by_hand, rel=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"outcomes": ["visit", "clicks"]}, "unknown outcome.*'clicks'"),
        ({"outcomes": []}, "outcomes is empty"),
        ({"budgets": [0.5, 1.5]}, r"budgets .*\(0, 1\].*1\.5"),
        ({"budgets": [0.0]}, r"budgets .*\(0, 1\]"),
        ({"budgets": []}, "budgets is empty"),
        ({"cost": -0.1}, "cost must be finite and >= 0"),
        ({"cost": float("nan")}, "cost must be finite"),
        ({"seed": 1.5}, "seed must be an integer"),
        ({"n": 10}, "n must be between 600 and 64000"),
        ({"folds": 3}, r"folds must be 1 .* or 2"),
        ({"folds": True}, r"folds must be 1 .* or 2"),
        ({"folds": 2.0}, r"folds must be 1 .* or 2"),
    ],
)
def test_bad_arguments_raise_before_any_work(kwargs, message):
    with pytest.raises(ValueError, match=message):
        run_hillstrom(**kwargs)


def test_command_line_rejects_bad_budgets_and_folds(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--budgets", "0.5,2"])
    assert exit_info.value.code == 2
    assert "(0, 1]" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["--folds", "3"])
    assert exit_info.value.code == 2
    assert "--folds" in capsys.readouterr().err


def test_example_script_is_the_command_line(capsys):
    script = Path(__file__).resolve().parents[1] / "examples" / "hillstrom_email.py"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "argv", [str(script), "--help"])
        with pytest.raises(SystemExit) as exit_info:
            runpy.run_path(str(script), run_name="__main__")
    assert exit_info.value.code == 0
    usage = capsys.readouterr().out
    for option in ("--outcome", "--budgets", "--cost", "--seed", "--folds", "--out", "--quick"):
        assert option in usage
