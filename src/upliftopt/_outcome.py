"""Nuisance models for policy evaluation: outcome per label and propensity.

:class:`ArmOutcomeModel`
    One regressor per treatment label (control included) predicting the
    outcome ``mu_j(x) = E[y | x, T = j]``; the doubly robust estimator of
    :func:`upliftopt.evaluate.policy_value` needs these predictions for rows the
    model was NOT fitted on.
:func:`cross_fit_outcomes`
    Out-of-fold ``mu_j(x)`` on the evaluation rows themselves, when no separate
    training half is available.
:func:`estimate_propensity`
    Cross-fitted, clipped assignment probabilities for observational data.

The input checks shared by the evaluation functions live here too, so that a
NaN, a length mismatch or an unknown label is reported the same way everywhere.
"""

from __future__ import annotations

import logging
import numbers
from collections.abc import Hashable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from . import _features

__all__ = ["ArmOutcomeModel", "cross_fit_outcomes", "estimate_propensity"]

logger = logging.getLogger(__name__)

#: Default lower clip of estimated propensities (see :func:`estimate_propensity`).
DEFAULT_CLIP = 0.01


# --------------------------------------------------------------------------
# Input checks shared with upliftopt.evaluate
# --------------------------------------------------------------------------


def check_outcome(y: Any, name: str = "y") -> tuple[np.ndarray, pd.Index | None]:
    """Return ``y`` as a finite float64 vector and its index (None for arrays)."""
    index = y.index if isinstance(y, (pd.Series, pd.DataFrame)) else None
    return _features.check_outcome(y, name=name), index


def check_labels(labels: Any, n: int, name: str = "T") -> np.ndarray:
    """Return treatment labels as an object vector of length ``n`` (no missing labels)."""
    if isinstance(labels, pd.DataFrame):
        if labels.shape[1] != 1:
            raise ValueError(f"{name} must have one column; got {labels.shape[1]}")
        labels = labels.iloc[:, 0]
    array = np.asarray(labels.to_numpy() if isinstance(labels, pd.Series) else labels, dtype=object)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one label per row); got shape {array.shape}")
    if array.shape[0] != n:
        raise ValueError(f"{name} has {array.shape[0]} rows but y has {n}")
    missing = np.flatnonzero(pd.isna(array))
    if missing.size:
        raise ValueError(
            f"{name}[{missing[0]}] is missing ({array[missing[0]]!r}); label every row"
        )
    return array


def check_features(X: Any, n: int | None = None, name: str = "X") -> pd.DataFrame | np.ndarray:
    """Check a feature matrix: 2-D, not empty, no NaN/inf (the column is named).

    DataFrames are returned unchanged (LightGBM keeps their categorical
    columns); anything else becomes a float64 array.
    """
    if isinstance(X, pd.DataFrame):
        if X.shape[0] == 0 or X.shape[1] == 0:
            raise ValueError(f"{name} is empty: shape {X.shape}")
        missing = X.isna().to_numpy()
        numeric = X.select_dtypes(include="number")
        infinite = np.zeros_like(missing)
        if numeric.shape[1]:
            cols = [X.columns.get_loc(c) for c in numeric.columns]
            infinite[:, cols] = np.isinf(numeric.to_numpy(dtype=np.float64))
        bad = np.argwhere(missing | infinite)
        if bad.size:
            i, j = bad[0]
            raise ValueError(
                f"{name} column {X.columns[j]!r} has a missing or infinite value "
                f"(row {i}: {X.iat[i, j]}); impute or drop it first"
            )
        out: pd.DataFrame | np.ndarray = X
    else:
        try:
            out = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be numeric or a DataFrame: {exc}") from None
        if out.ndim == 1:
            out = out[:, None]
        if out.ndim != 2:
            raise ValueError(f"{name} must be 2-D (rows x features); got shape {out.shape}")
        if out.shape[0] == 0 or out.shape[1] == 0:
            raise ValueError(f"{name} is empty: shape {out.shape}")
        bad = np.argwhere(~np.isfinite(out))
        if bad.size:
            i, j = bad[0]
            raise ValueError(
                f"{name} column {j} has a non-finite value (row {i}: {float(out[i, j])!r})"
            )
    if n is not None and out.shape[0] != n:
        raise ValueError(f"{name} has {out.shape[0]} rows but y has {n}")
    return out


def label_order(labels: np.ndarray) -> list[Hashable]:
    """Distinct labels, sorted when they are mutually comparable, else in order seen."""
    seen = list(pd.unique(labels))
    try:
        return sorted(seen)
    except TypeError:
        return seen


def _take_rows(X: pd.DataFrame | np.ndarray, rows: np.ndarray) -> pd.DataFrame | np.ndarray:
    return X.iloc[rows] if isinstance(X, pd.DataFrame) else X[rows]


def _seed(random_state: Any) -> int:
    """Draw one int seed from ``random_state`` (None, int or RandomState)."""
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def _check_folds(labels: np.ndarray, n_splits: Any, what: str) -> int:
    if not isinstance(n_splits, numbers.Integral) or n_splits < 2:
        raise ValueError(f"n_splits must be an integer >= 2; got {n_splits!r}")
    values, counts = np.unique(labels.astype(str), return_counts=True)
    small = counts < n_splits
    if small.any():
        k = int(np.flatnonzero(small)[0])
        raise ValueError(
            f"label {str(values[k])!r} has {counts[k]} row(s); {what} with n_splits={n_splits} "
            f"needs at least {n_splits} rows of every label"
        )
    return int(n_splits)


# --------------------------------------------------------------------------
# Outcome model
# --------------------------------------------------------------------------


def _default_regressor(random_state: int, n_jobs: int) -> Any:
    from lightgbm import LGBMRegressor

    # Small, smooth trees: the DR score only needs a decent mu, and deeper trees
    # with column subsampling fitted noise here (RMSE of mu 0.37 against 0.20).
    return LGBMRegressor(
        n_estimators=100,
        learning_rate=0.05,
        num_leaves=7,
        min_child_samples=40,
        reg_lambda=1.0,
        random_state=random_state,
        n_jobs=n_jobs,
        verbose=-1,
    )


class ArmOutcomeModel(BaseEstimator):
    """One outcome regression per treatment label: ``mu_j(x) = E[y | x, T = j]``.

    Fit it on rows that are NOT the evaluation rows (e.g. the training half of
    a split), then pass ``predict(X_eval)`` as ``outcome_predictions`` to
    :func:`upliftopt.evaluate.policy_value`: predictions fitted on the same rows
    they score would leak the noise of ``y`` into the doubly robust estimate.
    Use :func:`cross_fit_outcomes` when only the evaluation rows are available.

    Parameters
    ----------
    estimator : regressor or None, default None
        Template cloned once per label. ``None`` uses a quiet LightGBM regressor
        (100 trees, learning rate 0.05, 7 leaves, at least 40 rows per leaf,
        L2 penalty 1); a label with fewer than 80 rows cannot split, and its
        prediction is then the label's mean outcome.
    n_jobs : int, default 1
        Threads of the default LightGBM regressor.
    random_state : int, RandomState or None
        Seeds every sub-model (through its ``random_state`` parameter, when it
        has one); the same seed gives the same predictions.

    Attributes
    ----------
    labels_ : list
        Labels seen in ``T`` (sorted when comparable), control included.
    estimators_ : dict
        Fitted regressor per label.
    n_features_in_ : int
        Number of features seen in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> from upliftopt.evaluate import ArmOutcomeModel
    >>> X = np.arange(8.0).reshape(-1, 1)
    >>> T = np.array(["c", "a"] * 4)
    >>> y = np.where(T == "a", 2 * X[:, 0], X[:, 0])
    >>> model = ArmOutcomeModel(estimator=LinearRegression()).fit(X, T, y)
    >>> model.predict(np.array([[10.0]])).round(6).to_dict("records")
    [{'a': 20.0, 'c': 10.0}]
    """

    def __init__(self, *, estimator: Any = None, n_jobs: int = 1, random_state: Any = None):
        self.estimator = estimator
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(self, X: Any, T: Any, y: Any) -> ArmOutcomeModel:
        """Fit one regressor per label on that label's rows.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n, p)
            Features (no NaN or inf).
        T : array-like of shape (n,)
            Label received by each row (control included).
        y : array-like of shape (n,)
            Observed outcome.

        Returns
        -------
        self
        """
        y_arr, _ = check_outcome(y)
        T_arr = check_labels(T, y_arr.shape[0])
        X_checked = check_features(X, y_arr.shape[0])
        labels = label_order(T_arr)
        for label in labels:
            count = int(np.sum(T_arr == label))
            if count < 2:
                raise ValueError(
                    f"label {label!r} has {count} row in T; fitting its outcome model "
                    "needs at least 2"
                )
        rng = check_random_state(self.random_state)
        estimators = {}
        for label in labels:
            seed = _seed(rng)
            if self.estimator is None:
                model = _default_regressor(seed, self.n_jobs)
            else:
                model = clone(self.estimator)
                if "random_state" in model.get_params():
                    model.set_params(random_state=seed)
            rows = np.flatnonzero(T_arr == label)
            estimators[label] = model.fit(_take_rows(X_checked, rows), y_arr[rows])
        self.labels_ = labels
        self.estimators_ = estimators
        self.n_features_in_ = X_checked.shape[1]
        if isinstance(X_checked, pd.DataFrame):
            self.feature_names_in_ = np.asarray(X_checked.columns, dtype=object)
        return self

    def predict(self, X: Any) -> pd.DataFrame:
        """Predicted outcome under every label.

        Parameters
        ----------
        X : array-like or DataFrame of shape (m, p)

        Returns
        -------
        DataFrame of shape (m, L)
            Columns are ``labels_``; the index is ``X``'s when it is a DataFrame.
        """
        check_is_fitted(self, "estimators_")
        X_checked = check_features(X)
        if X_checked.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X_checked.shape[1]} features but the model was fitted "
                f"with {self.n_features_in_}"
            )
        index = X_checked.index if isinstance(X_checked, pd.DataFrame) else None
        columns = {
            label: np.asarray(self.estimators_[label].predict(X_checked), dtype=np.float64)
            for label in self.labels_
        }
        return pd.DataFrame(columns, index=index, columns=pd.Index(self.labels_, dtype=object))


def cross_fit_outcomes(
    X: Any,
    T: Any,
    y: Any,
    *,
    n_splits: int = 2,
    estimator: Any = None,
    n_jobs: int = 1,
    random_state: Any = None,
) -> pd.DataFrame:
    """Out-of-fold outcome predictions ``mu_j(x)`` for every row and label.

    The rows are split into ``n_splits`` folds, stratified by label; each
    fold's predictions come from an :class:`ArmOutcomeModel` fitted on the
    other folds, so no row's own outcome enters its prediction.

    Parameters
    ----------
    X, T, y
        Features, labels and outcomes of the evaluation rows.
    n_splits : int, default 2
        Number of folds; every label needs at least this many rows.
    estimator, n_jobs, random_state
        As in :class:`ArmOutcomeModel`; ``random_state`` also drives the split.

    Returns
    -------
    DataFrame of shape (n, L)
        Columns are the labels of ``T``; index of ``X`` when it is a DataFrame.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> from upliftopt.evaluate import cross_fit_outcomes
    >>> X = np.arange(12.0).reshape(-1, 1)
    >>> T = np.array(["c", "a"] * 6)
    >>> y = np.where(T == "a", 1 + X[:, 0], X[:, 0])
    >>> mu = cross_fit_outcomes(X, T, y, estimator=LinearRegression(), random_state=0)
    >>> np.allclose(mu["a"] - mu["c"], 1.0)
    True
    """
    from sklearn.model_selection import StratifiedKFold

    y_arr, _ = check_outcome(y)
    T_arr = check_labels(T, y_arr.shape[0])
    X_checked = check_features(X, y_arr.shape[0])
    folds = _check_folds(T_arr, n_splits, "cross-fitting outcomes")
    rng = check_random_state(random_state)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=_seed(rng))
    labels = label_order(T_arr)
    out = np.empty((y_arr.shape[0], len(labels)))
    for train, test in splitter.split(np.zeros(y_arr.shape[0]), T_arr.astype(str)):
        model = ArmOutcomeModel(estimator=estimator, n_jobs=n_jobs, random_state=_seed(rng))
        model.fit(_take_rows(X_checked, train), T_arr[train], y_arr[train])
        out[test] = model.predict(_take_rows(X_checked, test))[labels].to_numpy()
    index = X_checked.index if isinstance(X_checked, pd.DataFrame) else None
    return pd.DataFrame(out, index=index, columns=pd.Index(labels, dtype=object))


# --------------------------------------------------------------------------
# Propensity model
# --------------------------------------------------------------------------


def _propensity_classifier(model: Any, random_state: int, n_jobs: int) -> Any:
    if model == "logistic":
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))
    if model == "lightgbm":
        from lightgbm import LGBMClassifier

        return LGBMClassifier(
            n_estimators=100,
            learning_rate=0.05,
            num_leaves=15,
            min_child_samples=20,
            random_state=random_state,
            n_jobs=n_jobs,
            verbose=-1,
        )
    if isinstance(model, str) or not hasattr(model, "predict_proba"):
        raise ValueError(
            "model must be 'logistic', 'lightgbm' or a classifier with predict_proba; "
            f"got {model!r}"
        )
    estimator = clone(model)
    if "random_state" in estimator.get_params():
        estimator.set_params(random_state=random_state)
    return estimator


def estimate_propensity(
    X: Any,
    T: Any,
    *,
    model: Any = "logistic",
    n_splits: int = 5,
    clip: float = DEFAULT_CLIP,
    n_jobs: int = 1,
    random_state: Any = None,
) -> pd.DataFrame:
    """Cross-fitted, clipped probabilities of each label given the features.

    For observational data, where assignment probabilities are unknown. Each
    row's probabilities come from a classifier fitted on the other folds
    (stratified by label), so the estimate does not overfit the row's own label.

    Parameters
    ----------
    X : array-like or DataFrame of shape (n, p)
        Features (no NaN or inf). ``"logistic"`` needs numeric columns.
    T : array-like of shape (n,)
        Label received by each row, control included.
    model : {"logistic", "lightgbm"} or classifier, default "logistic"
        ``"logistic"``: standardised multinomial logistic regression.
        ``"lightgbm"``: a small quiet LightGBM classifier. A classifier with
        ``predict_proba`` is cloned per fold.
    n_splits : int, default 5
        Number of cross-fitting folds; every label needs at least this many rows.
    clip : float, default 0.01
        Lower clip of every probability: values below ``clip`` are raised to
        ``clip`` (rows are NOT renormalised). This bounds inverse propensity
        weights by ``1 / clip`` (100 by default), trading a little bias for a
        large cut in variance when some customers almost never get some label.
        Must lie in [0, 1 / L) for L labels; 0 disables clipping, but then a
        probability of exactly 0 makes :func:`~upliftopt.evaluate.policy_value`
        raise.
    n_jobs : int, default 1
        Threads of the LightGBM classifier.
    random_state : int, RandomState or None
        Seeds the fold split and the classifier.

    Returns
    -------
    DataFrame of shape (n, L)
        One column per label (sorted when comparable); index of ``X`` when it
        is a DataFrame. Pass it as ``propensity`` to the evaluation functions.

    Examples
    --------
    >>> import numpy as np
    >>> from upliftopt.evaluate import estimate_propensity
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 2))
    >>> T = np.where(rng.random(300) < 0.5, "ctrl", "offer")
    >>> e = estimate_propensity(X, T, random_state=0)
    >>> list(e.columns), e.shape, bool(abs(e["offer"].mean() - 0.5) < 0.1)
    (['ctrl', 'offer'], (300, 2), True)
    """
    from sklearn.model_selection import StratifiedKFold

    X_checked = check_features(X)
    n = X_checked.shape[0]
    T_arr = check_labels(T, n)
    labels = label_order(T_arr)
    if len(labels) < 2:
        raise ValueError(f"T has a single label {labels[0]!r}; a propensity needs at least two")
    try:
        clip_value = float(clip)
    except (TypeError, ValueError):
        raise ValueError(f"clip must be a number; got {clip!r}") from None
    if not 0.0 <= clip_value < 1.0 / len(labels):
        raise ValueError(
            f"clip must lie in [0, 1/{len(labels)}) for {len(labels)} labels; got {clip!r}"
        )
    if model == "logistic" and isinstance(X_checked, pd.DataFrame):
        try:
            X_checked = X_checked.to_numpy(dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                "model='logistic' needs numeric features; encode categorical columns "
                "or use model='lightgbm'"
            ) from None
    folds = _check_folds(T_arr, n_splits, "cross-fitting the propensity")
    rng = check_random_state(random_state)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=_seed(rng))
    # Integer codes keep the classifier's column order equal to `labels`.
    codes = pd.Index(labels, dtype=object).get_indexer(T_arr)
    out = np.empty((n, len(labels)))
    for train, test in splitter.split(np.zeros(n), codes):
        classifier = _propensity_classifier(model, _seed(rng), n_jobs)
        classifier.fit(_take_rows(X_checked, train), codes[train])
        proba = classifier.predict_proba(_take_rows(X_checked, test))
        out[test] = proba  # every label is in every training fold (stratified)
    low = out < clip_value
    if low.any():
        logger.info(
            "estimate_propensity: clipped %d of %d probabilities up to %g",
            int(low.sum()),
            low.size,
            clip_value,
        )
    out = np.maximum(out, clip_value)
    index = X.index if isinstance(X, pd.DataFrame) else None
    return pd.DataFrame(out, index=index, columns=pd.Index(labels, dtype=object))
