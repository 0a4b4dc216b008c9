"""Tests of upliftopt.evaluate: exact scores on known effects, estimators on simulations."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from upliftopt import allocate
from upliftopt.evaluate import (
    ArmOutcomeModel,
    compare_policies,
    cross_fit_outcomes,
    estimate_propensity,
    oracle_allocation,
    policy_gain_curve,
    policy_value,
    qini_auc,
    qini_curve,
    regret,
    true_value,
    uplift_auc,
    uplift_curve,
)

# --------------------------------------------------------------------------
# A simulated experiment with known propensities and outcome functions.
#   x ~ U(0, 1); labels c (control), A, B
#   e_c = 0.5 - 0.3 x, e_A = 0.2 + 0.3 x, e_B = 0.3   (assignment depends on x)
#   mu_c = 1 + 2 x, tau_A = 2 x - 0.5, tau_B = 0.3, noise N(0, 1)
# Policy "main": A if x > 0.5, B if x < 0.2, else c. Its true value per customer:
#   E[mu_c] + int_0.5^1 (2x - 0.5) dx + 0.2 * 0.3 = 2 + 0.5 + 0.06 = 2.56
# Policy "late": A if x > 0.6 else c. main - late:
#   int_0.5^0.6 (2x - 0.5) dx + 0.2 * 0.3 = 0.06 + 0.06 = 0.12
# --------------------------------------------------------------------------
LABELS = np.array(["c", "A", "B"], dtype=object)
TRUE_MAIN = 2.56
TRUE_MAIN_MINUS_LATE = 0.12


def simulate(rng: np.random.Generator, n: int):
    x = rng.random(n)
    e = np.column_stack([0.5 - 0.3 * x, 0.2 + 0.3 * x, np.full(n, 0.3)])
    code = (rng.random(n)[:, None] > np.cumsum(e, axis=1)).sum(axis=1)
    mu = np.column_stack([1 + 2 * x, 1 + 2 * x + (2 * x - 0.5), 1 + 2 * x + 0.3])
    y = mu[np.arange(n), code] + rng.normal(size=n)
    columns = list(LABELS)
    return x, LABELS[code], y, pd.DataFrame(e, columns=columns), pd.DataFrame(mu, columns=columns)


def main_policy(x):
    return np.where(x > 0.5, "A", np.where(x < 0.2, "B", "c")).astype(object)


def late_policy(x):
    return np.where(x > 0.6, "A", "c").astype(object)


@pytest.fixture(scope="module")
def replications():
    """200 independent experiments of 500 rows, with their estimates."""
    out = {"ipw": [], "dr": [], "dr_wrong_mu": [], "wrong_e": [], "paired": []}
    for seed in range(200):
        x, T, y, e, mu = simulate(np.random.default_rng(seed), 500)
        policy = main_policy(x)
        out["ipw"].append(policy_value(policy, y, T, control="c", propensity=e, method="ipw"))
        out["dr"].append(
            policy_value(policy, y, T, control="c", propensity=e, outcome_predictions=mu)
        )
        # A badly wrong but fixed outcome model: DR stays unbiased with known propensities.
        wrong = mu + 0.8 * np.sin(6 * x)[:, None] + np.array([0.5, -0.5, 0.3])
        out["dr_wrong_mu"].append(
            policy_value(policy, y, T, control="c", propensity=e, outcome_predictions=wrong)
        )
        # Ignoring that assignment depends on x: the estimator the tests must reject.
        out["wrong_e"].append(
            policy_value(policy, y, T, control="c", propensity=1 / 3, method="ipw")
        )
        out["paired"].append(
            compare_policies(
                policy, late_policy(x), y, T, control="c", propensity=e, outcome_predictions=mu
            )
        )
    return out


def coverage(results, truth):
    return sum(r.ci_low <= truth <= r.ci_high for r in results)


# --------------------------------------------------------------------------
# Policy value: coverage, efficiency, pairing
# --------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["ipw", "dr", "dr_wrong_mu"])
def test_interval_covers_true_value_at_nominal_rate(replications, method):
    results = replications[method]
    assert coverage(results, TRUE_MAIN) >= 180  # nominal 95 % of 200
    # ... and not by being uselessly wide: mean estimate close, SE small
    assert abs(np.mean([r.estimate for r in results]) - TRUE_MAIN) < 0.03
    assert np.mean([r.se for r in results]) < 0.2


def test_coverage_check_rejects_a_biased_estimator(replications):
    # Uniform propensities although assignment depends on x: biased upwards.
    results = replications["wrong_e"]
    assert coverage(results, TRUE_MAIN) < 100
    assert np.mean([r.estimate for r in results]) > TRUE_MAIN + 0.3


def test_dr_standard_error_smaller_than_ipw_with_good_outcome_model(replications):
    se_ipw = np.array([r.se for r in replications["ipw"]])
    se_dr = np.array([r.se for r in replications["dr"]])
    assert np.all(se_dr < se_ipw)
    assert se_dr.mean() < 0.7 * se_ipw.mean()
    # and the DR estimates are less spread around the truth
    spread_ipw = np.std([r.estimate for r in replications["ipw"]])
    spread_dr = np.std([r.estimate for r in replications["dr"]])
    assert spread_dr < 0.7 * spread_ipw


def test_paired_difference_covers_truth_and_beats_unpaired_se(replications):
    results = replications["paired"]
    assert coverage(results, TRUE_MAIN_MINUS_LATE) >= 180
    assert all(r.se < r.se_unpaired for r in results)
    # the two policies agree on 70 % of customers: pairing cuts the SE a lot
    assert np.mean([r.se / r.se_unpaired for r in results]) < 0.6
    first = results[0]
    assert first.difference == pytest.approx(first.value_a.estimate - first.value_b.estimate)
    assert first.z == pytest.approx(first.difference / first.se)
    assert first.p_value == pytest.approx(math.erfc(abs(first.z) / math.sqrt(2)))
    assert first.ci_high - first.ci_low == pytest.approx(2 * 1.959964 * first.se, rel=1e-6)


def test_policy_value_hand_computed_dr_and_costs():
    # Rows: (T, y, mu_c, mu_a); policy gives "a" to rows 0 and 2, control elsewhere.
    y = np.array([5.0, 2.0, 1.0, 3.0])
    T = np.array(["a", "a", "c", "c"], dtype=object)
    mu = pd.DataFrame({"c": [1.0, 1.5, 2.0, 2.5], "a": [4.0, 3.0, 2.0, 1.0]})
    e = {"c": 0.4, "a": 0.6}
    policy = ["a", None, "a", "c"]
    # Gamma_0 = 4 + (5 - 4) / 0.6 = 5.666..;  Gamma_1 = mu_c = 1.5 (T != c)
    # Gamma_2 = mu_a = 2 (T != a);  Gamma_3 = 2.5 + (3 - 2.5) / 0.4 = 3.75
    expected = np.array([4 + 1 / 0.6, 1.5, 2.0, 3.75])
    v = policy_value(policy, y, T, control="c", propensity=e, outcome_predictions=mu)
    np.testing.assert_allclose(v.scores, expected)
    assert v.estimate == pytest.approx(expected.mean())
    assert v.se == pytest.approx(expected.std(ddof=1) / 2)
    assert v.n == 4 and v.method == "dr"
    assert v.total == pytest.approx(expected.sum())
    # IPW drops mu: 5 / 0.6, 0, 0, 3 / 0.4
    w = policy_value(policy, y, T, control="c", propensity=e, method="ipw")
    np.testing.assert_allclose(w.scores, [5 / 0.6, 0, 0, 3 / 0.4])
    # Costs: the two "a" rows pay 0.5 each, control pays nothing.
    net = policy_value(
        policy, y, T, control="c", propensity=e, outcome_predictions=mu, costs={"a": 0.5}
    )
    np.testing.assert_allclose(net.scores, expected - [0.5, 0, 0.5, 0])


def test_policy_value_accepts_allocation_and_its_cost_array():
    values = pd.DataFrame({"A": [3.0, -1.0, 2.0, 0.5], "B": [1.0, -2.0, 2.5, 0.1]})
    alloc = allocate(values, costs=[1.0, 2.0], method="greedy")
    assert alloc.labels().tolist() == ["A", None, "A", None]
    y = pd.Series([4.0, 1.0, 2.0, 3.0])
    T = pd.Series(["A", "c", "B", "c"])
    propensity = pd.DataFrame({"c": [0.5] * 4, "A": [0.25] * 4, "B": [0.25] * 4})
    v = policy_value(
        alloc, y, T, control="c", propensity=propensity, method="ipw", costs=[1.0, 2.0]
    )
    # scores: 4/0.25 - 1, 1/0.5, 0 - 1 (T=B, given A), 3/0.5
    np.testing.assert_allclose(v.scores, [15.0, 2.0, -1.0, 6.0])
    same = policy_value(
        ["A", "c", "A", "c"],
        y,
        T,
        control="c",
        propensity=propensity,
        method="ipw",
        costs={"A": 1, "B": 2},
    )
    np.testing.assert_allclose(same.scores, v.scores)


def test_compare_identical_policies_is_exactly_zero():
    x, T, y, e, mu = simulate(np.random.default_rng(1), 200)
    c = compare_policies(
        main_policy(x), main_policy(x), y, T, control="c", propensity=e, outcome_predictions=mu
    )
    assert c.difference == 0 and c.se == 0 and c.z == 0 and c.p_value == 1


def test_inputs_are_not_modified():
    x, T, y, e, mu = simulate(np.random.default_rng(2), 100)
    policy = main_policy(x)
    copies = [a.copy() for a in (x, T, y, e, mu, policy)]
    y_series = pd.Series(y)
    compare_policies(policy, "c", y_series, T, control="c", propensity=e, outcome_predictions=mu)
    policy_gain_curve(policy, x, y, T, control="c", propensity=e)
    for before, after in zip(copies, (x, T, y, e, mu, policy), strict=True):
        if isinstance(before, pd.DataFrame):
            pd.testing.assert_frame_equal(before, after)
        else:
            np.testing.assert_array_equal(before, after)
    np.testing.assert_array_equal(y_series.to_numpy(), y)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"y": np.ones(5)}, "T has 6 rows but y has 5"),
        ({"y": np.array([1.0, np.nan, 1, 1, 1, 1])}, r"y is NaN at row 1"),
        ({"T": ["c", "A", "c", "A", None, "c"]}, r"T\[4\] is missing"),
        ({"policy": ["A", "Z", "c", "c", "c", "c"]}, "label.*'Z'.*no row of T"),
        ({"policy": ["A", "c", "c"]}, "policy has 3 rows but y has 6"),
        ({"propensity": {"c": 0.5, "A": 0.0}}, r"0.0 \(outside \(0, 1\]\) at label 'A'"),
        ({"propensity": {"c": 0.5, "A": 1.5}}, r"outside \(0, 1\]"),
        ({"propensity": {"c": 0.5, "Q": 0.5}}, "names label.*'Q'"),
        ({"propensity": {"c": 0.5}}, "propensity gives nothing for label 'A'"),
        (
            {"propensity": pd.DataFrame({"c": [0.5] * 6, "A": [0.5] * 5 + [np.nan]})},
            r"propensity\[5, 'A'\] is nan",
        ),
        ({"propensity": np.full((6, 2), 0.5)}, "propensity must be a number, a mapping"),
        ({"method": "dr"}, "method='dr' needs outcome_predictions"),
        ({"method": "aipw"}, "method must be 'dr' or 'ipw'"),
        ({"alpha": 1.5}, r"alpha must be in \(0, 1\)"),
        (
            {"T": pd.Series(["c", "A"] * 3, index=range(1, 7)), "y": pd.Series(np.ones(6))},
            "T's index does not match y's index",
        ),
        ({"costs": [1.0]}, "costs must be a number, a mapping"),
    ],
)
def test_policy_value_rejects_bad_input(kwargs, message):
    args = {
        "policy": ["A", "A", "c", "c", "c", "c"],
        "y": np.arange(6.0),
        "T": ["c", "A", "c", "A", "c", "A"],
        "propensity": 0.5,
        "method": "ipw",
    }
    args.update(kwargs)
    policy, y, T = args.pop("policy"), args.pop("y"), args.pop("T")
    with pytest.raises(ValueError, match=message):
        policy_value(policy, y, T, control="c", **args)


def test_allocation_policy_checks():
    alloc = allocate(np.array([[1.0], [2.0]]), costs=0.5, method="greedy")
    with pytest.raises(ValueError, match="policy has 2 customers but y has 3"):
        policy_value(alloc, [1.0, 2.0, 3.0], [0, 0, 0], control=0, propensity=0.5, method="ipw")
    with pytest.raises(ValueError, match="control label 0 is also an arm"):
        policy_value(alloc, [1.0, 2.0], [0, 0], control=0, propensity=0.5, method="ipw")
    with pytest.raises(TypeError, match=r"must be an upliftopt\.Allocation"):
        true_value([0, 1], np.ones((2, 1)), 0.0)


# --------------------------------------------------------------------------
# Nuisance models
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def split_experiment():
    x, T, y, e, mu = simulate(np.random.default_rng(123), 4000)
    X = pd.DataFrame({"x": x, "noise": np.random.default_rng(7).random(x.size)})
    return X, T, y, e, mu


def test_outcome_model_on_training_half_makes_dr_tighter(split_experiment):
    X, T, y, e, mu = split_experiment
    train, test = slice(0, 2000), slice(2000, None)
    model = ArmOutcomeModel(n_jobs=1, random_state=0).fit(X.iloc[train], T[train], y[train])
    pred = model.predict(X.iloc[test])
    assert list(pred.columns) == ["A", "B", "c"]
    assert pred.index.equals(X.index[test])
    # close to the true mu_j(x) (noise sd is 1, signal range ~3.5)
    rmse = np.sqrt(((pred[list(LABELS)].to_numpy() - mu.iloc[test].to_numpy()) ** 2).mean())
    assert rmse < 0.3
    policy = main_policy(X["x"].to_numpy()[test])
    args = (policy, y[test], T[test])
    e_test = e.iloc[test].reset_index(drop=True)
    ipw = policy_value(*args, control="c", propensity=e_test, method="ipw")
    dr = policy_value(
        *args, control="c", propensity=e_test, outcome_predictions=pred.reset_index(drop=True)
    )
    assert dr.se < 0.75 * ipw.se
    assert abs(dr.estimate - TRUE_MAIN) < 3 * dr.se
    # reproducible
    again = ArmOutcomeModel(n_jobs=1, random_state=0).fit(X.iloc[train], T[train], y[train])
    pd.testing.assert_frame_equal(again.predict(X.iloc[test]), pred)


def test_outcome_model_checks():
    model = ArmOutcomeModel()
    with pytest.raises(Exception, match="not fitted"):
        model.predict(np.ones((2, 1)))
    with pytest.raises(ValueError, match="label 'B' has 1 row"):
        model.fit(np.arange(5.0)[:, None], ["A", "A", "B", "A", "A"], np.ones(5))
    with pytest.raises(ValueError, match="X column 'age' has a missing"):
        model.fit(pd.DataFrame({"age": [1.0, np.nan, 2, 3]}), ["A", "A", "B", "B"], np.ones(4))
    fitted = ArmOutcomeModel(estimator=LinearRegression()).fit(
        np.arange(6.0)[:, None], ["A", "B"] * 3, np.arange(6.0)
    )
    with pytest.raises(ValueError, match="X has 2 features but the model was fitted with 1"):
        fitted.predict(np.ones((3, 2)))


def test_cross_fit_outcomes_are_out_of_fold():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(60, 1))
    T = np.array(["c", "t"] * 30, dtype=object)
    y = 2 * X[:, 0] + (T == "t") + 0.1 * rng.normal(size=60)
    mu = cross_fit_outcomes(X, T, y, estimator=LinearRegression(), random_state=0)
    np.testing.assert_allclose(mu["t"] - mu["c"], 1.0, atol=0.15)
    # Changing row 0's outcome changes other rows' predictions, never its own.
    y2 = y.copy()
    y2[0] += 1000.0
    mu2 = cross_fit_outcomes(X, T, y2, estimator=LinearRegression(), random_state=0)
    assert mu2.iloc[0].tolist() == mu.iloc[0].tolist()
    assert not np.allclose(mu2.to_numpy(), mu.to_numpy())


def test_estimate_propensity_recovers_design_and_clips(split_experiment):
    X, T, _, e, _ = split_experiment
    est = estimate_propensity(X, T, random_state=0)
    assert list(est.columns) == ["A", "B", "c"]
    assert np.abs(est[list(LABELS)].to_numpy() - e.to_numpy()).mean() < 0.03
    np.testing.assert_allclose(est.sum(axis=1), 1.0)  # nothing needed clipping here
    pd.testing.assert_frame_equal(estimate_propensity(X, T, random_state=0), est)
    lgb = estimate_propensity(X, T, model="lightgbm", random_state=0)
    assert np.abs(lgb[list(LABELS)].to_numpy() - e.to_numpy()).mean() < 0.06
    # nearly deterministic assignment: estimates hit the clip
    x = X["x"].to_numpy()
    T_det = np.where(x > 0.5, "t", "c")
    T_det[:3] = "t"  # a few exceptions so both labels exist on both sides
    clipped = estimate_propensity(x[:, None], T_det, model="lightgbm", clip=0.05, random_state=0)
    assert clipped.to_numpy().min() == 0.05
    assert (clipped.to_numpy() == 0.05).sum() > 1000


def test_estimate_propensity_checks():
    X = np.arange(10.0)[:, None]
    with pytest.raises(ValueError, match=r"label 'b' has 2 row.*n_splits=5"):
        estimate_propensity(X, ["a"] * 8 + ["b"] * 2)
    with pytest.raises(ValueError, match=r"clip must lie in \[0, 1/2\)"):
        estimate_propensity(X, ["a", "b"] * 5, clip=0.6, n_splits=2)
    with pytest.raises(ValueError, match="model must be 'logistic', 'lightgbm'"):
        estimate_propensity(X, ["a", "b"] * 5, model="forest", n_splits=2)


# --------------------------------------------------------------------------
# Synthetic data: true value, oracle, regret
# --------------------------------------------------------------------------


def brute_force(tau, costs, max_budget):
    n, k = tau.shape
    best = -math.inf
    for choice in itertools.product(range(-1, k), repeat=n):
        treated = [(i, j) for i, j in enumerate(choice) if j >= 0]
        spend = sum(costs[i, j] for i, j in treated)
        if spend <= max_budget + 1e-9:
            best = max(best, sum(tau[i, j] - costs[i, j] for i, j in treated))
    return best


def test_true_value_hand_computed_and_aligned_by_label():
    estimated = pd.DataFrame({"A": [3.0, 0.5, 0.1], "B": [1.0, 2.0, 0.2]}, index=["u", "v", "w"])
    alloc = allocate(estimated, costs={"A": 1.0, "B": 0.5}, method="greedy")
    assert alloc.labels().tolist() == ["A", "B", None]
    tau = pd.DataFrame({"B": [0.0, 0.25, 9.0], "A": [2.5, 7.0, 9.0]}, index=["u", "v", "w"])
    # (2.5 - 1.0) + (0.25 - 0.5)
    assert true_value(alloc, tau, {"A": 1.0, "B": 0.5}) == pytest.approx(1.25)
    # arrays follow the allocation's arm order; rows in another order align by index
    assert true_value(alloc, tau[["A", "B"]].to_numpy(), [1.0, 0.5]) == pytest.approx(1.25)
    assert true_value(alloc, tau.iloc[::-1], [1.0, 0.5]) == pytest.approx(1.25)
    with pytest.raises(ValueError, match=r"tau columns .* do not match"):
        true_value(alloc, tau.rename(columns={"B": "C"}), 0.0)
    with pytest.raises(ValueError, match="tau's index does not hold"):
        true_value(alloc, tau.set_axis(["u", "v", "z"]), 0.0)
    with pytest.raises(ValueError, match=r"tau\[1, 0\] \(arm 'A'\) is nan"):
        true_value(alloc, np.array([[1.0, 1], [np.nan, 1], [1, 1]]), 0.0)
    with pytest.raises(ValueError, match="tau has 2 rows"):
        true_value(alloc, np.ones((2, 2)), 0.0)


@pytest.mark.parametrize("method", ["auto", "scip"])
def test_oracle_matches_brute_force(method):
    rng = np.random.default_rng(11)
    tau = rng.normal(1.0, 1.0, size=(7, 2))
    costs = rng.uniform(0.2, 1.0, size=(7, 2))
    oracle = oracle_allocation(tau, costs, max_budget=2.0, method=method)
    assert oracle.objective == pytest.approx(brute_force(tau, costs, 2.0), abs=1e-9)
    assert true_value(oracle, tau, costs) == pytest.approx(oracle.objective)


def test_regret_against_oracle():
    rng = np.random.default_rng(5)
    tau = pd.DataFrame(rng.normal(1.0, 1.0, size=(7, 2)), columns=["A", "B"])
    estimate = tau + rng.normal(0, 1.0, size=tau.shape)
    costs = {"A": 0.5, "B": 0.8}
    alloc = allocate(estimate, costs, max_budget=2.0, method="greedy")
    best = brute_force(tau.to_numpy(), np.tile([0.5, 0.8], (7, 1)), 2.0)
    r = regret(alloc, tau, costs)
    assert r.oracle_value == pytest.approx(best)
    assert r.value == pytest.approx(true_value(alloc, tau, costs))
    assert r.absolute == pytest.approx(best - r.value)
    assert r.absolute > 0  # the noisy greedy allocation is not optimal here
    assert r.relative == pytest.approx(r.absolute / abs(best))
    assert r.oracle.max_budget == 2.0
    # a precomputed oracle gives the same numbers; the oracle has zero regret
    again = regret(alloc, tau, costs, oracle=r.oracle)
    assert (again.value, again.oracle_value) == (r.value, r.oracle_value)
    zero = regret(r.oracle, tau, costs, oracle=r.oracle)
    assert zero.absolute == 0 and zero.relative == 0
    with pytest.raises(ValueError, match="same customers and arms"):
        regret(alloc, tau, costs, oracle=allocate(np.ones((3, 2)), 0.5))


# --------------------------------------------------------------------------
# Qini and uplift curves
# --------------------------------------------------------------------------

# Eight rows of arm "t" vs control "c", plus two rows of another arm "o" that
# the curves must ignore. Ranked by score (0.9 down to 0.2):
#   rank   1   2   3   4   5   6   7   8
#   T      t   c   t   t   c   c   t   c
#   y      1   0   1   0   1   0   0   1
# Cumulative (N_t, Y_t, N_c, Y_c) and the curves:
#   k=1 (1,1,0,0): qini 1 - 0 = 1         uplift (1 - 0) * 1 = 1
#   k=2 (1,1,1,0): qini 1 - 0 * 1/1 = 1   uplift (1 - 0) * 2 = 2
#   k=3 (2,2,1,0): qini 2                 uplift (1 - 0) * 3 = 3
#   k=4 (3,2,1,0): qini 2                 uplift (2/3 - 0) * 4 = 8/3
#   k=5 (3,2,2,1): qini 2 - 1 * 3/2 = 0.5 uplift (2/3 - 1/2) * 5 = 5/6
#   k=6 (3,2,3,1): qini 2 - 1 = 1         uplift (2/3 - 1/3) * 6 = 2
#   k=7 (4,2,3,1): qini 2 - 4/3 = 2/3     uplift (1/2 - 1/3) * 7 = 7/6
#   k=8 (4,2,4,2): qini 0                 uplift 0
SCORES = [0.2, 0.9, 0.5, 0.8, 5.0, 0.7, 0.6, 0.4, -3.0, 0.3]
Y = [1.0, 1.0, 1.0, 0.0, 7.0, 1.0, 0.0, 0.0, 7.0, 0.0]
T8 = ["c", "t", "c", "c", "o", "t", "t", "c", "o", "t"]
QINI = [0, 1, 1, 2, 2, 0.5, 1, 2 / 3, 0]
UPLIFT = [0, 1, 2, 3, 8 / 3, 5 / 6, 2, 7 / 6, 0]


def test_qini_and_uplift_curves_hand_computed():
    q = qini_curve(SCORES, Y, T8, treatment="t", control="c")
    u = uplift_curve(np.array(SCORES), pd.Series(Y), T8, treatment="t", control="c")
    np.testing.assert_allclose(q["gain"], QINI)
    np.testing.assert_allclose(u["gain"], UPLIFT)
    assert q["n_targeted"].tolist() == list(range(9))
    assert q["n_treatment"].tolist() == [0, 1, 1, 2, 3, 3, 3, 4, 4]
    assert q["sum_y_control"].tolist() == [0, 0, 0, 0, 0, 1, 1, 1, 2]
    np.testing.assert_allclose(q["score"][1:], [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2])
    np.testing.assert_allclose(q["fraction"], np.arange(9) / 8)
    np.testing.assert_allclose(q["random"], np.zeros(9))  # last qini point is 0
    # Areas: trapezoids with unit steps.
    raw = sum((a + b) / 2 for a, b in itertools.pairwise(QINI))
    assert qini_auc(SCORES, Y, T8, treatment="t", control="c", normalize=False) == pytest.approx(
        raw
    )
    assert qini_auc(SCORES, Y, T8, treatment="t", control="c") == pytest.approx(raw / 64)
    raw_u = sum((a + b) / 2 for a, b in itertools.pairwise(UPLIFT))
    assert uplift_auc(SCORES, Y, T8, treatment="t", control="c", normalize=False) == pytest.approx(
        raw_u
    )


def test_curves_take_ties_together_and_read_frames_by_arm():
    # Move the rank-5 row (c, y=1) up to tie with the rank-2 row (c, y=0) at 0.8:
    # both enter together. Ranking t1 | c0 c1 | t1 t0 c0 t0 c1, so (N_t, Y_t, N_c, Y_c):
    #   k=1 (1,1,0,0): 1      k=3 (1,1,2,1): 1 - 1/2 = 0.5   k=4 (2,2,2,1): 2 - 1 = 1
    #   k=5 (3,2,2,1): 0.5    k=6 (3,2,3,1): 1   k=7 (4,2,3,1): 2/3   k=8 (4,2,4,2): 0
    scores = pd.DataFrame({"t": SCORES, "o": 0.0})
    scores.loc[2, "t"] = 0.8
    q = qini_curve(scores, Y, T8, treatment="t", control="c")
    np.testing.assert_allclose(q["gain"], [0, 1, 0.5, 1, 0.5, 1, 2 / 3, 0])
    assert q["n_targeted"].tolist() == [0, 1, 3, 4, 5, 6, 7, 8]
    # Row order does not matter.
    perm = np.random.default_rng(0).permutation(10)
    q2 = qini_curve(
        scores["t"].to_numpy()[perm],
        np.array(Y)[perm],
        np.array(T8)[perm],
        treatment="t",
        control="c",
    )
    np.testing.assert_allclose(q2["gain"], q["gain"])


def test_perfect_ranking_beats_random_ranking():
    rng = np.random.default_rng(0)
    n = 4000
    tau = rng.normal(0.0, 1.0, n)
    T = np.where(rng.random(n) < 0.5, "t", "c")
    y = rng.normal(size=n) + np.where(T == "t", tau, 0.0)
    perfect = qini_auc(tau, y, T, treatment="t", control="c")
    worst = qini_auc(-tau, y, T, treatment="t", control="c")
    random_scores = [qini_auc(rng.random(n), y, T, treatment="t", control="c") for _ in range(5)]
    # Ranking by the true effect: the Qini gain after targeting a fraction f is
    # about (1/2) * int_0^f Q(1 - u) du per row (half the top rows are treated; Q is
    # the N(0, 1) quantile), and the final gain is ~0. Integrating over f gives
    # (1/2) * E[tau * Phi(tau)] = 1 / (4 sqrt(pi)) = 0.141; the uplift curve lacks
    # the 1/2: 0.282. Reversed ranking: the negatives; random scores: ~0.
    theory = 1 / (4 * math.sqrt(math.pi))
    assert perfect == pytest.approx(theory, abs=0.03)
    assert worst == pytest.approx(-theory, abs=0.03)
    assert max(abs(a) for a in random_scores) < 0.03
    assert uplift_auc(tau, y, T, treatment="t", control="c") == pytest.approx(2 * theory, abs=0.05)


def test_curve_input_errors():
    with pytest.raises(ValueError, match="treatment label 'x' does not occur in T"):
        qini_curve(SCORES, Y, T8, treatment="x", control="c")
    with pytest.raises(ValueError, match=r"scores\[3\] is nan"):
        qini_curve([0, 1, 2, np.nan, 0, 1, 2, 3, 4, 5], Y, T8, treatment="t", control="c")
    with pytest.raises(ValueError, match="scores has 3 rows but y has 10"):
        uplift_curve([1, 2, 3], Y, T8, treatment="t", control="c")
    with pytest.raises(ValueError, match="without a column for 't'"):
        qini_curve(pd.DataFrame({"o": SCORES}), Y, T8, treatment="t", control="c")
    with pytest.raises(ValueError, match="treatment and control are the same"):
        qini_curve(SCORES, Y, T8, treatment="c", control="c")


def test_policy_gain_curve_hand_computed():
    # propensity 0.5 everywhere. Policy arms and the per-row d_i = Gamma(arm) - Gamma(c):
    #   row 0: arm a, T=a, y=4 -> 4/0.5 - 0      = 8
    #   row 1: arm b, T=c, y=1 -> 0 - 1/0.5      = -2
    #   row 2: arm b, T=b, y=2 -> 2/0.5 - 0      = 4
    #   row 3: control           -> never targeted
    #   row 4: arm a, T=c, y=3 -> 0 - 3/0.5      = -6
    # priority 2, 1, 3, 9, 1 -> order row 2, row 0, then rows 1 and 4 tied.
    y = np.array([4.0, 1.0, 2.0, 0.0, 3.0])
    T = np.array(["a", "c", "b", "c", "c"], dtype=object)
    policy = ["a", "b", "b", "c", "a"]
    curve = policy_gain_curve(policy, [2.0, 1.0, 3.0, 9.0, 1.0], y, T, control="c", propensity=0.5)
    assert curve["n_targeted"].tolist() == [0, 1, 2, 4]
    np.testing.assert_allclose(curve["gain"], [0, 4, 12, 4])
    np.testing.assert_allclose(curve["random"], [0, 1, 2, 4])
    np.testing.assert_allclose(curve["fraction"], [0, 0.2, 0.4, 0.8])
    # se at k=2: z = (8, 0, 4, 0, 0) over all 5 rows -> sqrt(5 * var(z, ddof=1))
    z = np.array([8.0, 0, 4, 0, 0])
    assert curve["se"][2] == pytest.approx(math.sqrt(5 * z.var(ddof=1)))
    # with costs a: 1, b: 0.5 the net gain drops by the cumulative spend
    net = policy_gain_curve(
        policy,
        [2.0, 1.0, 3.0, 9.0, 1.0],
        y,
        T,
        control="c",
        propensity=0.5,
        costs={"a": 1, "b": 0.5},
    )
    np.testing.assert_allclose(net["spend"], [0, 0.5, 1.5, 3.0])
    np.testing.assert_allclose(net["gain"], curve["gain"] - net["spend"])


def test_policy_gain_curve_end_point_is_paired_difference():
    x, T, y, e, mu = simulate(np.random.default_rng(9), 800)
    policy = main_policy(x)
    curve = policy_gain_curve(
        policy, x, y, T, control="c", propensity=e, method="dr", outcome_predictions=mu
    )
    diff = compare_policies(policy, "c", y, T, control="c", propensity=e, outcome_predictions=mu)
    assert curve["gain"].iloc[-1] == pytest.approx(800 * diff.difference)
    assert curve["se"].iloc[-1] == pytest.approx(800 * diff.se)
    assert curve["n_targeted"].iloc[-1] == np.count_nonzero(policy != "c")
