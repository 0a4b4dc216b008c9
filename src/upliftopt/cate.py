"""Per-arm conditional average treatment effects (CATE) by double machine learning.

:class:`PerTreatmentDML` fits one econml DML model per non-control arm, on the
control rows plus that arm's rows (or, for a set of separate binary
experiments, on that arm's experiment), and returns the effect of every arm for
every customer as a DataFrame (customers x arms). :func:`select_cate_model`
picks, per arm, among configurations (final stage, featurizer, pooled control
groups, repeated fits) by the cross-validated R-loss and refits the choice.

Why one model per arm: each arm is often its own experiment with its own
control group, and a per-arm model lets arms differ in size, final stage and
featurizer. The price is that effects of two arms are estimated separately, so
a contrast between two arms (A versus B) has no exact interval here: when both
models use the same control rows their errors are positively correlated, and
the naive ``sqrt(var_A + var_B)`` overstates the contrast's variance.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._features import (
    ColumnSubset,
    FeatureEncoder,
    check_outcome,
    check_same_rows,
    check_treatment,
    collinear_columns,
    forward_stepwise,
    warn_once,
)
from ._nuisance import crossfit_residuals, default_model_t, default_model_y, seeded_clone

__all__ = [
    "ALL_CANDIDATES",
    "DEFAULT_CANDIDATES",
    "EXPERIMENT_CANDIDATES",
    "FINAL_STAGES",
    "PerTreatmentDML",
    "select_cate_model",
]

logger = logging.getLogger(__name__)

#: Accepted values of ``final_stage``.
FINAL_STAGES = ("linear", "stepwise", "sparse", "forest")
#: Accepted values of ``small_arms``.
SMALL_ARMS = ("raise", "drop")
#: Accepted values of ``rule`` in :func:`select_cate_model`.
SELECTION_RULES = ("1se", "best")
#: Shorthand featurizers accepted by ``featurizer``.
FEATURIZERS = ("poly2",)
#: Settings a :func:`select_cate_model` candidate may change.
CANDIDATE_KEYS = ("final_stage", "featurizer", "pool_controls", "n_repeats")


class PerTreatmentDML(BaseEstimator):
    """One double-machine-learning CATE model per treatment arm.

    For each arm ``a`` other than ``control`` an econml DML estimator is fitted
    on the rows with ``T == control`` or ``T == a`` (with ``experiment`` given:
    the rows of experiment ``a``), with a binary treatment indicator, quiet
    LightGBM nuisance models and cross-fitting over ``cv`` folds.

    Parameters
    ----------
    control : hashable, default="control"
        Label of the control arm in ``T``.
    model_y, model_t : estimator or None, default=None
        Outcome regressor and propensity classifier. ``None`` builds LightGBM
        models whose leaf sizes adapt to the fold size (see
        ``upliftopt._nuisance``). User models are cloned for every arm and
        never fitted in place; a model whose ``random_state`` is ``None`` is
        given one derived from ``random_state``.
    featurizer : {"poly2"}, transformer, dict or None, default=None
        Features of the final stage (the nuisances always see the plain
        features). ``"poly2"`` is ``PolynomialFeatures(degree=2,
        include_bias=False)``: the features, their squares and pairwise
        products. With ``final_stage="stepwise"`` these are the *candidate*
        terms. A dict maps arm labels to per-arm featurizers.
    final_stage : {"linear", "stepwise", "sparse", "forest"} or dict, default="linear"
        ``"linear"``: econml ``LinearDML`` (OLS with sandwich intervals);
        ``"stepwise"``: ``LinearDML`` on the terms chosen from the featurizer's
        output by forward stepwise selection with the BIC on the cross-fitted
        final-stage regression, then refitted by OLS on the same residuals
        (analytic intervals, conditional on the chosen terms; see the docs);
        ``"sparse"``: ``SparseLinearDML`` (debiased lasso, on standardised
        features); ``"forest"``: ``CausalForestDML``. A dict maps arm labels to
        per-arm stages; arms it omits use ``"linear"``.
    cv : int or CV splitter, default=3
        Cross-fitting folds. Every arm and its control group need at least
        ``cv`` rows, so that each fold's training part holds both.
    mc_iters : int or None, default=None
        Repetitions of the cross-fitting with fresh folds (econml's nuisance
        averaging: one final stage on the averaged residuals).
    n_repeats : int or dict, default=1
        Independent fits per arm, each with its own cross-fitting folds (and,
        for ``"stepwise"``, its own term selection); a dict sets it per arm
        (arms it omits get 1). Effects are the mean over
        the fits; intervals use the variance ``mean(se_m^2 + (tau_m - mean)^2)``
        of Chernozhukov et al. (2018, section 3.4), which adds the spread
        between splits to the sampling variance. This removes most of the
        dependence on one random split, which is large for stepwise selection;
        it costs ``n_repeats`` times the fitting time.
    small_arms : {"raise", "drop"}, default="raise"
        What to do with an arm that has fewer than ``cv`` rows: raise a
        ``ValueError`` naming it, or drop it with one warning.
    pool_controls : bool or dict, default=False
        With ``experiment`` given, also use the control rows of the *other*
        experiments for an arm. Valid only when all experiments sample the
        same population at the same time; it then multiplies the control rows
        that drive the precision (see the docs). A dict maps arm labels to
        per-arm choices (arms it omits do not pool). Ignored without
        ``experiment``.
    n_jobs : int or None, default=None
        Arms fitted in parallel (joblib). The default LightGBM models always use
        one thread each, which was fastest and steadiest on small machines.
    random_state : int, RandomState, Generator or None, default=None
        Seeds the fold splits and every nuisance and final-stage model.

    Attributes
    ----------
    estimators_ : dict
        Arm label -> fitted econml estimator (binary treatment 0 = control,
        1 = arm, on the encoded features); with ``n_repeats > 1`` an object
        whose ``estimators`` list holds one econml estimator per repetition.
    arms_ : tuple
        Arm labels with a fitted model, in column order.
    control_ : hashable
        The control label.
    dropped_arms_ : dict
        Arm label -> row count, for arms dropped by ``small_arms="drop"``.
    collinear_features_ : dict
        Arm label -> names of final-stage features dropped as collinear.
    selected_features_ : dict
        Arm label -> list, one entry per repetition (``n_repeats``), of the
        names of the final-stage terms chosen by ``final_stage="stepwise"`` (the
        constant effect is always included and not listed); only arms with
        that stage.
    feature_names_in_ : ndarray of str
        Column names of ``X`` (only when ``X`` was a DataFrame).
    n_features_in_ : int
        Number of columns of ``X``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from upliftopt import PerTreatmentDML
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"x": rng.uniform(size=600)})
    >>> T = pd.Series(rng.choice(["control", "A", "B"], size=600))
    >>> y = X["x"] + 2.0 * (T == "A") + 1.0 * (T == "B") + rng.normal(0, 0.1, 600)
    >>> model = PerTreatmentDML(random_state=0).fit(X, T, y)
    >>> effects = model.effect(X)
    >>> list(effects.columns), effects.shape
    (['A', 'B'], (600, 2))
    >>> bool(abs(effects["A"].mean() - 2.0) < 0.1)
    True
    """

    def __init__(
        self,
        *,
        control: Hashable = "control",
        model_y: Any = None,
        model_t: Any = None,
        featurizer: Any = None,
        final_stage: str | Mapping[Hashable, str] = "linear",
        cv: Any = 3,
        mc_iters: int | None = None,
        n_repeats: int | Mapping[Hashable, int] = 1,
        small_arms: str = "raise",
        pool_controls: bool | Mapping[Hashable, bool] = False,
        n_jobs: int | None = None,
        random_state: Any = None,
    ) -> None:
        self.control = control
        self.model_y = model_y
        self.model_t = model_t
        self.featurizer = featurizer
        self.final_stage = final_stage
        self.cv = cv
        self.mc_iters = mc_iters
        self.n_repeats = n_repeats
        self.small_arms = small_arms
        self.pool_controls = pool_controls
        self.n_jobs = n_jobs
        self.random_state = random_state

    # ------------------------------------------------------------------ fit
    def fit(self, X: Any, T: Any, y: Any, *, experiment: Any = None) -> PerTreatmentDML:
        """Fit one DML model per arm.

        Parameters
        ----------
        X : DataFrame or array of shape (n, d)
            Features. Categorical, object and string columns are one-hot
            encoded by the levels seen here; no value may be missing.
        T : Series or array of shape (n,)
            Arm label of each row (strings or integers), ``control`` included.
        y : Series, array of shape (n,), or (n, 1) DataFrame or array
            Outcome, finite.
        experiment : Series or array of shape (n,), optional
            For data from separate binary experiments: the arm label of the
            experiment each row belongs to. Arm ``a``'s model then uses only
            the rows of experiment ``a`` (plus, with ``pool_controls``, every
            control row).

        Returns
        -------
        self : PerTreatmentDML
        """
        self._check_params()
        encoder = FeatureEncoder().fit(X)
        Xe = encoder.transform(X)
        n = Xe.shape[0]
        for name, data in (("T", T), ("y", y), ("experiment", experiment)):
            check_same_rows(X, data, name)
        labels = check_treatment(T, n)
        yv = check_outcome(y, n)
        exp = None if experiment is None else check_treatment(experiment, n, name="experiment")
        arms = _arm_order(T, labels, exp, self.control)
        rows = _arm_rows(labels, exp, arms, self.control, self.pool_controls)

        n_folds = _n_folds(self.cv)
        arms, dropped = self._check_counts(labels, rows, arms, n_folds)
        final_stages = _per_arm(self.final_stage, arms, "final_stage", default="linear")
        featurizers = _per_arm(self.featurizer, arms, "featurizer", default=None)
        repeats = _per_arm(self.n_repeats, arms, "n_repeats", default=1)
        for arm, stage in final_stages.items():
            if stage not in FINAL_STAGES:
                raise ValueError(
                    f"final_stage for arm {arm!r} must be one of {FINAL_STAGES}; got {stage!r}"
                )

        names = encoder.encoded_names()
        specs, collinear = {}, {}
        for arm in arms:
            feat = _make_featurizer(featurizers[arm], arm)
            stage = final_stages[arm]
            # stepwise selection never picks a collinear term and stops before
            # the rows run out, so only the fixed linear designs are checked here
            if stage in ("linear", "sparse"):
                feat, dropped_names = _full_rank_featurizer(feat, Xe[rows[arm]], arm, names)
                if dropped_names:
                    collinear[arm] = dropped_names
            specs[arm] = (stage, feat)
        if collinear:
            detail = "; ".join(f"arm {a!r}: {', '.join(c)}" for a, c in collinear.items())
            warn_once(
                "dropped final-stage features that are constant or collinear with others "
                f"(their effect cannot be told apart): {detail}",
                stacklevel=2,
            )

        all_arms = _arm_order(T, labels, exp, self.control)
        seeds = _arm_seeds(self.random_state, all_arms)
        parallel = self.n_jobs not in (None, 1)
        start = time.perf_counter()
        jobs, owners = [], []
        for arm in arms:
            for seed in _repeat_seeds(seeds[arm], int(repeats[arm])):
                jobs.append(
                    (
                        Xe[rows[arm]],
                        (labels[rows[arm]] == arm).astype(np.int64),
                        yv[rows[arm]],
                        self._build(arm, specs[arm], int(rows[arm].sum()), n_folds, seed, parallel),
                        specs[arm][1] if specs[arm][0] == "stepwise" else _NO_SELECTION,
                    )
                )
                owners.append(arm)
        fitted = _run_arms(self.n_jobs, jobs)
        logger.info("fitted %d arm model(s) in %.2f s", len(jobs), time.perf_counter() - start)

        per_arm: dict[Hashable, list] = {arm: [] for arm in arms}
        for arm, result in zip(owners, fitted, strict=True):
            per_arm[arm].append(result)
        estimators, selected = {}, {}
        for arm, results in per_arm.items():
            fits = [est for est, _ in results]
            estimators[arm] = fits[0] if len(fits) == 1 else RepeatedFits(fits)
            if specs[arm][0] == "stepwise":
                all_names = _feature_names(specs[arm][1], names, 0, Xe[rows[arm]])
                selected[arm] = [[all_names[j] for j in keep] for _, keep in results]
                logger.info("arm %r: stepwise chose %s", arm, selected[arm])
        self.estimators_ = estimators
        self.selected_features_ = selected
        self.arms_ = tuple(arms)
        self.control_ = self.control
        self.dropped_arms_ = dropped
        self.collinear_features_ = collinear
        self._encoder = encoder
        self.n_features_in_ = encoder.n_features_in
        if encoder.feature_names_in is not None:
            self.feature_names_in_ = encoder.feature_names_in
        return self

    def _check_params(self) -> None:
        if self.small_arms not in SMALL_ARMS:
            raise ValueError(f"small_arms must be one of {SMALL_ARMS}; got {self.small_arms!r}")
        if self.mc_iters is not None and (
            not isinstance(self.mc_iters, (int, np.integer)) or self.mc_iters < 1
        ):
            raise ValueError(f"mc_iters must be a positive integer or None; got {self.mc_iters!r}")
        repeats = self.n_repeats
        for value in repeats.values() if isinstance(repeats, Mapping) else [repeats]:
            if (
                isinstance(value, (bool, np.bool_))
                or not isinstance(value, (int, np.integer))
                or value < 1
            ):
                raise ValueError(f"n_repeats must be a positive integer; got {value!r}")

    def _check_counts(
        self, labels: np.ndarray, rows: dict, arms: list, n_folds: int
    ) -> tuple[list, dict]:
        # Stratified cross-fitting puts every class in every fold only if each
        # class has at least one row per fold; econml otherwise fails deep inside.
        small, dropped = [], {}
        for arm in arms:
            in_rows = labels[rows[arm]]
            n_arm = int((in_rows == arm).sum())
            n_ctrl = int((in_rows == self.control).sum())
            if n_ctrl < n_folds:
                raise ValueError(
                    f"the control group {self.control!r} used for arm {arm!r} has {n_ctrl} "
                    f"row(s); cross-fitting with cv={n_folds} folds needs at least {n_folds}"
                )
            if n_arm < n_folds:
                small.append((arm, n_arm))
        if small and self.small_arms == "raise":
            detail = ", ".join(f"arm {a!r} has {c} row(s)" for a, c in small)
            raise ValueError(
                f"{detail}; cross-fitting with cv={n_folds} folds needs at least {n_folds} "
                "rows of every arm (each fold must contain the arm). Collect more data, "
                'lower cv, or pass small_arms="drop"'
            )
        if small:
            dropped = dict(small)
            arms = [a for a in arms if a not in dropped]
            if not arms:
                raise ValueError(
                    f"every arm has fewer than {n_folds} rows ({dropped}); nothing left to fit"
                )
            detail = ", ".join(f"{a!r} ({c} row(s))" for a, c in small)
            warn_once(
                f"dropped arm(s) with fewer than cv={n_folds} rows: {detail}; "
                "no effects are estimated for them"
            )
        return arms, dropped

    def _build(
        self,
        arm: Hashable,
        spec: tuple[str, Any],
        n_rows: int,
        n_folds: int,
        seed: int,
        parallel: bool,
    ) -> Any:
        stage, feat = spec
        n_train = n_rows * (n_folds - 1) // n_folds
        model_y = (
            default_model_y(n_train, seed)
            if self.model_y is None
            else seeded_clone(self.model_y, seed)
        )
        model_t = (
            default_model_t(n_train, seed)
            if self.model_t is None
            else seeded_clone(self.model_t, seed)
        )
        common = dict(
            model_y=model_y,
            model_t=model_t,
            featurizer=feat,
            discrete_treatment=True,
            cv=self.cv,
            mc_iters=self.mc_iters,
            random_state=seed,
        )
        inner_jobs = 1 if parallel or self.n_jobs is None else self.n_jobs
        if stage == "linear":
            from econml.dml import LinearDML

            return LinearDML(**common)
        if stage == "stepwise":
            from econml.dml import LinearDML

            # first fit: constant effect only; _fit_one selects the terms on the
            # cached residuals and refits the final stage with them
            common["featurizer"] = ColumnSubset(None, ())
            return LinearDML(**common)
        if stage == "sparse":
            from econml.dml import SparseLinearDML
            from sklearn.pipeline import Pipeline
            from sklearn.preprocessing import StandardScaler

            # the lasso penalty is scale dependent: standardise the final-stage features
            steps = [("scale", StandardScaler())]
            if feat is not None:
                steps.insert(0, ("features", feat))
            common["featurizer"] = Pipeline(steps)
            return SparseLinearDML(**common, n_alphas=20, n_alphas_cov=5, n_jobs=inner_jobs)
        from econml.dml import CausalForestDML

        # honest forests with tiny leaves are very noisy at uplift signal-to-noise
        # ratios: grow leaves with the sample (about 1 % of the rows, at least 5)
        return CausalForestDML(
            **common,
            n_estimators=200,
            min_samples_leaf=max(5, n_rows // 100),
            n_jobs=inner_jobs,
        )

    # -------------------------------------------------------------- predict
    def _encode(self, X: Any) -> tuple[np.ndarray, pd.Index]:
        check_is_fitted(self, "estimators_")
        Xe = self._encoder.transform(X, "X")
        index = X.index if isinstance(X, pd.DataFrame) else pd.RangeIndex(Xe.shape[0])
        return Xe, index

    def effect(self, X: Any) -> pd.DataFrame:
        """Estimated effect of every arm versus control for every row.

        Parameters
        ----------
        X : DataFrame or array of shape (m, d)
            Features laid out as at fit (columns matched by name for frames).

        Returns
        -------
        DataFrame of shape (m, K)
            Rows = customers (the caller's index when ``X`` is a DataFrame),
            columns = ``arms_``.
        """
        Xe, index = self._encode(X)
        columns = {arm: np.ravel(est.effect(Xe)) for arm, est in self.estimators_.items()}
        return pd.DataFrame(columns, index=index, columns=pd.Index(self.arms_))

    def effect_interval(self, X: Any, alpha: float = 0.05) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Pointwise ``1 - alpha`` confidence intervals of :meth:`effect`.

        Parameters
        ----------
        X : DataFrame or array of shape (m, d)
            Features laid out as at fit.
        alpha : float, default=0.05
            Level: the intervals aim to cover each true effect with probability
            ``1 - alpha`` (pointwise, per customer and arm).

        Returns
        -------
        lower, upper : DataFrame of shape (m, K)
            Same index and columns as :meth:`effect`.
        """
        if not (isinstance(alpha, (float, int)) and 0.0 < float(alpha) < 1.0):
            raise ValueError(f"alpha must be a number strictly between 0 and 1; got {alpha!r}")
        Xe, index = self._encode(X)
        lower, upper = {}, {}
        for arm, est in self.estimators_.items():
            lo, hi = est.effect_interval(Xe, alpha=float(alpha))
            lower[arm], upper[arm] = np.ravel(lo), np.ravel(hi)
        columns = pd.Index(self.arms_)
        return (
            pd.DataFrame(lower, index=index, columns=columns),
            pd.DataFrame(upper, index=index, columns=columns),
        )


# ---------------------------------------------------------------- helpers
def _arm_order(T: Any, labels: np.ndarray, exp: np.ndarray | None, control: Hashable) -> list:
    present = pd.unique(labels)
    if control not in set(present):
        shown = ", ".join(map(repr, present[:10]))
        raise ValueError(f"control label {control!r} does not occur in T (labels found: {shown})")
    if exp is not None:
        unknown = [e for e in pd.unique(exp) if e not in set(present) and e != control]
        if unknown:
            raise ValueError(
                f"experiment has label(s) {', '.join(map(repr, unknown[:5]))} that are not "
                "arms in T; each experiment is named by the arm it tests"
            )
    arms = [a for a in present if a != control]
    if not arms:
        raise ValueError(f"T contains only the control label {control!r}: no arm to estimate")
    if isinstance(T, pd.Series) and isinstance(T.dtype, pd.CategoricalDtype):
        order = {c: i for i, c in enumerate(T.dtype.categories)}
        return sorted(arms, key=lambda a: order.get(a, len(order)))
    try:
        return sorted(arms)
    except TypeError:  # mixed label types: keep first appearance
        return arms


def _arm_rows(
    labels: np.ndarray, exp: np.ndarray | None, arms: list, control: Hashable, pool: Any
) -> dict:
    is_control = labels == control
    pools = _per_arm(pool, arms, "pool_controls", default=False)
    for arm, value in pools.items():
        if not isinstance(value, (bool, np.bool_)):
            raise ValueError(f"pool_controls for arm {arm!r} must be True or False; got {value!r}")
    if exp is None:
        return {arm: is_control | (labels == arm) for arm in arms}
    if np.any(exp == control):
        i = int(np.flatnonzero(exp == control)[0])
        raise ValueError(
            f"experiment names the control label {control!r} at row {i}; experiments are "
            "named by their treatment arm"
        )
    inconsistent = ~is_control & (labels != exp)
    if inconsistent.any():
        i = int(np.flatnonzero(inconsistent)[0])
        raise ValueError(
            f"row {i} has T = {labels[i]!r} but belongs to experiment {exp[i]!r}; in a "
            "binary experiment every row is its arm or the control"
        )
    return {arm: (is_control | (exp == arm)) if pools[arm] else (exp == arm) for arm in arms}


def _n_folds(cv: Any) -> int:
    if isinstance(cv, (bool, np.bool_)):
        raise ValueError(f"cv must be an integer >= 2 or a CV splitter; got {cv!r}")
    if isinstance(cv, (int, np.integer)):
        if cv < 2:
            raise ValueError(f"cv must be at least 2 folds; got {cv}")
        return int(cv)
    if hasattr(cv, "get_n_splits") and hasattr(cv, "split"):
        return int(cv.get_n_splits())
    raise ValueError(
        f"cv must be an integer >= 2 or a CV splitter with split/get_n_splits; got {cv!r}"
    )


def _per_arm(value: Any, arms: list, name: str, default: Any) -> dict:
    if isinstance(value, Mapping):
        unknown = [k for k in value if k not in arms]
        if unknown:
            raise ValueError(
                f"{name} names unknown arm(s) {', '.join(map(repr, unknown))}; "
                f"the arms are {', '.join(map(repr, arms))}"
            )
        return {arm: value.get(arm, default) for arm in arms}
    return dict.fromkeys(arms, value)


def _make_featurizer(featurizer: Any, arm: Hashable) -> Any:
    if featurizer is None:
        return None
    if isinstance(featurizer, str):
        if featurizer == "poly2":
            from sklearn.preprocessing import PolynomialFeatures

            return PolynomialFeatures(degree=2, include_bias=False)
        raise ValueError(
            f"featurizer for arm {arm!r} must be one of {FEATURIZERS}, a transformer or None; "
            f"got {featurizer!r}"
        )
    if not (hasattr(featurizer, "fit") and hasattr(featurizer, "transform")):
        raise ValueError(f"featurizer for arm {arm!r} must have fit and transform methods")
    return clone(featurizer)


def _feature_names(
    feat: Any, names: list[str], width: int, sample: np.ndarray | None = None
) -> list[str]:
    if feat is None:
        return names
    if sample is not None:  # an unfitted featurizer: fit a copy to learn its output
        feat = clone(feat).fit(sample)
        width = np.asarray(feat.transform(sample)).shape[1]
    try:
        return [str(v) for v in feat.get_feature_names_out(names)]
    except (AttributeError, TypeError, ValueError):
        return [f"feature {j}" for j in range(width)]


def _full_rank_featurizer(
    feat: Any, Xa: np.ndarray, arm: Hashable, names: list[str]
) -> tuple[Any, list[str]]:
    """Check rows versus coefficients and drop collinear final-stage features."""
    F = Xa if feat is None else np.asarray(clone(feat).fit(Xa).transform(Xa), dtype=np.float64)
    n_rows, n_coef = F.shape[0], F.shape[1] + 1  # + intercept
    if n_rows <= n_coef:
        raise ValueError(
            f"arm {arm!r} has {n_rows} rows but its linear final stage has {n_coef} "
            f"coefficients ({F.shape[1]} features after featurization, plus an intercept); "
            "it needs more rows than coefficients: use fewer features, no featurizer, "
            'or final_stage="forest"'
        )
    drop = collinear_columns(F)
    if not drop:
        return feat, []
    keep = [j for j in range(F.shape[1]) if j not in set(drop)]
    all_names = _feature_names(feat, names, F.shape[1])
    return ColumnSubset(feat, keep), [all_names[j] for j in drop]


def _repeat_seeds(seed: int, n_repeats: int) -> list[int]:
    # the first repetition keeps the arm's own seed: n_repeats=1 is the plain fit
    extra = np.random.RandomState(seed).randint(0, np.iinfo(np.int32).max, size=n_repeats - 1)
    return [seed, *(int(s) for s in extra)]


class RepeatedFits:
    """One arm's DML fits over independent cross-fitting splits, averaged.

    Parameters
    ----------
    estimators : list
        Fitted econml estimators of the same arm, each with its own folds.

    Notes
    -----
    ``effect`` is the mean of the fits' effects. ``effect_interval`` is
    ``mean -/+ z * sqrt(mean_m(se_m^2 + (tau_m - mean)^2))``, the mean
    aggregation of Chernozhukov et al. (2018, "Double/debiased machine
    learning", section 3.4): each fit's standard error plus the spread between
    splits, with normal quantiles as econml's linear inference uses.
    """

    def __init__(self, estimators: list) -> None:
        self.estimators = list(estimators)

    def effect(self, X: np.ndarray) -> np.ndarray:
        """Mean effect over the fits."""
        return np.mean([np.ravel(est.effect(X)) for est in self.estimators], axis=0)

    def effect_interval(self, X: np.ndarray, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
        """Pointwise ``1 - alpha`` interval around the mean effect."""
        from scipy.stats import norm

        points = np.array([np.ravel(est.effect(X)) for est in self.estimators])
        errors = np.array([np.ravel(est.effect_inference(X).stderr) for est in self.estimators])
        mean = points.mean(axis=0)
        se = np.sqrt(np.mean(errors**2 + (points - mean) ** 2, axis=0))
        half = norm.ppf(1.0 - alpha / 2.0) * se
        return mean - half, mean + half


def _random_state(random_state: Any) -> np.random.RandomState:
    """``check_random_state`` that also takes a numpy ``Generator`` (it draws one seed)."""
    if isinstance(random_state, np.random.Generator):
        return np.random.RandomState(int(random_state.integers(0, np.iinfo(np.int32).max)))
    return check_random_state(random_state)


def _arm_seeds(random_state: Any, arms: list) -> dict:
    # one seed per arm, drawn in arm order, so a dropped arm does not shift the others
    rng = _random_state(random_state)
    seeds = rng.randint(0, np.iinfo(np.int32).max, size=len(arms))
    return {arm: int(s) for arm, s in zip(arms, seeds, strict=True)}


#: Marks an arm whose final stage is not chosen by stepwise selection.
_NO_SELECTION = "no selection"


def _fit_one(
    X: np.ndarray, t: np.ndarray, y: np.ndarray, estimator: Any, basis: Any
) -> tuple[Any, list[int] | None]:
    """Fit one arm; with a stepwise stage also choose its terms.

    Returns the fitted estimator and the chosen columns of ``basis`` (None when
    the stage is not stepwise).
    """
    if isinstance(basis, str) and basis == _NO_SELECTION:
        return estimator.fit(y, t, X=X), None
    estimator.fit(y, t, X=X, cache_values=True)
    y_res, t_res = (np.ravel(v) for v in estimator.residuals_[:2])
    F = X if basis is None else np.asarray(clone(basis).fit(X).transform(X), dtype=np.float64)
    keep = forward_stepwise(F, y_res, t_res)
    # same cached nuisances, final stage refitted by OLS on the chosen terms
    estimator.featurizer = ColumnSubset(basis, keep)
    estimator.refit_final()
    return estimator, keep


def _run_arms(n_jobs: int | None, jobs: list) -> list:
    if n_jobs in (None, 1) or len(jobs) == 1:
        return [_fit_one(*job) for job in jobs]
    from joblib import Parallel, delayed

    return Parallel(n_jobs=n_jobs)(delayed(_fit_one)(*job) for job in jobs)


# -------------------------------------------------------------- selection
#: Every built-in configuration. ``"stepwise+poly2"`` averages 4 fits on
#: independent cross-fitting splits (``n_repeats``), because the terms stepwise
#: selection picks can change with the split. ``"linear+poly2"`` (65 OLS
#: coefficients), ``"forest"`` and the slow ``"sparse+poly2"`` (debiased lasso,
#: minutes for three 10,000-row arms) were clearly less accurate on the
#: synthetic benchmark (``benchmarks/cate_accuracy.py``).
ALL_CANDIDATES: dict[str, dict[str, Any]] = {
    "stepwise+poly2": {"final_stage": "stepwise", "featurizer": "poly2", "n_repeats": 4},
    "linear": {"final_stage": "linear", "featurizer": None, "n_repeats": 1},
    "stepwise+poly2, pooled": {
        "final_stage": "stepwise",
        "featurizer": "poly2",
        "n_repeats": 4,
        "pool_controls": True,
    },
    "linear, pooled": {
        "final_stage": "linear",
        "featurizer": None,
        "n_repeats": 1,
        "pool_controls": True,
    },
    "linear+poly2": {"final_stage": "linear", "featurizer": "poly2", "n_repeats": 1},
    "forest": {"final_stage": "forest", "featurizer": None, "n_repeats": 1},
    "sparse+poly2": {"final_stage": "sparse", "featurizer": "poly2", "n_repeats": 1},
}
#: Default candidates of :func:`select_cate_model` without ``experiment``, in
#: order of preference: the first is kept unless another is clearly better.
DEFAULT_CANDIDATES: dict[str, dict[str, Any]] = {
    "stepwise+poly2": ALL_CANDIDATES["stepwise+poly2"],
    "linear": ALL_CANDIDATES["linear"],
}
#: Default candidates with ``experiment``: stepwise selection on pooled control
#: groups first, the seed pipeline (each experiment alone) as the fallback when
#: pooling does not hold up on the experiments' own rows.
EXPERIMENT_CANDIDATES: dict[str, dict[str, Any]] = {
    "stepwise+poly2, pooled": ALL_CANDIDATES["stepwise+poly2, pooled"],
    "linear": {**ALL_CANDIDATES["linear"], "pool_controls": False},
}
_DEFAULTS = {"final_stage": "linear", "featurizer": None, "pool_controls": False, "n_repeats": 1}


def select_cate_model(
    X: Any,
    T: Any,
    y: Any,
    candidates: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    control: Hashable = "control",
    experiment: Any = None,
    folds: int = 3,
    base: PerTreatmentDML | None = None,
    rule: str = "1se",
    random_state: Any = None,
) -> tuple[PerTreatmentDML, pd.DataFrame]:
    """Choose a configuration per arm by cross-validated R-loss, then refit on all data.

    The rows are split into ``folds`` folds, stratified by arm (and
    experiment). Every candidate is fitted ``folds`` times, each time without
    one fold, and predicts the effects of the fold it did not see. Each arm is
    then scored on all its rows by the R-loss
    ``mean((y_res - tau(x) t_res)^2)``, where ``y_res`` and ``t_res`` are
    outcome and treatment residuals from fresh nuisance models cross-fitted
    over the same folds (a row's residual and its predicted effect both come
    from models that never saw it). Scores are reported as
    ``1 - R-loss / R-loss(best constant effect)`` (higher is better; 0 is no
    better than one constant effect for everybody).

    The choice is made **per arm**. With ``rule="1se"`` (default) the first
    candidate is kept unless another has a lower R-loss by more than one
    standard error of the paired per-row loss difference; with
    ``rule="best"`` the lowest R-loss wins. List candidates in order of
    preference: at uplift signal-to-noise ratios the R-loss separates models
    whose errors differ by a few hundredths only weakly (see the docs), so the
    rule mainly guards against a first choice that is clearly wrong for an
    arm (for instance pooled control groups that do not match the arm's own).
    The returned model is refitted on all rows with the chosen settings per
    arm.

    Which rows score an arm: its experiment's rows (with ``experiment``), or
    the control and arm rows (without), so a candidate that pools the control
    groups is judged on the arm's own experiment and loses if pooling biases
    it. Pass ``base=PerTreatmentDML(pool_controls=True)`` to score on the
    pooled rows too (more precise, but it takes the exchangeability of the
    control groups for granted).

    Parameters
    ----------
    X, T, y : as in :meth:`PerTreatmentDML.fit`
    candidates : dict, optional
        Name -> settings, each a dict of ``final_stage``, ``featurizer``,
        ``pool_controls`` and ``n_repeats`` (missing keys take ``base``'s
        value), in order of preference. Defaults: ``DEFAULT_CANDIDATES``
        (``"stepwise+poly2"``, then ``"linear"``) without ``experiment``;
        ``EXPERIMENT_CANDIDATES`` (``"stepwise+poly2, pooled"``, then
        ``"linear"`` on each experiment alone) with it. ``ALL_CANDIDATES``
        lists every built-in configuration.
    control : hashable, default="control"
        Control label.
    experiment : Series or array, optional
        Experiment of each row, as in :meth:`PerTreatmentDML.fit`.
    folds : int, default=3
        Number of cross-validation folds (at least 2); every candidate is
        fitted ``folds`` times, plus once for the refit.
    base : PerTreatmentDML, optional
        Template for every other parameter (nuisance models, cv, n_jobs...);
        candidates override the settings they name.
    rule : {"1se", "best"}, default="1se"
        Selection rule, see above.
    random_state : int, RandomState or None
        Seeds the folds, the scoring nuisances and every fit.

    Returns
    -------
    model : PerTreatmentDML
        Fitted on all rows with the chosen settings per arm (dicts, or single
        values when every arm chose the same).
    scores : DataFrame
        One row per candidate; one column per arm with its cross-validated
        R-score, plus ``fit_seconds`` (mean time of one fit on a training
        part). ``scores.attrs["chosen"]`` maps each arm to the chosen name.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from upliftopt import select_cate_model
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.uniform(size=(1500, 2)), columns=["a", "b"])
    >>> T = pd.Series(rng.choice(["control", "A"], size=1500))
    >>> y = X["a"] + (T == "A") * 4 * (X["a"] - 0.5) ** 2 + rng.normal(0, 0.1, 1500)
    >>> model, scores = select_cate_model(
    ...     X, T, y, {"linear": {}, "poly2": {"featurizer": "poly2"}}, random_state=0
    ... )
    >>> model.featurizer, scores.attrs["chosen"]
    ('poly2', {'A': 'poly2'})
    """
    if isinstance(folds, (bool, np.bool_)) or not isinstance(folds, (int, np.integer)):
        raise ValueError(f"folds must be an integer >= 2; got {folds!r}")
    if folds < 2:
        raise ValueError(f"folds must be at least 2; got {folds}")
    if rule not in SELECTION_RULES:
        raise ValueError(f"rule must be one of {SELECTION_RULES}; got {rule!r}")
    if candidates is None:
        candidates = DEFAULT_CANDIDATES if experiment is None else EXPERIMENT_CANDIDATES
    if not candidates:
        raise ValueError("candidates is empty: give at least one configuration")
    for name, params in candidates.items():
        extra = set(params) - set(CANDIDATE_KEYS)
        if extra:
            raise ValueError(
                f"candidate {name!r} sets {', '.join(sorted(extra))}; candidates may set only "
                f"{', '.join(CANDIDATE_KEYS)} (put other settings on base)"
            )
    template = PerTreatmentDML() if base is None else clone(base)
    template.set_params(control=control, random_state=random_state)
    template._check_params()
    for name, params in candidates.items():
        trial = clone(template).set_params(**params)
        trial._check_params()
        stage = trial.final_stage
        stages = stage.values() if isinstance(stage, Mapping) else [stage]
        unknown = [value for value in stages if value not in FINAL_STAGES]
        if unknown:
            raise ValueError(
                f"candidate {name!r}: final_stage must be one of {FINAL_STAGES}; got {unknown[0]!r}"
            )

    # validate everything once, on the full data, before any model is built
    encoder = FeatureEncoder().fit(X)
    Xe = encoder.transform(X)
    n = Xe.shape[0]
    labels = check_treatment(T, n)
    yv = check_outcome(y, n)
    exp = None if experiment is None else check_treatment(experiment, n, name="experiment")
    arms = _arm_order(T, labels, exp, control)
    score_rows = _arm_rows(labels, exp, arms, control, template.pool_controls)
    for params in candidates.values():
        if "pool_controls" in params:
            _arm_rows(labels, exp, arms, control, params["pool_controls"])

    rng = _random_state(random_state)
    strata = (
        labels
        if exp is None
        else np.asarray([f"{e!r}|{t!r}" for e, t in zip(exp, labels, strict=True)])
    )
    fold = _fold_ids(strata, folds, rng)
    fold_seeds = rng.randint(0, np.iinfo(np.int32).max, size=folds)

    def take(data: Any, idx: np.ndarray) -> Any:
        if isinstance(data, (pd.DataFrame, pd.Series)):
            return data.iloc[idx]
        return np.asarray(data)[idx]

    # out-of-fold effects of every candidate
    effects = {name: np.full((n, len(arms)), np.nan) for name in candidates}
    seconds: dict[str, list[float]] = {name: [] for name in candidates}
    for k in range(folds):
        train, test = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
        for name, params in candidates.items():
            model = clone(template).set_params(**params, random_state=int(fold_seeds[k]))
            start = time.perf_counter()
            model.fit(
                take(X, train),
                take(T, train),
                yv[train],
                experiment=None if exp is None else exp[train],
            )
            seconds[name].append(time.perf_counter() - start)
            predicted = model.effect(take(X, test))
            for j, arm in enumerate(arms):
                if arm in predicted.columns:
                    effects[name][test, j] = predicted[arm].to_numpy()
        logger.info("fold %d/%d: fitted %d candidate(s)", k + 1, folds, len(candidates))

    arm_seeds = _arm_seeds(rng, arms)
    scores = pd.DataFrame(index=pd.Index(list(candidates), name="candidate"), dtype=float)
    best: dict[Hashable, str] = {}
    for j, arm in enumerate(arms):
        r = score_rows[arm]
        t = (labels[r] == arm).astype(np.int64)
        y_res, t_res = _scoring_residuals(template, Xe[r], t, yv[r], fold[r], arm_seeds[arm])
        # R-loss per row; the baseline is the best constant effect
        theta = float(np.dot(y_res, t_res) / np.dot(t_res, t_res))
        base_loss = float(np.mean((y_res - theta * t_res) ** 2))
        losses = {}
        for name in candidates:
            tau = effects[name][r, j]
            if np.isnan(tau).any():  # the arm was dropped in some fold's fit
                continue
            losses[name] = (y_res - tau * t_res) ** 2
            scores.loc[name, arm] = 1.0 - float(losses[name].mean()) / base_loss
        if not losses:
            raise ValueError(
                f"arm {arm!r} could not be fitted in every fold by any candidate; "
                "use fewer folds or collect more rows of it"
            )
        best[arm] = _choose(losses, rule)
    scores["fit_seconds"] = pd.Series({name: float(np.mean(s)) for name, s in seconds.items()})
    scores.attrs["chosen"] = dict(best)
    logger.info("chosen per arm: %s", best)

    final = clone(template)
    base_params = template.get_params()
    chosen_params = {}
    for key in CANDIDATE_KEYS:
        per_arm = {
            arm: candidates[best[arm]].get(key, _arm_value(base_params[key], arm, _DEFAULTS[key]))
            for arm in arms
        }
        values = list(per_arm.values())
        same = all(v is values[0] or _equal(v, values[0]) for v in values)
        chosen_params[key] = values[0] if same else per_arm
    final.set_params(**chosen_params)
    final.fit(X, T, y, experiment=experiment)
    return final, scores


def _arm_value(value: Any, arm: Hashable, default: Any) -> Any:
    if isinstance(value, Mapping):
        return value.get(arm, default)
    return value


def _equal(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def _fold_ids(strata: np.ndarray, folds: int, rng: np.random.RandomState) -> np.ndarray:
    """Stratified fold number of every row; each stratum needs at least ``folds`` rows."""
    from sklearn.model_selection import StratifiedKFold

    values, counts = np.unique(strata.astype(str), return_counts=True)
    if counts.min() < folds:
        small = values[counts < folds]
        raise ValueError(
            f"cannot split the rows into {folds} folds stratified by arm: "
            f"{', '.join(small[:5])} ha{'s' if len(small) == 1 else 've'} fewer than {folds} "
            "rows; use fewer folds or collect more data"
        )
    splitter = StratifiedKFold(
        n_splits=folds, shuffle=True, random_state=rng.randint(0, np.iinfo(np.int32).max)
    )
    fold = np.empty(len(strata), dtype=np.int64)
    for k, (_, test) in enumerate(splitter.split(np.zeros(len(strata)), strata.astype(str))):
        fold[test] = k
    return fold


def _scoring_residuals(
    template: PerTreatmentDML,
    X: np.ndarray,
    t: np.ndarray,
    y: np.ndarray,
    fold: np.ndarray,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Outcome and treatment residuals of one arm's rows, cross-fitted over ``fold``."""

    def make_y(n_train: int) -> Any:
        if template.model_y is None:
            return default_model_y(n_train, seed)
        return seeded_clone(template.model_y, seed)

    def make_t(n_train: int) -> Any:
        if template.model_t is None:
            return default_model_t(n_train, seed)
        return seeded_clone(template.model_t, seed)

    return crossfit_residuals(X, t, y, fold, make_y, make_t)


def _choose(losses: dict[str, np.ndarray], rule: str) -> str:
    names = list(losses)
    means = {name: float(loss.mean()) for name, loss in losses.items()}
    best = min(names, key=lambda name: (means[name], names.index(name)))
    if rule == "best" or best == names[0]:
        return best
    diff = losses[names[0]] - losses[best]
    se = float(diff.std(ddof=1) / np.sqrt(len(diff)))
    return best if diff.mean() > se else names[0]
