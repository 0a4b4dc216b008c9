"""Default nuisance models (outcome and propensity) for the per-arm DML fits.

econml's ``'auto'`` nuisances run a model search over forests and
cross-validated linear models; measured here they were ~50 times slower than
LightGBM for the same CATE accuracy, so upliftopt always passes explicit
models. The defaults are quiet LightGBM models whose leaf sizes shrink with
the number of rows each fold trains on: with LightGBM's own defaults
(``min_child_samples=20``, 31 leaves) a 30-row fit with 3 folds trains on 20
rows, cannot make a single split and predicts a constant.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.base import clone

#: Largest minimum number of rows per leaf (reached from 400 training rows on).
MAX_MIN_CHILD_SAMPLES = 40
#: Largest number of leaves per tree.
MAX_NUM_LEAVES = 15


def lightgbm_params(n_train: int, random_state: int | None, n_jobs: int = 1) -> dict[str, Any]:
    """LightGBM settings adapted to a training fold of ``n_train`` rows.

    Uplift outcomes are noisy, so leaves are larger and trees smaller than
    LightGBM's defaults: at most 15 leaves of at least 40 rows, 100 trees,
    learning rate 0.1. Measured on 25 randomised 600-row data sets this lowered
    the CATE error (RMSE 0.177 -> 0.163) and raised the coverage of 95 %
    intervals (0.87 -> 0.91); on the 10,000-row benchmark accuracy was
    unchanged. ``min_child_samples`` is ``n_train // 10`` clipped to [2, 40]
    and ``num_leaves`` is capped so that every leaf can still hold that many
    rows; ``min_data_in_bin`` shrinks likewise so that tiny samples still get
    several candidate split points.
    """
    min_child = int(min(MAX_MIN_CHILD_SAMPLES, max(2, n_train // 10)))
    num_leaves = int(min(MAX_NUM_LEAVES, max(2, n_train // min_child)))
    return {
        "n_estimators": 100,
        "learning_rate": 0.1,
        "num_leaves": num_leaves,
        "min_child_samples": min_child,
        "min_data_in_bin": int(min(3, max(1, n_train // 20))),
        "verbose": -1,
        "n_jobs": n_jobs,
        "random_state": random_state,
    }


def default_model_y(n_train: int, random_state: int | None, n_jobs: int = 1) -> Any:
    """Quiet LightGBM regressor for the outcome model E[y | X]."""
    from lightgbm import LGBMRegressor

    return LGBMRegressor(**lightgbm_params(n_train, random_state, n_jobs))


def default_model_t(n_train: int, random_state: int | None, n_jobs: int = 1) -> Any:
    """Quiet LightGBM classifier for the propensity model P(arm | X)."""
    from lightgbm import LGBMClassifier

    return LGBMClassifier(**lightgbm_params(n_train, random_state, n_jobs))


def seeded_clone(model: Any, random_state: int | None) -> Any:
    """Clone a user model and give it ``random_state`` when it has none of its own.

    An explicit seed the user set on the model is respected; a model without a
    ``random_state`` parameter is cloned unchanged.
    """
    fresh = clone(model)
    params = fresh.get_params(deep=False)
    if "random_state" in params and params["random_state"] is None:
        fresh.set_params(random_state=random_state)
    return fresh


def crossfit_residuals(
    X: np.ndarray,
    t: np.ndarray,
    y: np.ndarray,
    fold: np.ndarray,
    make_model_y: Callable[[int], Any],
    make_model_t: Callable[[int], Any],
) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold outcome and treatment residuals ``y - m(x)`` and ``t - e(x)``.

    Parameters
    ----------
    X : array of shape (n, d)
        Encoded features.
    t : array of shape (n,)
        Binary treatment indicator (0 = control, 1 = arm).
    y : array of shape (n,)
        Outcome.
    fold : array of shape (n,)
        Fold number of each row; row ``i`` is predicted by models fitted on
        the rows of the other folds.
    make_model_y, make_model_t : callable
        ``make(n_train)`` returns a fresh, unfitted regressor (outcome) or
        classifier (propensity) for a training part of ``n_train`` rows.

    Returns
    -------
    y_res, t_res : arrays of shape (n,)
    """
    y_res = np.empty(len(y))
    t_res = np.empty(len(t))
    for k in np.unique(fold):
        test = fold == k
        train = ~test
        n_train = int(train.sum())
        model_y = make_model_y(n_train).fit(X[train], y[train])
        model_t = make_model_t(n_train).fit(X[train], t[train])
        y_res[test] = y[test] - model_y.predict(X[test])
        t_res[test] = t[test] - model_t.predict_proba(X[test])[:, 1]
    return y_res, t_res
