"""Tests for upliftopt.cate: per-arm DML effects against known truths."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from lightgbm import LGBMRegressor
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from upliftopt import PerTreatmentDML, make_uplift_data, select_cate_model
from upliftopt import cate as cate_module
from upliftopt._features import FeatureEncoder, collinear_columns


def rmse(a, b) -> float:
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


def corr(a, b) -> float:
    return float(np.corrcoef(a, b)[0, 1])


def simple_data(n=1200, effects=(("A", 2.0), ("B", 1.0)), noise=0.5, seed=0, n_features=2):
    """Randomised arms with constant effects; y = x0 + effect + noise."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        rng.uniform(size=(n, n_features)), columns=[f"x{i}" for i in range(n_features)]
    )
    labels = ["ctrl", *[a for a, _ in effects]]
    T = pd.Series(rng.choice(labels, size=n), name="T")
    tau = {a: e for a, e in effects}
    y = X["x0"] + T.map(tau).fillna(0.0) + rng.normal(0, noise, n)
    return X, T, y.rename("y")


# --------------------------------------------------------------- accuracy
@pytest.fixture(scope="module")
def separate():
    return make_uplift_data(10_000, design="separate", random_state=0)


@pytest.fixture(scope="module")
def multiarm():
    return make_uplift_data(10_000, design="multiarm", random_state=0)


@pytest.fixture(scope="module")
def separate_fit(separate):
    model = PerTreatmentDML(random_state=0)
    return model.fit(separate.X, separate.T, separate.y, experiment=separate.experiment)


@pytest.mark.slow
def test_separate_design_recovers_true_effects(separate, separate_fit):
    effect = separate_fit.effect(separate.X)
    assert list(effect.columns) == list(separate.arms)
    assert effect.shape == separate.tau.shape
    assert effect.index.equals(separate.X.index)
    for arm in separate.arms:
        # seed pipeline: 0.144 / 0.175 / 0.203. A linear final stage on the TRUE
        # nuisances gets 0.12-0.17 RMSE and 0.82-0.94 correlation on seeds 0-2
        # (benchmarks/cate_accuracy.py), so correlation >= 0.9 on every arm is
        # beyond what this many control rows support; measured here 0.86-0.92.
        assert rmse(effect[arm], separate.tau[arm]) <= 0.20, arm
        assert corr(effect[arm], separate.tau[arm]) >= 0.8, arm


@pytest.mark.slow
def test_pooled_controls_improve_accuracy(separate, separate_fit):
    model = clone(separate_fit).set_params(pool_controls=True)
    model.fit(separate.X, separate.T, separate.y, experiment=separate.experiment)
    effect = model.effect(separate.X)
    plain = separate_fit.effect(separate.X)
    for arm in separate.arms:  # measured 0.107 / 0.096 / 0.114, corr 0.93 / 0.88 / 0.95
        assert rmse(effect[arm], separate.tau[arm]) <= 0.13, arm
        assert corr(effect[arm], separate.tau[arm]) >= 0.85, arm
    for arm in ("10% off", "50% off"):
        assert corr(effect[arm], separate.tau[arm]) >= 0.9, arm
    # three times the control rows: clearly better on average than per-experiment fits
    pooled = np.mean([rmse(effect[a], separate.tau[a]) for a in separate.arms])
    alone = np.mean([rmse(plain[a], separate.tau[a]) for a in separate.arms])
    assert pooled < 0.85 * alone


@pytest.mark.slow
def test_multiarm_design_recovers_true_effects(multiarm):
    model = PerTreatmentDML(random_state=0, n_jobs=2)
    effect = model.fit(multiarm.X, multiarm.T, multiarm.y).effect(multiarm.X)
    assert effect.shape == (10_000, 3)
    for arm in multiarm.arms:  # measured 0.110 / 0.114 / 0.117, corr 0.92 / 0.81 / 0.95
        assert rmse(effect[arm], multiarm.tau[arm]) <= 0.20, arm
        assert corr(effect[arm], multiarm.tau[arm]) >= 0.75, arm
    assert corr(effect["50% off"], multiarm.tau["50% off"]) >= 0.9


def test_experiment_routes_rows_to_arm_models(arm_fit_rows):
    data = make_uplift_data(300, design="separate", random_state=3)
    seen = arm_fit_rows
    PerTreatmentDML(random_state=0).fit(data.X, data.T, data.y, experiment=data.experiment)
    treated = [int(data.T.eq(arm).sum()) for arm in data.arms]
    assert [seen[j] for j in range(3)] == [(300, t) for t in treated]

    seen.clear()
    model = PerTreatmentDML(random_state=0, pool_controls=True)
    model.fit(data.X, data.T, data.y, experiment=data.experiment)
    n_control = int((data.T == "control").sum())
    own_control = [300 - t for t in treated]
    assert [seen[j] for j in range(3)] == [
        (300 + n_control - own, t) for own, t in zip(own_control, treated, strict=True)
    ]

    # without experiment, arm j uses every control row plus its own rows
    seen.clear()
    PerTreatmentDML(random_state=0).fit(data.X, data.T, data.y)
    assert [seen[j] for j in range(3)] == [(n_control + t, t) for t in treated]


def test_experiment_inconsistent_with_T_is_rejected():
    X, T, y = simple_data(90)
    experiment = T.where(T != "ctrl", "A")
    experiment.iloc[np.flatnonzero(T == "B")[0]] = "A"
    with pytest.raises(ValueError, match="belongs to experiment 'A'"):
        PerTreatmentDML(control="ctrl").fit(X, T, y, experiment=experiment)
    with pytest.raises(ValueError, match="experiment names the control"):
        PerTreatmentDML(control="ctrl").fit(X, T, y, experiment=T)
    with pytest.raises(ValueError, match=r"experiment has label\(s\) 'Z' that are not arms"):
        PerTreatmentDML(control="ctrl").fit(X, T, y, experiment=T.where(T != "ctrl", "Z"))
    with pytest.raises(ValueError, match="experiment has 89 rows but X has 90"):
        PerTreatmentDML(control="ctrl").fit(X, T, y, experiment=T.iloc[1:])


# --------------------------------------------------- C07: shapes, intervals
@pytest.fixture(scope="module")
def c07():
    X, T, y = simple_data(3000, effects=(("A", 3.0), ("B", 1.0)), noise=1.0, seed=7)
    y_frame = y.to_frame()  # n x 1 outcome
    model = PerTreatmentDML(control="ctrl", random_state=0).fit(X, T, y_frame)
    return X, model


def test_c07_shapes_and_constant_effects(c07):
    X, model = c07
    X = X.set_index(pd.Index([f"c{i}" for i in range(len(X))]))
    effect = model.effect(X)
    lower, upper = model.effect_interval(X, alpha=0.05)
    for frame in (effect, lower, upper):
        assert frame.shape == (3000, 2)
        assert list(frame.columns) == ["A", "B"]
        assert frame.index.equals(X.index)
    assert abs(effect["A"].mean() - 3.0) < 0.1
    assert abs(effect["B"].mean() - 1.0) < 0.1
    assert (lower.to_numpy() < effect.to_numpy()).all()
    assert (effect.to_numpy() < upper.to_numpy()).all()
    # the contrast A - B is 2
    assert abs((effect["A"] - effect["B"]).mean() - 2.0) < 0.15
    # a narrower level gives narrower intervals
    lo90, hi90 = model.effect_interval(X, alpha=0.10)
    assert ((hi90 - lo90).to_numpy() < (upper - lower).to_numpy()).all()


@pytest.mark.parametrize("alpha", [0, 1, -0.1, 1.5, "0.05"])
def test_alpha_must_be_a_probability(c07, alpha):
    X, model = c07
    with pytest.raises(ValueError, match="alpha"):
        model.effect_interval(X, alpha=alpha)


@pytest.mark.slow
@pytest.mark.parametrize(
    "truth",
    [lambda x: np.full(len(x), 1.0), lambda x: 1.0 + 2.0 * x[:, 1]],
    ids=["constant", "linear"],  # both correctly specified for a linear final stage
)
def test_interval_coverage_near_nominal(truth):
    # pointwise 95 % intervals, over 30 independent data sets x all customers;
    # measured 0.94 on 40 sets (0.92 with 600 rows, where nuisance errors bite)
    covered, errors = [], []
    for rep in range(30):
        rng = np.random.default_rng(100 + rep)
        x = rng.uniform(size=(3000, 2))
        t = rng.integers(0, 2, size=3000)
        tau = truth(x)
        y = np.sin(3 * x[:, 0]) + t * tau + rng.normal(size=3000)
        T = np.where(t == 1, "A", "control")
        model = PerTreatmentDML(random_state=rep).fit(x, T, y)
        lower, upper = model.effect_interval(x)
        covered.append(np.mean((lower["A"] <= tau) & (tau <= upper["A"])))
        errors.append(rmse(model.effect(x)["A"], tau))
    assert 0.9 <= np.mean(covered) <= 0.99
    assert np.mean(errors) < 0.1


# ----------------------------------------------- C01: arms too small to split
def c01_data(n_b: int):
    rng = np.random.default_rng(1)
    labels = ["ctrl"] * 30 + ["A"] * 30 + ["B"] * n_b
    T = pd.Series(labels)
    X = pd.DataFrame({"x": rng.normal(size=len(T))})
    y = X["x"] + (T == "A") + rng.normal(0, 0.1, len(T))
    return X, T, y


def test_c01_tiny_arm_raises_before_econml(forbid_econml):
    X, T, y = c01_data(1)
    with pytest.raises(ValueError, match=r"arm 'B' has 1 row\(s\).*at least 3"):
        PerTreatmentDML(control="ctrl", cv=3).fit(X, T, y)


def test_c01_tiny_control_group_raises(forbid_econml):
    X, T, y = c01_data(30)
    T = T.replace({"ctrl": "A"})
    T.iloc[:2] = "ctrl"
    with pytest.raises(ValueError, match=r"control group 'ctrl'.*2 row\(s\).*at least 3"):
        PerTreatmentDML(control="ctrl", cv=3).fit(X, T, y)


def test_c01_drop_small_arms_warns_once():
    X, T, y = c01_data(1)
    with pytest.warns(UserWarning, match=r"'B' \(1 row\(s\)\)") as record:
        model = PerTreatmentDML(control="ctrl", cv=3, small_arms="drop", random_state=0)
        model.fit(X, T, y)
    assert len([w for w in record if "dropped arm" in str(w.message)]) == 1
    assert model.arms_ == ("A",)
    assert model.dropped_arms_ == {"B": 1}
    effect = model.effect(X)
    assert list(effect.columns) == ["A"]
    assert abs(effect["A"].mean() - 1.0) < 0.2


def test_c01_three_rows_of_b_fit():
    X, T, y = c01_data(3)
    model = PerTreatmentDML(control="ctrl", cv=3, random_state=0).fit(X, T, y)
    assert model.arms_ == ("A", "B")
    assert model.effect(X).shape == (63, 2)


# ------------------------------------------------------------- C02: NaN/inf
def test_c02_nan_feature_named_before_any_model(forbid_econml):
    X, T, y = simple_data(200)
    X = X.rename(columns={"x1": "age"})
    X.loc[17, "age"] = np.nan
    with pytest.raises(ValueError, match=r"column 'age' is NaN at row 17"):
        PerTreatmentDML(control="ctrl").fit(X, T, y)


def test_c02_inf_outcome_named(forbid_econml):
    X, T, y = simple_data(200)
    y = y.copy()
    y.iloc[42] = np.inf
    with pytest.raises(ValueError, match=r"y is inf at row 42"):
        PerTreatmentDML(control="ctrl").fit(X, T, y)


def test_c02_checks_apply_at_predict(c07):
    X, model = c07
    X = X.head(10).copy()
    X.loc[3, "x1"] = -np.inf
    for method in (model.effect, model.effect_interval):
        with pytest.raises(ValueError, match=r"column 'x1' is -inf at row 3"):
            method(X)


# ----------------------------------------------------- C03: categoricals
COUNTRIES = ["Belgium", "France", "Germany", "Italy", "Spain"]


@pytest.fixture(scope="module", params=["category", "object", "string"])
def c03(request):
    rng = np.random.default_rng(3)
    n = 1500
    country = rng.choice(COUNTRIES, size=n)
    spend = rng.uniform(0, 2, size=n)
    T = np.where(rng.uniform(size=n) < 0.5, "treat", "control")
    tau = 1.0 + 2.0 * (country == "Spain")
    y = spend + 0.5 * (country == "France") + (T == "treat") * tau + rng.normal(0, 0.3, n)
    dtype = pd.CategoricalDtype(COUNTRIES) if request.param == "category" else request.param
    X = pd.DataFrame({"spend": spend, "country": pd.Series(country).astype(dtype)})
    model = PerTreatmentDML(random_state=0).fit(X, T, y)
    return X, model, request.param


def test_c03_categories_matched_by_label(c03):
    X, model, kind = c03
    effect = model.effect(X)["treat"]
    spain = (X["country"] == "Spain").to_numpy()
    assert abs(effect[spain].mean() - 3.0) < 0.2
    assert abs(effect[~spain].mean() - 1.0) < 0.2

    rows = [int(np.flatnonzero(X["country"] == c)[0]) for c in ("Spain", "Germany", "Belgium")]
    deploy_countries = ["Belgium", "France", "Germany", "Spain"]  # no Italy: codes shift
    dtype = pd.CategoricalDtype(deploy_countries) if kind == "category" else kind
    index = pd.Index(["s", "g", "b"])
    deploy = pd.DataFrame(
        {
            "country": pd.Series(X["country"].iloc[rows].astype(str).to_numpy(), index=index),
            "spend": X["spend"].iloc[rows].to_numpy(),  # column order differs too
        },
        index=index,
    )
    deploy["country"] = deploy["country"].astype(dtype)
    if kind == "category":
        # Spain's code in the deploy frame is Italy's code at training time
        assert deploy["country"].cat.codes["s"] == COUNTRIES.index("Italy")
    np.testing.assert_array_equal(model.effect(deploy)["treat"].to_numpy(), effect[rows])


def test_c03_unseen_level_raises(c03):
    _, model, kind = c03
    deploy = pd.DataFrame(
        {"spend": [1.0, 1.0], "country": pd.Series(["Spain", "Portugal"]).astype(str)}
    )
    if kind != "object":
        deploy["country"] = deploy["country"].astype(
            pd.CategoricalDtype(["Portugal", "Spain"]) if kind == "category" else kind
        )
    with pytest.raises(ValueError, match=r"'country' has level 'Portugal' at row 1"):
        model.effect(deploy)


def test_c03_missing_category_raises():
    X = pd.DataFrame({"c": pd.Series(["a", None, "b"] * 10, dtype=object), "x": 1.0})
    with pytest.raises(ValueError, match=r"column 'c' has a missing value at row 1"):
        PerTreatmentDML().fit(X, ["control", "t", "t"] * 10, np.zeros(30))


def test_encoder_one_hot_by_training_levels():
    train = pd.DataFrame(
        {"c": pd.Categorical(["b", "a", "c", "a"]), "v": [1, 2, 3, 4], "f": [True, False] * 2}
    )
    enc = FeatureEncoder().fit(train)
    assert enc.encoded_names() == ["c=b", "c=c", "v", "f"]
    deploy = pd.DataFrame({"f": [False, True], "v": [9, 8], "c": pd.Categorical(["c", "a"])})
    np.testing.assert_array_equal(enc.transform(deploy), [[0, 1, 9, 0], [0, 0, 8, 1]])
    with pytest.raises(ValueError, match="column 'd' has dtype datetime64"):
        FeatureEncoder().fit(train.assign(d=pd.Timestamp("2024-01-01")))


# ------------------------------------------------- C04: reproducibility
SUBSAMPLING = dict(subsample=0.8, subsample_freq=1, colsample_bytree=0.8, verbose=-1, n_jobs=1)
REPRO_SCRIPT = textwrap.dedent(
    """
    import hashlib
    from lightgbm import LGBMRegressor
    from upliftopt import PerTreatmentDML, make_uplift_data
    d = make_uplift_data(800, design="multiarm", random_state=5)
    m = PerTreatmentDML(random_state=11, model_y=LGBMRegressor(**{kw}))
    e = m.fit(d.X, d.T, d.y).effect(d.X).to_numpy()
    print(hashlib.sha256(e.tobytes()).hexdigest())
    """
)


def repro_effects(seed: int) -> np.ndarray:
    d = make_uplift_data(800, design="multiarm", random_state=5)
    m = PerTreatmentDML(random_state=seed, model_y=LGBMRegressor(**SUBSAMPLING))
    return m.fit(d.X, d.T, d.y).effect(d.X).to_numpy()


def test_c04_same_seed_same_effects_in_process_and_fresh_process():
    # the legacy global generator is what a stray np.random.seed would touch
    state = np.random.get_state()[1].copy()  # noqa: NPY002
    first = repro_effects(11)
    # the global numpy generator is neither seeded nor consumed
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # noqa: NPY002
    np.testing.assert_array_equal(repro_effects(11), first)
    assert not np.array_equal(repro_effects(12), first)

    script = REPRO_SCRIPT.format(kw=repr(SUBSAMPLING))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONHASHSEED"}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    assert result.stdout.strip() == hashlib.sha256(first.tobytes()).hexdigest()


def test_c04_parallel_arms_give_identical_effects():
    X, T, y = simple_data(600)
    serial = PerTreatmentDML(control="ctrl", random_state=4).fit(X, T, y).effect(X)
    parallel = PerTreatmentDML(control="ctrl", random_state=4, n_jobs=2).fit(X, T, y).effect(X)
    pd.testing.assert_frame_equal(serial, parallel)


# -------------------------------------------------------- C05: tiny folds
def c05_data():
    rng = np.random.default_rng(5)
    x = rng.uniform(size=(30, 1))
    T = np.array(["control", "treat"] * 15)
    return x, T, 10.0 * x[:, 0]


def oof_r2(model) -> float:
    scores = model.estimators_["treat"].nuisance_scores_y
    return float(np.mean(scores))


def test_c05_tiny_folds_adapt_quietly(capfd):
    x, T, y = c05_data()
    model = PerTreatmentDML(cv=3, random_state=0).fit(x, T, y)
    model.effect(x)
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert oof_r2(model) > 0.5


def test_c05_lightgbm_defaults_would_be_constant(capfd):
    # the same data with LightGBM's own leaf sizes: nothing is learnt
    x, T, y = c05_data()
    model = PerTreatmentDML(cv=3, random_state=0, model_y=LGBMRegressor(verbose=-1, n_jobs=1))
    model.fit(x, T, y)
    assert oof_r2(model) <= 0.0
    capfd.readouterr()


# ---------------------------------------------------- C06: collinearity
@pytest.fixture(scope="module")
def c06():
    rng = np.random.default_rng(6)
    x1 = rng.uniform(size=500)
    X = pd.DataFrame({"x1": x1, "x2": x1})
    t = rng.integers(0, 2, size=500)
    y = x1 + (1 + x1) * t + rng.normal(0, 0.2, 500)
    with pytest.warns(UserWarning, match=r"collinear.*arm 'A': x2") as record:
        model = PerTreatmentDML(random_state=0).fit(X, np.where(t, "A", "control"), y)
    return X, model, record


def test_c06_duplicate_feature_dropped_with_one_warning(c06):
    X, model, record = c06
    assert len([w for w in record if "collinear" in str(w.message)]) == 1
    assert model.collinear_features_ == {"A": ["x2"]}
    truth = 1 + X["x1"]
    assert rmse(model.effect(X)["A"], truth) < 0.1
    lower, upper = model.effect_interval(X)
    width = (upper - lower)["A"]
    assert np.isfinite(width).all() and (width > 0).all() and width.max() < 0.5
    assert np.mean((lower["A"] <= truth) & (truth <= upper["A"])) >= 0.8


def test_c06_fewer_rows_than_featurized_features_raises(forbid_econml):
    X, T, y = simple_data(120, n_features=12)
    # 40 rows per arm model... poly2 of 12 features = 90 columns + intercept
    with pytest.raises(ValueError, match=r"arm 'A' has \d+ rows.*91 coefficients.*90 features"):
        PerTreatmentDML(control="ctrl", featurizer="poly2").fit(X, T, y)


def test_collinear_columns_finds_dependencies():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 50))
    F = np.column_stack([a, b, np.full(50, 3.0), a + 2 * b, b])
    assert collinear_columns(F) == [2, 3, 4]
    assert collinear_columns(F[:, :2]) == []


# ----------------------------------------------- other final stages
@pytest.mark.slow
@pytest.mark.parametrize(
    ("final_stage", "featurizer"), [("sparse", "poly2"), ("forest", None), ("linear", "poly2")]
)
def test_other_final_stages_give_effects_and_intervals(final_stage, featurizer):
    rng = np.random.default_rng(8)
    n = 2000
    x = rng.uniform(size=(n, 3))
    t = rng.integers(0, 2, size=n)
    tau = 1.0 + 2.0 * x[:, 0] ** 2
    y = x[:, 1] + t * tau + rng.normal(0, 0.5, n)
    model = PerTreatmentDML(final_stage=final_stage, featurizer=featurizer, random_state=0)
    model.fit(x, np.where(t, "A", "control"), y)
    effect = model.effect(x)["A"]
    lower, upper = model.effect_interval(x)
    assert rmse(effect, tau) < 0.25
    assert corr(effect, tau) > 0.85
    assert ((lower["A"] <= effect) & (effect <= upper["A"])).all()
    assert np.mean((lower["A"] <= tau) & (tau <= upper["A"])) > 0.6


def test_per_arm_settings_and_integer_labels():
    X, T, y = simple_data(900)
    T = T.map({"ctrl": 0, "A": 1, "B": 2})
    model = PerTreatmentDML(
        control=0, final_stage={2: "forest"}, featurizer={1: "poly2"}, random_state=0
    ).fit(X, T, y)
    assert model.arms_ == (1, 2)
    assert type(model.estimators_[1]).__name__ == "LinearDML"
    assert type(model.estimators_[2]).__name__ == "CausalForestDML"
    effect = model.effect(X)
    assert list(effect.columns) == [1, 2]
    assert abs(effect[1].mean() - 2.0) < 0.2 and abs(effect[2].mean() - 1.0) < 0.2
    with pytest.raises(ValueError, match="final_stage names unknown arm"):
        PerTreatmentDML(control=0, final_stage={3: "forest"}).fit(X, T, y)


# ------------------------------------------------------ validation, contract
@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda X, T, y: (X, T, y, {"control": "nobody"}), "control label 'nobody' does not"),
        (lambda X, T, y: (X, pd.Series("ctrl", index=T.index), y, {}), "only the control label"),
        (lambda X, T, y: (X.iloc[:-1], T, y, {}), "T has 300 rows but X has 299"),
        (lambda X, T, y: (X, T, y.iloc[:-1], {}), "y has 299 rows but X has 300"),
        (lambda X, T, y: (X.iloc[:0], T.iloc[:0], y.iloc[:0], {}), "X is empty"),
        (lambda X, T, y: (X, T, pd.concat([y, y], axis=1), {}), "y must be a single outcome"),
        (lambda X, T, y: (X, T.where(T != "A", None), y, {}), "T has a missing label"),
        (lambda X, T, y: (X, T, y, {"final_stage": "deep"}), "final_stage for arm"),
        (lambda X, T, y: (X, T, y, {"featurizer": "poly9"}), "featurizer for arm"),
        (lambda X, T, y: (X, T, y, {"cv": 1}), "cv must be at least 2"),
        (lambda X, T, y: (X, T, y, {"small_arms": "keep"}), "small_arms must be one of"),
        (lambda X, T, y: (X.assign(s="z").rename(columns={"s": "x0"}), T, y, {}), "duplicate"),
    ],
)
def test_bad_input_raises_before_econml(forbid_econml, change, match):
    X, T, y = simple_data(300)
    X, T, y, params = change(X, T, y)
    params = {"control": "ctrl", **params}
    with pytest.raises(ValueError, match=match):
        PerTreatmentDML(**params).fit(X, T, y)


def test_predict_checks_columns(c07):
    X, model = c07
    with pytest.raises(ValueError, match="missing column"):
        model.effect(X[["x0"]])
    with pytest.raises(ValueError, match="unexpected column"):
        model.effect(X.assign(x9=1.0))
    with pytest.raises(ValueError, match="fitted with 2"):
        model.effect(np.zeros((3, 3)))


def test_estimator_contract_and_no_mutation():
    X, T, y = simple_data(400)
    X["kind"] = pd.Categorical(np.where(X["x1"] > 0.5, "hi", "lo"))
    copies = X.copy(deep=True), T.copy(deep=True), y.copy(deep=True)
    user_model = LGBMRegressor(verbose=-1, n_estimators=20, n_jobs=1)
    model = PerTreatmentDML(control="ctrl", model_y=user_model, random_state=0)
    assert model.get_params()["model_y"] is user_model
    with pytest.raises(NotFittedError):
        model.effect(X)
    assert clone(model).get_params()["control"] == "ctrl"
    assert model.fit(X, T, y) is model
    model.effect(X)
    model.effect_interval(X)
    pd.testing.assert_frame_equal(X, copies[0])
    pd.testing.assert_series_equal(T, copies[1])
    pd.testing.assert_series_equal(y, copies[2])
    with pytest.raises(NotFittedError):
        check_is_fitted(user_model)  # cloned per arm, never fitted in place
    assert user_model.get_params()["random_state"] is None
    assert list(model.feature_names_in_) == ["x0", "x1", "kind"]
    assert model.n_features_in_ == 3
    assert model.control_ == "ctrl" and set(model.estimators_) == {"A", "B"}


# ----------------------------------------------------------- selection
@pytest.mark.slow
def test_select_cate_model_picks_per_arm():
    rng = np.random.default_rng(9)
    n = 4000
    X = pd.DataFrame(rng.uniform(size=(n, 4)), columns=[f"x{i}" for i in range(4)])
    T = pd.Series(rng.choice(["control", "curved", "straight"], size=n))
    tau_curved = 8.0 * (X["x0"] - 0.5) ** 2
    tau_straight = 1.0 + X.sum(axis=1)  # every feature matters: nothing to select
    y = (
        X["x2"]
        + (T == "curved") * tau_curved
        + (T == "straight") * tau_straight
        + rng.normal(0, 0.5, n)
    )
    candidates = {
        "linear": {"final_stage": "linear", "featurizer": None},
        "stepwise+poly2": {"final_stage": "stepwise", "featurizer": "poly2"},
    }
    model, scores = select_cate_model(X, T, y, candidates, random_state=0)
    assert list(scores.index) == ["linear", "stepwise+poly2"]
    assert list(scores.columns) == ["curved", "straight", "fit_seconds"]
    # a line cannot bend: the curved arm moves to the stepwise stage by a wide
    # margin; the straight one keeps the first candidate (the same on 6 of 6 seeds)
    assert scores.loc["stepwise+poly2", "curved"] > scores.loc["linear", "curved"] + 0.05
    assert scores.attrs["chosen"] == {"curved": "stepwise+poly2", "straight": "linear"}
    assert model.final_stage == {"curved": "stepwise", "straight": "linear"}
    assert model.featurizer == {"curved": "poly2", "straight": None}
    # 8 (x0 - 0.5)^2 = 2 - 8 x0 + 8 x0^2: exactly the two terms
    assert model.selected_features_ == {"curved": [["x0", "x0^2"]]}
    effect = model.effect(X)
    assert rmse(effect["curved"], tau_curved) < 0.1
    assert rmse(effect["straight"], tau_straight) < 0.15


def test_one_standard_error_rule():
    ones = np.ones(4)
    noisy = np.array([0.9, 1.1, 0.8, 1.2])  # same mean loss as the first candidate
    assert cate_module._choose({"simple": ones, "complex": noisy - 0.01}, "1se") == "simple"
    assert cate_module._choose({"simple": ones, "complex": noisy - 0.01}, "best") == "complex"
    # a clear, consistent improvement beats the simple candidate
    assert cate_module._choose({"simple": ones, "complex": ones - 0.5}, "1se") == "complex"
    # ties go to the earlier candidate
    assert cate_module._choose({"a": ones, "b": ones}, "best") == "a"


def test_rows_of_T_and_y_must_line_up_with_X():
    from upliftopt import PerTreatmentDML

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.uniform(size=300)}, index=rng.permutation(300) + 1000)
    T = pd.Series(rng.choice(["control", "A"], size=300), index=X.index)
    y = X["x"] + (T == "A") + rng.normal(0, 0.1, 300)
    shuffled = rng.permutation(300)
    with pytest.raises(ValueError, match="T's index does not match X's index"):
        PerTreatmentDML(random_state=0).fit(X, T.iloc[shuffled], y)
    with pytest.raises(ValueError, match="y's index does not match X's index"):
        PerTreatmentDML(random_state=0).fit(X, T, y.iloc[shuffled])


def test_generator_random_state_is_accepted_and_reproducible():
    from upliftopt import PerTreatmentDML

    rng = np.random.default_rng(1)
    X = pd.DataFrame({"x": rng.uniform(size=300)})
    T = pd.Series(rng.choice(["control", "A"], size=300))
    y = X["x"] + (T == "A") + rng.normal(0, 0.1, 300)
    first = PerTreatmentDML(random_state=np.random.default_rng(5)).fit(X, T, y).effect(X)
    second = PerTreatmentDML(random_state=np.random.default_rng(5)).fit(X, T, y).effect(X)
    pd.testing.assert_frame_equal(first, second)
