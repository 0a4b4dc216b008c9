"""Tests of upliftopt.plot: each plot renders headless and draws exactly its input."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from upliftopt import allocate
from upliftopt.evaluate import policy_gain_curve, qini_curve, uplift_curve
from upliftopt.plot import (
    allocation_mix,
    budget_frontier,
    cate_scatter,
    effect_intervals,
    qini_curves,
)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def rendered(ax) -> None:
    ax.figure.canvas.draw()  # fails loudly on anything matplotlib cannot render


# --------------------------------------------------------------------------
# cate_scatter
# --------------------------------------------------------------------------


def test_cate_scatter_one_panel_per_arm_with_identity_line():
    rng = np.random.default_rng(0)
    true = pd.DataFrame(rng.normal(size=(40, 3)), columns=["A", "B", "C"])
    noise = rng.normal(scale=0.1, size=(40, 3))
    estimated = (true + noise)[["C", "A", "B"]]  # other column order: matched by label
    axes = cate_scatter(estimated, true)
    assert isinstance(axes, np.ndarray) and axes.shape == (3,)
    for ax, arm in zip(axes, ["C", "A", "B"], strict=True):
        (points,) = ax.collections
        xy = points.get_offsets()
        np.testing.assert_array_equal(xy[:, 0], true[arm])
        np.testing.assert_array_equal(xy[:, 1], estimated[arm])
        (identity,) = ax.get_lines()
        xs, ys = identity.get_data()
        np.testing.assert_array_equal(xs, ys)
        assert identity.get_linestyle() == "--"
        rmse = np.sqrt(np.mean((estimated[arm] - true[arm]) ** 2))
        assert ax.get_title() == f"{arm} (RMSE {rmse:.3g})"
        assert ax.get_xlabel() == "true effect" and ax.get_ylabel() == "estimated effect"
    rendered(axes[0])


def test_cate_scatter_on_given_axes_with_sample():
    true = np.arange(30.0).reshape(15, 2)
    _, given = plt.subplots(2, 2)
    axes = cate_scatter(true * 1.1, true, axes=given, sample=5, random_state=1)
    assert list(axes) == list(given.ravel()[:2])
    points = axes[1].collections[0].get_offsets()
    assert points.shape == (5, 2)
    assert set(points[:, 0]) <= set(true[:, 1])  # a subset of the real customers
    np.testing.assert_allclose(points[:, 1], points[:, 0] * 1.1)
    again = cate_scatter(true * 1.1, true, sample=5, random_state=1)
    np.testing.assert_array_equal(again[1].collections[0].get_offsets(), points)
    assert not given.ravel()[2].collections  # the spare axes stay empty


def test_cate_scatter_errors():
    true = pd.DataFrame({"A": [1.0, 2.0], "B": [3.0, 4.0]})
    with pytest.raises(ValueError, match=r"estimated arms \['A', 'Z'\] do not match"):
        cate_scatter(true.rename(columns={"B": "Z"}), true)
    with pytest.raises(ValueError, match=r"estimated\[1, 0\] is nan"):
        cate_scatter(np.array([[1.0, 2.0], [np.nan, 1.0]]), true)
    with pytest.raises(ValueError, match="axes has 1 Axes but there are 2 arms"):
        cate_scatter(true, true, axes=[plt.subplots()[1]])


# --------------------------------------------------------------------------
# budget_frontier
# --------------------------------------------------------------------------


def test_budget_frontier_draws_each_method_in_budget_order():
    frame = pd.DataFrame(
        {
            "budget": [20.0, 0.0, 10.0],
            "lp_bound": [9.0, 0.0, 6.0],
            "exact": [8.5, 0.0, 6.0],
            "greedy": [7.0, 0.0, np.nan],
            "random": [3.0, 0.0, 1.5],
        }
    )
    before = frame.copy()
    ax = budget_frontier(frame)
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["LP bound", "exact", "greedy", "random"]
    for line, column in zip(lines, ["lp_bound", "exact", "greedy", "random"], strict=True):
        np.testing.assert_array_equal(line.get_xdata(), [0.0, 10.0, 20.0])
        np.testing.assert_array_equal(line.get_ydata(), frame.sort_values("budget")[column])
    assert lines[0].get_linestyle() == "--" and lines[1].get_linestyle() == "-"
    assert ax.get_xlabel() == "budget" and ax.get_ylabel() == "net value"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "LP bound",
        "exact",
        "greedy",
        "random",
    ]
    pd.testing.assert_frame_equal(frame, before)
    rendered(ax)
    only = budget_frontier(frame, methods=["greedy", "exact"])
    assert [line.get_label() for line in only.get_lines()] == ["greedy", "exact"]


def test_budget_frontier_errors():
    with pytest.raises(ValueError, match="frontier has no 'budget' column"):
        budget_frontier(pd.DataFrame({"spend": [1.0], "exact": [1.0]}))
    with pytest.raises(ValueError, match=r"frontier has no column.*'scip'"):
        budget_frontier(pd.DataFrame({"budget": [1.0], "exact": [1.0]}), methods=["scip"])
    with pytest.raises(ValueError, match="must be a DataFrame"):
        budget_frontier({"budget": [1.0]})


# --------------------------------------------------------------------------
# qini_curves
# --------------------------------------------------------------------------


def test_qini_curves_per_arm_with_random_lines():
    rng = np.random.default_rng(2)
    n = 300
    T = rng.choice(["c", "A", "B"], n)
    y = rng.normal(size=n)
    curves = {
        arm: qini_curve(rng.random(n), y, T, treatment=arm, control="c") for arm in ["A", "B"]
    }
    ax = qini_curves(curves)
    lines = ax.get_lines()
    assert len(lines) == 5  # curve + random line per arm, then the zero line
    np.testing.assert_array_equal(lines[4].get_ydata(), [0, 0])
    for k, arm in enumerate(["A", "B"]):
        curve, baseline = lines[2 * k], lines[2 * k + 1]
        assert curve.get_label() == arm
        np.testing.assert_array_equal(curve.get_xdata(), curves[arm]["n_targeted"])
        np.testing.assert_array_equal(curve.get_ydata(), curves[arm]["gain"])
        np.testing.assert_array_equal(baseline.get_ydata(), curves[arm]["random"])
        assert baseline.get_color() == curve.get_color() and baseline.get_linestyle() == ":"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["A", "B"]
    assert ax.get_ylabel() == "cumulative incremental gain"
    rendered(ax)


def test_qini_curves_single_frame_on_fraction_axis_and_gain_curve():
    y = [1.0, 0.0, 1.0, 1.0]
    T = ["t", "c", "t", "c"]
    curve = uplift_curve([0.9, 0.5, 0.4, 0.1], y, T, treatment="t", control="c")
    _, ax = plt.subplots()
    out = qini_curves(curve, ax=ax, x="fraction", random=False)
    assert out is ax
    line, zero = ax.get_lines()
    np.testing.assert_array_equal(zero.get_ydata(), [0, 0])
    np.testing.assert_array_equal(line.get_xdata(), [0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_array_equal(line.get_ydata(), [0, 1, 2, 3, 2])
    assert ax.get_xlabel() == "fraction targeted" and ax.get_legend() is None
    gain = policy_gain_curve(
        ["t", None, "t", None], [2.0, 0, 1.0, 0], y, T, control="c", propensity=0.5
    )
    ax2 = qini_curves({"policy": gain})
    np.testing.assert_array_equal(ax2.get_lines()[0].get_ydata(), gain["gain"])
    with pytest.raises(ValueError, match=r"curves\['x'\] has no column.*'gain'"):
        qini_curves({"x": pd.DataFrame({"n_targeted": [0, 1]})})


# --------------------------------------------------------------------------
# allocation_mix
# --------------------------------------------------------------------------


def bar_heights(ax):
    return [[float(bar.get_height()) for bar in container] for container in ax.containers]


def test_allocation_mix_counts_per_arm_and_segment():
    values = pd.DataFrame(
        {"A": [3.0, 0.1, 2.0, 0.2, 5.0, 0.0], "B": [1.0, 2.0, 0.1, 0.3, 0.0, 0.0]},
        index=list("uvwxyz"),
    )
    alloc = allocate(values, costs=0.5, method="greedy")
    # net: u A 2.5; v B 1.5; w A 1.5; x none (-0.2); y A 4.5; z none
    assert alloc.labels().tolist() == ["A", "B", "A", None, "A", None]
    segments = pd.Series(
        ["gold", "gold", "silver", "gold", "silver", "silver"], index=list("uvwxyz")
    )
    ax = allocation_mix(alloc, segments=segments)
    # bars: gold, silver; stacks: A, B, untreated
    assert bar_heights(ax) == [[1.0, 2.0], [1.0, 0.0], [1.0, 1.0]]
    bottoms = [[bar.get_y() for bar in c] for c in ax.containers]
    assert bottoms == [[0.0, 0.0], [1.0, 2.0], [2.0, 2.0]]  # stacked
    assert [t.get_text() for t in ax.get_xticklabels()] == ["gold", "silver"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["A", "B", "untreated"]
    assert ax.get_ylabel() == "customers"
    rendered(ax)
    share = allocation_mix(alloc, segments=segments, include_untreated=False, normalize=True)
    assert bar_heights(share) == [[1 / 3, 2 / 3], [1 / 3, 0.0]]
    assert share.get_ylabel() == "share of customers"


def test_allocation_mix_from_labels_without_segments():
    ax = allocation_mix(pd.Series(["B", "A", None, "B", np.nan]))
    assert bar_heights(ax) == [[1.0], [2.0], [2.0]]  # A, B, untreated
    assert [t.get_text() for t in ax.get_xticklabels()] == ["all"]


def test_allocation_mix_errors():
    with pytest.raises(ValueError, match="segments must have one entry per customer"):
        allocation_mix(["A", "B"], segments=["x"])
    with pytest.raises(ValueError, match=r"segments\[1\] is missing"):
        allocation_mix(["A", "B"], segments=["x", None])
    alloc = allocate(pd.DataFrame({"A": [1.0, 2.0]}, index=["p", "q"]), costs=0.0)
    with pytest.raises(ValueError, match="segments' index does not match"):
        allocation_mix(alloc, segments=pd.Series(["x", "y"]))


# --------------------------------------------------------------------------
# effect_intervals
# --------------------------------------------------------------------------


def test_effect_intervals_sorted_and_split_by_zero():
    estimate = np.array([0.5, -1.0, 2.0, 0.1, -0.2])
    lower = np.array([0.2, -1.5, 1.0, -0.3, -0.4])
    upper = np.array([0.9, -0.6, 3.0, 0.6, -0.1])
    ax = effect_intervals(estimate, lower, upper, n_customers=None)
    excl, incl = ax.containers
    # sorted by estimate: -1.0 (excl), -0.2 (excl), 0.1 (incl), 0.5 (excl), 2.0 (excl)
    np.testing.assert_array_equal(excl.lines[0].get_xdata(), [0, 1, 3, 4])
    np.testing.assert_array_equal(excl.lines[0].get_ydata(), [-1.0, -0.2, 0.5, 2.0])
    np.testing.assert_array_equal(incl.lines[0].get_xdata(), [2])
    np.testing.assert_array_equal(incl.lines[0].get_ydata(), [0.1])
    # error bar segments run from lower to upper
    (segments,) = excl.lines[2]
    spans = [tuple(seg[:, 1]) for seg in segments.get_segments()]
    assert spans == [(-1.5, -0.6), (-0.4, -0.1), (0.2, 0.9), (1.0, 3.0)]
    assert ax.get_title() == "4 of 5 intervals exclude 0"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["excludes 0", "includes 0"]
    rendered(ax)


def test_effect_intervals_chosen_arm_of_allocation_and_sampling():
    rng = np.random.default_rng(4)
    point = pd.DataFrame(rng.normal(1.0, 1.0, size=(200, 2)), columns=["A", "B"])
    alloc = allocate(point, costs=0.8, method="greedy")
    treated = np.flatnonzero(alloc.treated)
    assert treated.size > 30
    lower, upper = point - 0.5, point + 0.5
    ax = effect_intervals(point, lower, upper, allocation=alloc, n_customers=30, random_state=0)
    ys = np.concatenate([c.lines[0].get_ydata() for c in ax.containers])
    assert ys.size == 30
    chosen = point.to_numpy()[treated, alloc.assignment[treated]]
    assert set(ys) <= set(chosen)  # only treated customers, with their own arm
    assert ax.get_title().endswith("of 30 intervals exclude 0")
    xs = np.concatenate([c.lines[0].get_xdata() for c in ax.containers])
    np.testing.assert_array_equal(np.sort(ys), ys[np.argsort(xs)])  # sorted left to right
    again = effect_intervals(point, lower, upper, allocation=alloc, n_customers=30, random_state=0)
    assert again.get_title() == ax.get_title()


def test_effect_intervals_errors():
    with pytest.raises(ValueError, match=r"customer 1: estimate 5\.0 lies outside"):
        effect_intervals([0.0, 5.0], [-1.0, 0.0], [1.0, 1.0])
    with pytest.raises(ValueError, match=r"lower\[0\] is nan"):
        effect_intervals([0.0, 5.0], [np.nan, 0.0], [1.0, 6.0])
    with pytest.raises(ValueError, match=r"must be 1-D .* unless allocation is given"):
        effect_intervals(np.zeros((2, 2)), np.zeros((2, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="upper has 1 rows but estimate has 2"):
        effect_intervals([0.0, 0.0], [0.0, 0.0], [1.0])
