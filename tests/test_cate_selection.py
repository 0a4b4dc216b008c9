"""Tests for stepwise final stages, pooled control groups and select_cate_model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from upliftopt import PerTreatmentDML, make_uplift_data, select_cate_model
from upliftopt._features import forward_stepwise
from upliftopt._nuisance import crossfit_residuals


def rmse(a, b) -> float:
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


# ------------------------------------------------------ forward_stepwise
def brute_force_path(F, y_res, t_res, penalty):
    """Forward path by trying every column with lstsq; BIC over its prefixes."""
    n, p = F.shape
    chosen, crits = [], []
    for _ in range(min(p, n - 2) + 1):
        design = t_res[:, None] * np.column_stack([np.ones(n), F[:, chosen]])
        rss = np.sum((y_res - design @ np.linalg.lstsq(design, y_res, rcond=None)[0]) ** 2)
        crits.append((n * np.log(rss / n) + penalty * len(chosen), list(chosen)))
        best_j, best_rss = None, np.inf
        for j in set(range(p)) - set(chosen):
            design = t_res[:, None] * np.column_stack([np.ones(n), F[:, [*chosen, j]]])
            r = np.sum((y_res - design @ np.linalg.lstsq(design, y_res, rcond=None)[0]) ** 2)
            if r < best_rss - 1e-12:
                best_j, best_rss = j, r
        if best_j is None:
            break
        chosen.append(best_j)
    return sorted(min(crits, key=lambda c: c[0])[1])


@pytest.mark.parametrize("seed", range(6))
def test_forward_stepwise_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    n, p = 300, 8
    F = rng.uniform(size=(n, p))
    F[:, 3] += 0.5 * F[:, 0]  # correlated candidates make the path order matter
    t_res = rng.choice([-0.5, 0.5], size=n) + rng.normal(0, 0.1, n)
    tau = 0.3 + 1.5 * F[:, 0] - 1.0 * F[:, 5] * (seed % 2) + 0.4 * F[:, 3] * (seed % 3 == 0)
    y_res = tau * t_res + rng.normal(0, 0.5, n)
    for penalty in (np.log(n), 2.0):
        assert forward_stepwise(F, y_res, t_res, penalty=penalty) == brute_force_path(
            F, y_res, t_res, penalty
        )


def test_forward_stepwise_finds_exact_terms_and_skips_degenerate_columns():
    rng = np.random.default_rng(0)
    n = 500
    F = rng.uniform(size=(n, 6))
    F[:, 2] = F[:, 1]  # exact duplicate
    F[:, 4] = 7.0  # constant: indistinguishable from the constant effect
    F[:, 5] = F[:, 0] - 2 * F[:, 3]  # linear combination
    t_res = rng.normal(0, 0.5, n)
    y_res = t_res * (2.0 + 3.0 * F[:, 1] - 1.0 * F[:, 3])  # noise-free
    assert forward_stepwise(F, y_res, t_res) == [1, 3]
    # a lower penalty may add noise terms, but never a degenerate one
    noisy = y_res + rng.normal(0, 1.0, n)
    for penalty in (0.0, 1.0, 2.0):
        chosen = forward_stepwise(F, noisy, t_res, penalty=penalty)
        assert 4 not in chosen and not {1, 2} <= set(chosen)
        assert not {0, 3, 5} <= set(chosen)


def test_forward_stepwise_respects_rows_and_cap():
    rng = np.random.default_rng(1)
    F = rng.normal(size=(6, 10))
    t_res = rng.normal(size=6)
    y_res = rng.normal(size=6)
    assert len(forward_stepwise(F, y_res, t_res, penalty=0.0)) <= 4  # n - 2
    F = rng.normal(size=(400, 30))
    t_res = rng.normal(size=400)
    y_res = t_res * F[:, :12].sum(axis=1)
    assert forward_stepwise(F, y_res, t_res, max_terms=5) == sorted(
        forward_stepwise(F, y_res, t_res, max_terms=5)
    )
    assert len(forward_stepwise(F, y_res, t_res, max_terms=5)) == 5
    assert forward_stepwise(F[:, :0], y_res, t_res) == []
    assert forward_stepwise(F, y_res, np.zeros(400)) == []


# --------------------------------------------------- crossfit_residuals
def test_crossfit_residuals_are_out_of_fold():
    rng = np.random.default_rng(2)
    n = 240
    X = rng.uniform(size=(n, 2))
    t = (rng.uniform(size=n) < 0.3 + 0.4 * X[:, 0]).astype(np.int64)
    y = 1.0 + 2.0 * X[:, 1] + t + rng.normal(0, 0.1, n)
    fold = np.arange(n) % 4
    args = (lambda m: LinearRegression(), lambda m: LogisticRegression())
    y_res, t_res = crossfit_residuals(X, t, y, fold, *args)
    # a row's own outcome never reaches the model that predicts it: moving
    # y[i] moves y_res[i] by exactly as much and no other row of its fold
    bumped = y.copy()
    bumped[5] += 10.0
    y_res2, t_res2 = crossfit_residuals(X, t, bumped, fold, *args)
    same_fold = fold == fold[5]
    assert y_res2[5] - y_res[5] == pytest.approx(10.0)
    np.testing.assert_allclose(
        y_res2[same_fold & (np.arange(n) != 5)], y_res[same_fold & (np.arange(n) != 5)]
    )
    assert np.abs(y_res2[~same_fold] - y_res[~same_fold]).max() > 1e-6  # other folds trained on it
    np.testing.assert_array_equal(t_res2, t_res)


# ------------------------------------------------- stepwise final stage
def interaction_data(seed=0, n=3000):
    """Randomised binary experiment; the effect is one product of two features."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.uniform(size=(n, 5)), columns=[f"x{i}" for i in range(5)])
    t = rng.integers(0, 2, size=n)
    tau = 0.5 + 1.5 * X["x0"] * X["x1"]
    y = np.sin(3 * X["x2"]) + t * tau + rng.normal(0, 0.5, n)
    return X, pd.Series(np.where(t, "A", "control")), y, tau


@pytest.fixture(scope="module")
def stepwise_fit():
    X, T, y, tau = interaction_data()
    model = PerTreatmentDML(final_stage="stepwise", featurizer="poly2", random_state=0)
    return X, T, y, tau, model.fit(X, T, y)


def test_stepwise_finds_the_interaction(stepwise_fit):
    X, T, y, tau, model = stepwise_fit
    # 20 candidate terms (5 features, 5 squares, 10 products); one is the truth.
    # Measured on 10 data sets: the product alone every time, RMSE 0.011-0.034,
    # against 0.125-0.135 for a linear final stage (1.5 / 12 is its bias alone).
    assert model.selected_features_ == {"A": [["x0 x1"]]}
    effect = model.effect(X)["A"]
    assert rmse(effect, tau) < 0.05
    linear = PerTreatmentDML(random_state=0).fit(X, T, y).effect(X)["A"]
    assert rmse(linear, tau) > 0.1
    lower, upper = model.effect_interval(X)
    assert ((lower["A"] < effect) & (effect < upper["A"])).all()
    assert np.mean((lower["A"] <= tau) & (tau <= upper["A"])) > 0.95
    # the refitted final stage is OLS on [1, x0 x1]: slope near the true 1.5
    coef = model.estimators_["A"].coef_
    assert coef.shape == (1,) and abs(coef[0] - 1.5) < 0.15
    assert abs(model.estimators_["A"].intercept_ - 0.5) < 0.1


def test_stepwise_matches_ols_on_the_chosen_terms(stepwise_fit):
    X, _, _, _, model = stepwise_fit
    est = model.estimators_["A"]
    # refitting the final stage changed nothing upstream: the same cached residuals
    # regressed on t_res * [1, x0 x1] by least squares give the same coefficients
    y_res, t_res = (np.ravel(v) for v in est.residuals_[:2])
    design = t_res[:, None] * np.column_stack([np.ones(len(X)), X["x0"] * X["x1"]])
    coef = np.linalg.lstsq(design, y_res, rcond=None)[0]
    np.testing.assert_allclose([est.intercept_, est.coef_[0]], coef, rtol=1e-8)


def test_stepwise_skips_duplicate_features_without_warning(recwarn):
    rng = np.random.default_rng(6)
    x1 = rng.uniform(size=800)
    X = pd.DataFrame({"x1": x1, "x2": x1, "c": 1.0})
    t = rng.integers(0, 2, size=800)
    y = x1 + (1 + 2 * x1) * t + rng.normal(0, 0.2, 800)
    T = np.where(t, "A", "control")
    model = PerTreatmentDML(final_stage="stepwise", random_state=0).fit(X, T, y)
    assert model.selected_features_ == {"A": [["x1"]]}  # the first of two equal columns
    assert model.collinear_features_ == {}
    assert not [w for w in recwarn if "collinear" in str(w.message)]
    assert rmse(model.effect(X)["A"], 1 + 2 * x1) < 0.05


def test_n_repeats_averages_independent_fits():
    X, T, y, tau = interaction_data(seed=1, n=1500)
    params = dict(final_stage="stepwise", featurizer="poly2")
    single = PerTreatmentDML(random_state=3, **params).fit(X, T, y)
    model = PerTreatmentDML(random_state=3, n_repeats=3, **params).fit(X, T, y)
    fits = model.estimators_["A"].estimators
    assert len(fits) == 3 and len(model.selected_features_["A"]) == 3
    # the first repetition is the plain fit; the others use other folds
    np.testing.assert_array_equal(np.ravel(fits[0].effect(X.to_numpy())), single.effect(X)["A"])
    each = np.array([np.ravel(f.effect(X.to_numpy())) for f in fits])
    assert np.abs(each[1] - each[0]).max() > 1e-6
    np.testing.assert_allclose(model.effect(X)["A"], each.mean(axis=0))
    # interval: mean +- z sqrt(mean(se^2 + spread^2)), checked against the parts
    lower, upper = model.effect_interval(X, alpha=0.1)
    se = np.array([np.ravel(f.effect_inference(X.to_numpy()).stderr) for f in fits])
    var = np.mean(se**2 + (each - each.mean(axis=0)) ** 2, axis=0)
    np.testing.assert_allclose((upper - lower)["A"], 2 * 1.6448536269514722 * np.sqrt(var))
    assert rmse(model.effect(X)["A"], tau) < 0.06
    with pytest.raises(ValueError, match="n_repeats must be a positive integer"):
        PerTreatmentDML(n_repeats=0).fit(X, T, y)


# ------------------------------------------------------ pooled controls
def test_pool_controls_per_arm(arm_fit_rows):
    data = make_uplift_data(300, design="separate", random_state=3)
    seen = arm_fit_rows
    model = PerTreatmentDML(random_state=0, pool_controls={"20% off": True})
    model.fit(data.X, data.T, data.y, experiment=data.experiment)
    n_control = int((data.T == "control").sum())
    own_control = int(((data.T == "control") & (data.experiment == "20% off")).sum())
    treated = [int(data.T.eq(arm).sum()) for arm in data.arms]
    assert [seen[j] for j in range(3)] == [
        (300, treated[0]),
        (300 + n_control - own_control, treated[1]),
        (300, treated[2]),
    ]


@pytest.mark.parametrize(
    ("pool", "match"),
    [
        ({"nobody": True}, "pool_controls names unknown arm"),
        ({"20% off": "yes"}, "pool_controls for arm '20% off' must be True or False"),
        ("yes", "pool_controls for arm '10% off' must be True or False"),
    ],
)
def test_pool_controls_checked_before_econml(forbid_econml, pool, match):
    data = make_uplift_data(100, design="separate", random_state=3)
    with pytest.raises(ValueError, match=match):
        PerTreatmentDML(pool_controls=pool).fit(data.X, data.T, data.y, experiment=data.experiment)


# ------------------------------------------------------ select_cate_model
def two_experiments(seed, shift, n=2500):
    """Experiments A and B, 20 % control each; B ran ``shift`` higher (another season)."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.uniform(size=(2 * n, 3)), columns=["x0", "x1", "x2"])
    experiment = np.repeat(["A", "B"], n)
    treated = rng.uniform(size=2 * n) < 0.8
    T = np.where(treated, experiment, "control")
    tau = pd.DataFrame({"A": 1.0 + X["x0"], "B": np.full(2 * n, 0.5)})
    own_tau = np.where(experiment == "A", tau["A"], tau["B"])
    y = X["x1"] + treated * own_tau + shift * (experiment == "B") + rng.normal(0, 0.5, 2 * n)
    return X, pd.Series(T), y, pd.Series(experiment), tau


POOLING = {"pooled": {"pool_controls": True}, "own": {"pool_controls": False}}


def test_select_rejects_pooling_when_control_groups_differ():
    X, T, y, experiment, tau = two_experiments(0, shift=1.0)
    pooled = PerTreatmentDML(pool_controls=True, random_state=0)
    biased = pooled.fit(X, T, y, experiment=experiment).effect(X)
    # B's controls sit 1.0 higher: pooled, A's effect is pulled down, B's pushed up
    assert biased["A"].mean() < tau["A"].mean() - 0.3
    assert biased["B"].mean() > tau["B"].mean() + 0.3
    # pooled is listed first, yet scoring on each experiment's own rows rejects
    # it for both arms (8 of 8 seeds measured, 8 of 8 also without the 1se margin)
    model, scores = select_cate_model(X, T, y, POOLING, experiment=experiment, random_state=0)
    assert scores.attrs["chosen"] == {"A": "own", "B": "own"}
    assert (scores.loc["own", ["A", "B"]] > scores.loc["pooled", ["A", "B"]] + 0.05).all()
    assert model.pool_controls is False
    effect = model.effect(X)
    assert rmse(effect["A"], tau["A"]) < 0.1 and rmse(effect["B"], tau["B"]) < 0.1


def test_select_keeps_valid_pooling_and_is_reproducible():
    X, T, y, experiment, tau = two_experiments(0, shift=0.0)
    runs = [
        select_cate_model(X, T, y, POOLING, experiment=experiment, random_state=0) for _ in range(2)
    ]
    (model, scores), (again, scores_again) = runs
    # no clear difference on the own rows: the first (pooled) stays; measured on
    # 8 seeds, 15 of 16 arms kept it
    assert scores.attrs["chosen"] == {"A": "pooled", "B": "pooled"}
    assert model.pool_controls is True
    assert rmse(model.effect(X)["A"], tau["A"]) < 0.06
    pd.testing.assert_frame_equal(
        scores.drop(columns="fit_seconds"), scores_again.drop(columns="fit_seconds")
    )
    pd.testing.assert_frame_equal(model.effect(X), again.effect(X))
    assert list(scores.columns) == ["A", "B", "fit_seconds"]
    assert (scores["fit_seconds"] > 0).all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"folds": 1}, "folds must be at least 2"),
        ({"folds": 2.5}, "folds must be an integer"),
        ({"folds": True}, "folds must be an integer"),
        ({"rule": "worst"}, "rule must be one of"),
        ({"candidates": {}}, "candidates is empty"),
        ({"candidates": {"x": {"cv": 5}}}, "candidate 'x' sets cv; candidates may set only"),
        ({"candidates": {"x": {"pool_controls": "no"}}}, "must be True or False"),
        ({"candidates": {"x": {"final_stage": "deep"}}}, "candidate 'x': final_stage must"),
        ({"candidates": {"x": {"n_repeats": 0}}}, "n_repeats must be a positive integer"),
        ({"folds": 6}, r"'A'\|'control'.*fewer than 6 rows"),
    ],
)
def test_select_checks_before_fitting(forbid_econml, kwargs, match):
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.uniform(size=40)})
    T = pd.Series(["control"] * 5 + ["A"] * 35)
    experiment = pd.Series(["A"] * 40)
    y = rng.normal(size=40)
    with pytest.raises(ValueError, match=match):
        select_cate_model(X, T, y, experiment=experiment, **kwargs)


# ------------------------------------------------ issue 4: the seed scenario
@pytest.mark.slow
def test_seed_scenario_chosen_model_meets_issue_4_targets():
    from upliftopt import allocate, oracle_allocation, true_value

    data = make_uplift_data(10_000, design="separate", random_state=0)
    model, scores = select_cate_model(
        data.X, data.T, data.y, experiment=data.experiment, random_state=0
    )
    # chosen on the cross-validated R-loss of each experiment's own rows: no arm's
    # own data clearly prefer the seed pipeline to pooled stepwise selection
    assert scores.attrs["chosen"] == dict.fromkeys(data.arms, "stepwise+poly2, pooled")
    assert (model.final_stage, model.pool_controls, model.n_repeats) == ("stepwise", True, 4)
    effect = model.effect(data.X)
    # half of the seed pipeline's 0.144 / 0.175 / 0.203; measured 0.043 / 0.084 / 0.068.
    # Not every draw gets there: on seeds 3-11 the same selection missed at least
    # one arm's target on 7 of 9 (docs/concepts_cate.md), so this is seed 0's check
    targets = {"10% off": 0.072, "20% off": 0.0875, "50% off": 0.10}
    for arm, target in targets.items():
        assert rmse(effect[arm], data.tau[arm]) <= target, arm
    # the exact allocation on these estimates: within 1 % of the oracle's true
    # net value (measured 0.47 % below; the seed pipeline is 3.3-3.7 % below)
    costs = pd.Series({"10% off": 0.1, "20% off": 0.2, "50% off": 0.3})
    result = allocate(effect, costs, min_budget=3000, max_budget=3000)
    oracle = oracle_allocation(data.tau, costs, min_budget=3000, max_budget=3000)
    best = true_value(oracle, data.tau, costs)
    assert true_value(result, data.tau, costs) >= 0.99 * best
