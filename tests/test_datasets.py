"""Tests for upliftopt.datasets: the synthetic benchmark and the Hillstrom data."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from upliftopt import datasets
from upliftopt.datasets import (
    HillstromData,
    UpliftData,
    load_hillstrom,
    make_uplift_data,
)
from upliftopt.exceptions import UpliftOptError

ARMS = ("10% off", "20% off", "50% off")
RATES = {"10% off": 0.10, "20% off": 0.20, "50% off": 0.50}


# --- formulas written out again here, independently of the module ----------


def baseline_formula(x: np.ndarray) -> np.ndarray:
    x0, x1, x2, x3, x4, x5, x6, x7, x8, x9 = x.T
    return (
        np.sin(np.pi * x0 * x1)
        + 2 * (x2 - 0.5) ** 2
        + x3
        + 0.5 * x4
        + x5 * x6
        + x7**3
        + np.sin(np.pi * x8 * x9)
    )


def tau_formula(x: np.ndarray) -> np.ndarray:
    x0, x1, x2, x3, x4, x5, x6, x7, _, x9 = x.T
    return np.column_stack([0.75 * (x0 * x1 + x2), 0.50 * (x3 * x4 + x5), 0.90 * (x6 * x7 + x9)])


def received_effect(data: UpliftData) -> np.ndarray:
    """tau of the label each row received, 0 for control (computed row by row)."""
    position = {arm: j for j, arm in enumerate(data.arms)}
    tau = data.tau.to_numpy()
    return np.array(
        [0.0 if t == data.control else tau[i, position[t]] for i, t in enumerate(data.T)]
    )


def assert_same_data(a: UpliftData, b: UpliftData) -> None:
    for field in dataclasses.fields(UpliftData):
        left, right = getattr(a, field.name), getattr(b, field.name)
        if isinstance(left, pd.DataFrame):
            pd.testing.assert_frame_equal(left, right, check_exact=True)
        elif isinstance(left, pd.Series):
            pd.testing.assert_series_equal(left, right, check_exact=True)
        else:
            assert left == right, field.name


def z_bound(p: float, n: int, z: float = 4.5) -> float:
    """Half-width of a z-sigma band for a frequency with probability p over n rows."""
    return z * np.sqrt(p * (1 - p) / n)


@pytest.fixture(scope="module")
def multi() -> UpliftData:
    return make_uplift_data(20_000, random_state=7)


@pytest.fixture(scope="module")
def separate() -> UpliftData:
    return make_uplift_data(8_000, design="separate", cost_rates=RATES, random_state=11)


@pytest.fixture(scope="module")
def costly() -> UpliftData:
    return make_uplift_data(20_000, cost_rates=RATES, random_state=3)


# --- make_uplift_data: layout ------------------------------------------------


def test_multiarm_shapes_labels_and_index(multi):
    n = 20_000
    assert multi.n == n
    assert multi.arms == ARMS
    assert multi.control == "control"
    assert multi.design == "multiarm"
    assert list(multi.X.columns) == [f"x{i}" for i in range(10)]
    assert multi.X.shape == (n, 10)
    assert ((multi.X.to_numpy() >= 0) & (multi.X.to_numpy() < 1)).all()
    assert multi.tau.shape == (n, 3) and tuple(multi.tau.columns) == ARMS
    assert list(multi.propensity.columns) == ["control", *ARMS]
    assert multi.T.name == "treatment" and multi.y.name == "y"
    assert set(multi.T.unique()) == {"control", *ARMS}
    assert multi.experiment is None and multi.true_costs is None and multi.cost_outcome is None
    index = pd.RangeIndex(n)
    for obj in (multi.X, multi.T, multi.y, multi.tau, multi.propensity, multi.baseline):
        pd.testing.assert_index_equal(obj.index, index, exact=True)
    assert not any(obj.isna().to_numpy().any() for obj in (multi.X, multi.tau, multi.y))


def test_result_is_frozen(multi):
    with pytest.raises(dataclasses.FrozenInstanceError):
        multi.design = "separate"


def test_repr_is_short_and_informative(multi):
    text = repr(multi)
    assert text.startswith("UpliftData(n=20000, design='multiarm'")
    assert f"share {(multi.T == 'control').mean():.3f}" in text
    assert "\n" not in text and len(text) < 200


# --- make_uplift_data: the truth ----------------------------------------------


def test_baseline_and_tau_match_the_formulas(multi):
    x = multi.X.to_numpy()
    np.testing.assert_allclose(multi.baseline.to_numpy(), baseline_formula(x), rtol=0, atol=1e-12)
    np.testing.assert_allclose(multi.tau.to_numpy(), tau_formula(x), rtol=0, atol=1e-12)


def test_outcome_residual_is_the_noise(multi):
    received = received_effect(multi)
    np.testing.assert_array_equal(multi.assigned_tau().to_numpy(), received)
    residual = multi.y.to_numpy() - multi.baseline.to_numpy() - received
    # n = 20,000: the SE of the mean is 0.007 and of the sd about 0.005.
    assert abs(residual.mean()) < 0.035
    assert abs(residual.std() - 1.0) < 0.03


@pytest.mark.parametrize("noise", [0.0, 2.5])
def test_noise_scales_the_residual(noise):
    data = make_uplift_data(5_000, noise=noise, random_state=2)
    residual = data.y.to_numpy() - data.baseline.to_numpy() - received_effect(data)
    if noise == 0:
        np.testing.assert_allclose(residual, 0.0, atol=1e-12)
    else:
        assert abs(residual.std() - noise) < 0.1
        assert abs(residual.mean()) < 0.2


def test_multiarm_propensity_is_the_softmax_rule(multi):
    b = multi.baseline.to_numpy()
    arm_weight = np.exp(b - 2.0)  # equal weights: log(w / mean w) = 0
    p_control = 1.0 / (1.0 + 3.0 * arm_weight)
    expected = np.column_stack([p_control, *(arm_weight * p_control for _ in ARMS)])
    np.testing.assert_allclose(multi.propensity.to_numpy(), expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(multi.propensity.sum(axis=1), 1.0, rtol=0, atol=1e-12)


def test_multiarm_assignment_follows_the_propensity(multi):
    n = multi.n
    for label in ["control", *ARMS]:
        p = multi.propensity[label].mean()
        assert abs(multi.T.eq(label).mean() - p) < z_bound(p, n)
    # Confounding: the rule holds within low- and high-baseline quarters, which differ.
    low = (multi.baseline <= multi.baseline.quantile(0.25)).to_numpy()
    high = (multi.baseline >= multi.baseline.quantile(0.75)).to_numpy()
    shares = []
    for rows in (low, high):
        p = multi.propensity["control"][rows].mean()
        share = (multi.T[rows] == "control").mean()
        assert abs(share - p) < z_bound(p, int(rows.sum()))
        shares.append(share)
    assert shares[0] > shares[1] + 0.2
    assert 0.15 < (multi.T == "control").mean() < 0.25


def test_weights_tilt_the_assignment():
    weights = np.array([1.0, 1.0, 2.0])
    before = weights.copy()
    data = make_uplift_data(20_000, weights=weights, random_state=5)
    np.testing.assert_array_equal(weights, before)  # caller's array untouched
    prop = data.propensity
    np.testing.assert_allclose(prop["50% off"] / prop["10% off"], 2.0, rtol=1e-12)
    np.testing.assert_allclose(prop["20% off"] / prop["10% off"], 1.0, rtol=1e-12)
    # log(w / mean w) with mean w = 4/3
    b = data.baseline.to_numpy()
    np.testing.assert_allclose(
        prop["10% off"] / prop["control"], np.exp(b - 2.0) * 0.75, rtol=1e-12
    )
    count = data.T.value_counts()
    assert 1.8 < count["50% off"] / count["10% off"] < 2.2
    as_mapping = make_uplift_data(
        20_000, weights={"50% off": 2, "10% off": 1, "20% off": 1}, random_state=5
    )
    assert_same_data(data, as_mapping)


# --- separate design -----------------------------------------------------------


def test_separate_design_layout(separate):
    n = 8_000
    assert separate.n == 3 * n and separate.design == "separate"
    assert separate.experiment.name == "experiment"
    for j, arm in enumerate(ARMS):
        block = slice(j * n, (j + 1) * n)
        assert (separate.experiment.iloc[block] == arm).all()
        assert set(separate.T.iloc[block].unique()) == {"control", arm}
    assert separate.experiment.value_counts().to_dict() == dict.fromkeys(ARMS, n)
    pd.testing.assert_index_equal(separate.experiment.index, pd.RangeIndex(3 * n), exact=True)


def test_separate_design_propensity_and_treated_share(separate):
    n = 8_000
    p_treat = expit(baseline_formula(separate.X.to_numpy()))
    prop = separate.propensity
    np.testing.assert_allclose(prop.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(prop["control"], 1.0 - p_treat, rtol=0, atol=1e-12)
    for j, arm in enumerate(ARMS):
        rows = (separate.experiment == arm).to_numpy()
        np.testing.assert_allclose(prop[arm][rows], p_treat[rows], rtol=0, atol=1e-12)
        others = [a for a in ARMS if a != arm]
        assert (prop.loc[rows, others].to_numpy() == 0).all()
        expected = p_treat[rows].mean()
        share = (separate.T[rows] == arm).mean()
        assert abs(share - expected) < z_bound(expected, n), (j, share, expected)
    np.testing.assert_allclose(separate.tau.to_numpy(), tau_formula(separate.X.to_numpy()))


# --- costs -----------------------------------------------------------------------


def test_true_costs_match_the_formula(costly):
    x = costly.X.to_numpy()
    basket = 1.0 + x[:, [0]] + x[:, [3]] + 0.5 * tau_formula(x)
    expected = np.array([RATES[a] for a in ARMS]) * basket
    np.testing.assert_allclose(costly.true_costs.to_numpy(), expected, rtol=1e-12)
    assert tuple(costly.true_costs.columns) == ARMS
    assert costly.cost_outcome.name == "cost"


def test_cost_outcome_is_unbiased_for_the_true_cost(costly):
    control = (costly.T == "control").to_numpy()
    assert (costly.cost_outcome[control] == 0).all()
    for arm in ARMS:
        rows = costly.T.eq(arm).to_numpy()
        observed = costly.cost_outcome[rows].to_numpy()
        truth = costly.true_costs[arm][rows].to_numpy()
        # noise is 10 % of the cost, so the SE of the mean gap is 0.1 * rms(c) / sqrt(n_j)
        se = 0.1 * np.sqrt((truth**2).mean() / rows.sum())
        assert abs(observed.mean() - truth.mean()) < 4.5 * se
        standardised = (observed / truth - 1.0) / 0.1
        assert abs(standardised.mean()) < 0.1 and abs(standardised.std() - 1.0) < 0.07


def test_costs_leave_the_experiment_unchanged(costly):
    plain = make_uplift_data(20_000, random_state=3)
    pd.testing.assert_frame_equal(plain.X, costly.X, check_exact=True)
    pd.testing.assert_series_equal(plain.T, costly.T, check_exact=True)
    pd.testing.assert_series_equal(plain.y, costly.y, check_exact=True)
    as_sequence = make_uplift_data(20_000, cost_rates=[0.1, 0.2, 0.5], random_state=3)
    assert_same_data(costly, as_sequence)


def test_separate_design_cost_outcome(separate):
    assert (separate.cost_outcome[separate.T == "control"] == 0).all()
    treated = (separate.T != "control").to_numpy()
    truth = separate.true_costs.to_numpy()[treated, [ARMS.index(t) for t in separate.T[treated]]]
    ratio = separate.cost_outcome.to_numpy()[treated] / truth
    assert abs(ratio.mean() - 1.0) < 0.005


# --- reproducibility ---------------------------------------------------------------


@pytest.mark.parametrize("design", ["multiarm", "separate"])
def test_same_seed_same_data(design):
    first = make_uplift_data(500, design=design, cost_rates=RATES, random_state=42)
    second = make_uplift_data(500, design=design, cost_rates=RATES, random_state=42)
    assert_same_data(first, second)
    from_generator = make_uplift_data(
        500, design=design, cost_rates=RATES, random_state=np.random.default_rng(42)
    )
    assert_same_data(first, from_generator)
    other = make_uplift_data(500, design=design, cost_rates=RATES, random_state=43)
    assert not np.array_equal(first.X.to_numpy(), other.X.to_numpy())
    assert not np.array_equal(first.y.to_numpy(), other.y.to_numpy())


def _digest(data: UpliftData) -> str:
    parts = [data.X, data.T, data.y, data.tau, data.propensity, data.true_costs, data.cost_outcome]
    return hashlib.sha256(
        pd.util.hash_pandas_object(pd.concat(parts, axis=1)).to_numpy()
    ).hexdigest()


_FRESH = """
import hashlib, pandas as pd
from upliftopt import make_uplift_data
for design in ("multiarm", "separate"):
    d = make_uplift_data(300, design=design, cost_rates=[0.1, 0.2, 0.5], random_state=9)
    parts = [d.X, d.T, d.y, d.tau, d.propensity, d.true_costs, d.cost_outcome]
    h = pd.util.hash_pandas_object(pd.concat(parts, axis=1)).to_numpy()
    print(hashlib.sha256(h).hexdigest())
"""


def test_same_seed_same_data_in_a_fresh_process():
    # C04: nothing may depend on process state (global RNG, string hash seed).
    here = [
        _digest(make_uplift_data(300, design=design, cost_rates=[0.1, 0.2, 0.5], random_state=9))
        for design in ("multiarm", "separate")
    ]
    there = subprocess.run(
        [sys.executable, "-c", _FRESH],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
    ).stdout.split()
    assert there == here


def test_generator_is_advanced_not_reset():
    rng = np.random.default_rng(0)
    first = make_uplift_data(100, random_state=rng)
    second = make_uplift_data(100, random_state=rng)
    assert not np.array_equal(first.X.to_numpy(), second.X.to_numpy())


# --- custom arms and effects ------------------------------------------------------


def test_custom_integer_labels_and_effects():
    effects = {1: lambda x: 2.0 * x[:, 0], 2: lambda x: -x[:, 1]}
    data = make_uplift_data(300, arms=[2, 1], control=0, effects=effects, random_state=0)
    assert data.arms == (2, 1) and data.control == 0
    x = data.X.to_numpy()
    np.testing.assert_array_equal(data.tau[1].to_numpy(), 2.0 * x[:, 0])
    np.testing.assert_array_equal(data.tau[2].to_numpy(), -x[:, 1])
    assert list(data.propensity.columns) == [0, 2, 1]
    assert set(data.T.unique()) <= {0, 1, 2}
    assert data.T.dtype == np.int64
    residual = data.y - data.baseline - received_effect(data)
    assert abs(residual.mean()) < 0.3


def test_effects_mapping_sets_arm_order():
    data = make_uplift_data(50, effects={"b": lambda x: x[:, 0], "a": lambda x: x[:, 1]})
    assert data.arms == ("b", "a")
    np.testing.assert_array_equal(data.tau["a"].to_numpy(), data.X["x1"].to_numpy())


def test_arms_alone_rename_the_default_effects():
    data = make_uplift_data(200, arms=["A", "B", "C"], random_state=1)
    np.testing.assert_allclose(data.tau.to_numpy(), tau_formula(data.X.to_numpy()), atol=1e-12)
    assert tuple(data.tau.columns) == ("A", "B", "C")


def test_an_effect_that_writes_into_its_input_cannot_change_x():
    def meddling(x):
        x[:, 0] = 99.0
        return x[:, 1]

    data = make_uplift_data(100, arms=["a"], effects=[meddling], random_state=0)
    assert data.X["x0"].max() < 1.0
    np.testing.assert_allclose(data.baseline, baseline_formula(data.X.to_numpy()), atol=1e-12)


# --- validation ----------------------------------------------------------------------


def _const(value):
    return lambda x: np.full(x.shape[0], value)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n": 0}, r"^n must be a positive integer; got 0"),
        ({"n": -5}, r"^n must be a positive integer"),
        ({"n": 10.5}, r"^n must be a positive integer"),
        ({"n": True}, r"^n must be a positive integer"),
        ({"n": "100"}, r"^n must be a positive integer"),
        (
            {"design": "factorial"},
            r"^design must be one of 'multiarm', 'separate'; got 'factorial'",
        ),
        ({"arms": ["a", "a", "b"]}, r"^arms has duplicate labels: 'a'"),
        ({"arms": ["a", "control", "b"]}, r"^arms contains the control label 'control'"),
        ({"arms": ["a", "b"]}, r"^arms has 2 labels but the default effects define 3"),
        ({"arms": [1.5, 2, 3]}, r"^each label in arms must be a string or an integer; got 1.5"),
        ({"arms": "abc"}, r"^arms must be a sequence of labels"),
        ({"arms": []}, r"^arms must name at least one arm"),
        ({"control": None}, r"^control must be a string or an integer"),
        (
            {"arms": ["a", "b"], "effects": {"a": _const(1.0), "c": _const(1.0)}},
            r"^effects keys \['a', 'c'\] do not match arms \['a', 'b'\]; unknown: 'c'; "
            r"missing: 'b'",
        ),
        ({"arms": ["a", "b"], "effects": [_const(1.0)]}, r"^effects has 1 functions but there"),
        ({"effects": [_const(1.0)]}, r"^effects given as a sequence needs arms"),
        ({"effects": {"a": 3.0}}, r"^effects\['a'\] must be callable"),
        ({"effects": {"control": _const(1.0)}}, r"^effects contains the control label"),
        ({"effects": {"a": lambda x: x[:, :2]}}, r"^effects\['a'\] returned shape \(40, 2\)"),
        ({"effects": {"a": _const(np.nan)}}, r"^effects\['a'\] returned nan at row 0"),
        ({"weights": [1.0, 2.0]}, r"^weights has shape \(2,\) but there are 3 arms"),
        ({"weights": [1.0, 0.0, 1.0]}, r"^weights\['20% off'\] is 0.0; it must be > 0"),
        ({"weights": [1.0, np.nan, 1.0]}, r"^weights\['20% off'\] is nan; it must be finite"),
        (
            {"weights": {"10% off": 1, "20% off": 1}},
            r"^weights has no entry for arm\(s\) '50% off'",
        ),
        ({"weights": {"5% off": 1}}, r"^weights names unknown arm\(s\) '5% off'"),
        ({"noise": -1.0}, r"^noise must be a finite number >= 0; got -1.0"),
        ({"noise": np.inf}, r"^noise must be a finite number >= 0"),
        ({"noise": "loud"}, r"^noise must be a number >= 0"),
        ({"cost_rates": [0.1, 0.2]}, r"^cost_rates has shape \(2,\) but there are 3 arms"),
        ({"cost_rates": [0.1, -0.2, 0.5]}, r"^cost_rates\['20% off'\] is -0.2; it must be >= 0"),
        ({"cost_rates": "cheap"}, r"^cost_rates must be numbers, one per arm"),
        (
            {"effects": {"a": _const(-3.0)}, "cost_rates": [0.1]},
            r"^cost_rates needs positive basket sizes .* arm 'a' gives",
        ),
        ({"random_state": "seed"}, r"^random_state must be None, a non-negative integer"),
        ({"random_state": -1}, r"^random_state -1 is not a valid seed"),
        ({"random_state": 1.5}, r"^random_state must be None"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs, match):
    kwargs = {"n": 40, **kwargs}
    with pytest.raises(ValueError, match=match):
        make_uplift_data(**kwargs)


# --- Hillstrom ---------------------------------------------------------------------

HILLSTROM_SHA256 = "0e5893329d8b93cefecc571777672028290ab69865718020c78c7284f291aece"
HILLSTROM_COLUMNS = [
    "recency",
    "history_segment",
    "history",
    "mens",
    "womens",
    "zip_code",
    "newbie",
    "channel",
    "segment",
    "visit",
    "conversion",
    "spend",
]
X_COLUMNS = [
    "recency",
    "history",
    "mens",
    "womens",
    "newbie",
    "zip_code_Surburban",
    "zip_code_Urban",
    "channel_Phone",
    "channel_Web",
]
COUNTS = {"No E-Mail": 21_306, "Mens E-Mail": 21_307, "Womens E-Mail": 21_387}
# Facts about the file, computed once with pandas (groupby("segment").mean() / .sum()).
MEANS = {
    "visit": {
        "Mens E-Mail": 0.18275684047496127,
        "No E-Mail": 0.10616727682343002,
        "Womens E-Mail": 0.151400383410483,
    },
    "conversion": {
        "Mens E-Mail": 0.01253109306800582,
        "No E-Mail": 0.005726086548390125,
        "Womens E-Mail": 0.008837144059475383,
    },
    "spend": {
        "Mens E-Mail": 1.4226165110057727,
        "No E-Mail": 0.6527893551112363,
        "Womens E-Mail": 1.0772015710478329,
    },
}
SUMS = {
    "visit": {"Mens E-Mail": 3894, "No E-Mail": 2262, "Womens E-Mail": 3238},
    "conversion": {"Mens E-Mail": 267, "No E-Mail": 122, "Womens E-Mail": 189},
    "spend": {"Mens E-Mail": 30311.69, "No E-Mail": 13908.33, "Womens E-Mail": 23038.11},
}


@pytest.fixture(scope="module")
def hill() -> HillstromData:
    return load_hillstrom()


def test_hillstrom_checksum():
    assert datasets._hillstrom_sha256() == HILLSTROM_SHA256
    assert datasets.HILLSTROM_SHA256 == HILLSTROM_SHA256


def test_hillstrom_corrupt_file_is_refused(monkeypatch):
    good = datasets._hillstrom_bytes()
    bad = good.replace(b"Phone", b"Phono", 1)
    assert hashlib.sha256(bad).hexdigest() != HILLSTROM_SHA256
    monkeypatch.setattr(datasets, "_hillstrom_bytes", lambda: bad)
    with pytest.raises(UpliftOptError, match="corrupt or modified"):
        load_hillstrom()
    # without the check the altered level is caught by the encoder instead
    with pytest.raises(UpliftOptError, match=r"unexpected levels \['Phono'\]"):
        load_hillstrom(verify=False)


def test_hillstrom_frame_and_counts(hill):
    assert hill.frame.shape == (64_000, 12)
    assert list(hill.frame.columns) == HILLSTROM_COLUMNS
    assert hill.T.value_counts().to_dict() == COUNTS
    assert hill.control == "No E-Mail"
    assert hill.arms == ("Mens E-Mail", "Womens E-Mail")
    assert hill.outcome == "spend"
    assert "n=64000" in repr(hill) and "'No E-Mail': 21306" in repr(hill)


@pytest.mark.parametrize("outcome", ["visit", "conversion", "spend"])
def test_hillstrom_per_arm_means_and_sums(hill, outcome):
    column = hill.outcomes[outcome]
    means = column.groupby(hill.T).mean().to_dict()
    sums = column.groupby(hill.T).sum().to_dict()
    for label in COUNTS:
        assert means[label] == pytest.approx(MEANS[outcome][label], abs=1e-6)
        assert sums[label] == pytest.approx(SUMS[outcome][label], abs=1e-6)


def test_hillstrom_encoding(hill):
    X = hill.X
    assert list(X.columns) == X_COLUMNS
    assert (X.dtypes == np.float64).all()
    assert not X.isna().to_numpy().any()
    # Full column rank even with an intercept: no dummy is redundant.
    design = np.column_stack([np.ones(len(X)), X.to_numpy()])
    assert np.linalg.matrix_rank(design) == design.shape[1]
    frame = hill.frame
    for name in ("recency", "history", "mens", "womens", "newbie"):
        np.testing.assert_array_equal(X[name].to_numpy(), frame[name].to_numpy(dtype=float))
    for name, dropped in (("zip_code", "Rural"), ("channel", "Multichannel")):
        dummies = X[[c for c in X_COLUMNS if c.startswith(name + "_")]]
        for column in dummies:
            level = column.removeprefix(name + "_")
            np.testing.assert_array_equal(dummies[column].to_numpy(), frame[name] == level)
        np.testing.assert_array_equal(dummies.sum(axis=1) == 0, frame[name] == dropped)


def test_hillstrom_alignment_and_propensity(hill):
    index = pd.RangeIndex(64_000)
    for obj in (hill.frame, hill.X, hill.T, hill.y, hill.outcomes, hill.propensity):
        pd.testing.assert_index_equal(obj.index, index, exact=True)
    assert list(hill.propensity.columns) == ["No E-Mail", "Mens E-Mail", "Womens E-Mail"]
    np.testing.assert_array_equal(hill.propensity.to_numpy(), 1.0 / 3.0)
    assert hill.T.eq(hill.frame["segment"]).all()


def test_hillstrom_outcome_switching(hill):
    assert hill.y.name == "spend" and hill.y.dtype == np.float64
    np.testing.assert_array_equal(hill.y.to_numpy(), hill.frame["spend"].to_numpy())
    for outcome in ("visit", "conversion"):
        data = load_hillstrom(outcome)
        assert data.outcome == outcome and data.y.name == outcome
        assert data.y.dtype == np.float64
        np.testing.assert_array_equal(data.y.to_numpy(), hill.frame[outcome].to_numpy(dtype=float))
    with pytest.raises(ValueError, match=r"^outcome must be one of 'visit', 'conversion', 'spend'"):
        load_hillstrom("revenue")
