"""Validation and encoding of features, treatments and outcomes for CATE models.

Everything here runs before any model is built, so that a NaN, an unseen
category or a length mismatch surfaces as a ``ValueError`` naming the argument,
the column and the row instead of a stack trace from deep inside econml.

Encoding rules (learned at fit, reused unchanged at predict time):

* numeric and boolean columns are used as float64;
* categorical, object and string columns are one-hot encoded against the
  levels seen in training, *by label* (never by pandas category code), with the
  first training level as the reference (dropped) so that the dummies are not
  collinear with the intercept of a linear final stage;
* a level never seen in training raises a ``ValueError`` naming the column and
  the level: it is never mapped onto another level, nor onto the reference.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.linalg
from sklearn.base import BaseEstimator, TransformerMixin, clone
from threadpoolctl import threadpool_limits

#: Relative tolerance of the pivoted-QR rank test on standardised features.
RANK_RTOL = 1e-9


def _row_label(index: pd.Index | None, position: int) -> str:
    if index is None:
        return f"row {position}"
    label = index[position]
    label = label.item() if isinstance(label, np.generic) else label  # 7, not np.int64(7)
    return f"row {position} (index {label!r})"


def _describe(value: float) -> str:
    return "NaN" if math.isnan(value) else repr(float(value))


def _is_categorical(series: pd.Series) -> bool:
    return not (
        pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype)
    ) or isinstance(series.dtype, pd.CategoricalDtype)


@dataclass
class _Column:
    name: Hashable
    levels: tuple | None = None  # training levels of a categorical column, reference first


@dataclass
class FeatureEncoder:
    """Learn the feature layout of a training frame and encode frames the same way.

    Attributes
    ----------
    columns : list
        One entry per input column, with the training levels of categorical ones.
    from_frame : bool
        Whether training ``X`` was a DataFrame (names are then checked at predict time).
    """

    columns: list[_Column] = field(default_factory=list)
    from_frame: bool = False

    @property
    def n_features_in(self) -> int:
        """Number of input columns."""
        return len(self.columns)

    @property
    def feature_names_in(self) -> np.ndarray | None:
        """Input column names, or None when training ``X`` was an array."""
        if not self.from_frame:
            return None
        return np.asarray([c.name for c in self.columns], dtype=object)

    def encoded_names(self) -> list[str]:
        """Names of the encoded (model-facing) columns."""
        names: list[str] = []
        for col in self.columns:
            if col.levels is None:
                names.append(str(col.name))
            else:
                names.extend(f"{col.name}={level}" for level in col.levels[1:])
        return names

    def fit(self, X: Any) -> FeatureEncoder:
        """Learn column names, kinds and categorical levels from training ``X``."""
        frame = _as_frame(X, "X")
        self.from_frame = isinstance(X, pd.DataFrame)
        _check_column_names(frame)
        self.columns = []
        for name in frame.columns:
            series = frame[name]
            if pd.api.types.is_datetime64_any_dtype(
                series.dtype
            ) or pd.api.types.is_timedelta64_dtype(series.dtype):
                raise ValueError(
                    f"X column {name!r} has dtype {series.dtype}; convert dates and durations "
                    "to numbers (e.g. days since an origin) before fitting"
                )
            if _is_categorical(series):
                _check_no_missing_labels(series, name, frame.index if self.from_frame else None)
                self.columns.append(_Column(name, _training_levels(series)))
            else:
                self.columns.append(_Column(name))
        return self

    def transform(self, X: Any, name: str = "X") -> np.ndarray:
        """Validate ``X`` against the training layout and encode it as float64."""
        frame = _as_frame(X, name)
        index = frame.index if isinstance(X, pd.DataFrame) else None
        if isinstance(X, pd.DataFrame) and self.from_frame:
            expected = [c.name for c in self.columns]
            missing = [c for c in expected if c not in frame.columns]
            extra = [c for c in frame.columns if c not in expected]
            if missing or extra:
                parts = []
                if missing:
                    parts.append(f"missing column(s) {', '.join(map(repr, missing))}")
                if extra:
                    parts.append(f"unexpected column(s) {', '.join(map(repr, extra))}")
                raise ValueError(
                    f"{name} does not have the columns seen at fit: {'; '.join(parts)}"
                )
            frame = frame[expected]  # by name: column order may differ from training
        elif frame.shape[1] != self.n_features_in:
            raise ValueError(
                f"{name} has {frame.shape[1]} feature(s), but the model was fitted with "
                f"{self.n_features_in}"
            )
        blocks = []
        for position, col in enumerate(self.columns):
            series = frame.iloc[:, position]
            if col.levels is None:
                blocks.append(_numeric_column(series, col.name, index, name)[:, None])
            else:
                blocks.append(_one_hot(series, col, index, name))
        if not blocks:
            return np.empty((frame.shape[0], 0))
        return np.hstack(blocks)

    def fit_transform(self, X: Any) -> np.ndarray:
        """Fit on ``X`` and encode it."""
        return self.fit(X).transform(X)


def _as_frame(X: Any, name: str) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        frame = X
    elif isinstance(X, pd.Series):
        raise ValueError(f"{name} must be 2-D (rows x features); got a Series")
    else:
        array = np.asarray(X)
        if array.ndim != 2:
            raise ValueError(f"{name} must be 2-D (rows x features); got {array.ndim} dimension(s)")
        frame = pd.DataFrame(array)
    if frame.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has no rows")
    if frame.shape[1] == 0:
        raise ValueError(f"{name} has no feature columns")
    return frame


def _check_column_names(frame: pd.DataFrame) -> None:
    if frame.columns.has_duplicates:
        dupes = sorted({repr(c) for c in frame.columns[frame.columns.duplicated()]})
        raise ValueError(f"X has duplicate column names: {', '.join(dupes)}")


def _training_levels(series: pd.Series) -> tuple:
    present = pd.unique(series.to_numpy(dtype=object))
    if isinstance(series.dtype, pd.CategoricalDtype):
        # keep the dtype's category order, restricted to the levels actually seen
        seen = set(present)
        return tuple(level for level in series.dtype.categories if level in seen)
    try:
        return tuple(sorted(present))
    except TypeError:  # mixed, unorderable labels: keep first-appearance order
        return tuple(present)


def _check_no_missing_labels(series: pd.Series, column: Hashable, index: pd.Index | None) -> None:
    missing = np.flatnonzero(pd.isna(series.to_numpy(dtype=object)))
    if missing.size:
        raise ValueError(
            f"X column {column!r} has a missing value at {_row_label(index, int(missing[0]))}; "
            "features must not contain NaN"
        )


def _numeric_column(
    series: pd.Series, column: Hashable, index: pd.Index | None, name: str
) -> np.ndarray:
    if _is_categorical(series):
        raise ValueError(
            f"{name} column {column!r} was numeric at fit but now has dtype {series.dtype}"
        )
    try:
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} column {column!r} is not numeric: {exc}") from None
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"{name} column {column!r} is {_describe(values[i])} at {_row_label(index, i)}; "
            "features must be finite"
        )
    return values


def _one_hot(series: pd.Series, col: _Column, index: pd.Index | None, name: str) -> np.ndarray:
    labels = series.to_numpy(dtype=object)
    _check_no_missing_labels(series, col.name, index)
    levels = col.levels or ()
    lookup = {level: j for j, level in enumerate(levels)}
    codes = np.fromiter((lookup.get(v, -1) for v in labels), dtype=np.int64, count=len(labels))
    unseen = np.flatnonzero(codes < 0)
    if unseen.size:
        i = int(unseen[0])
        raise ValueError(
            f"{name} column {col.name!r} has level {labels[i]!r} at {_row_label(index, i)}, "
            f"which was not seen at fit (known levels: {', '.join(map(repr, levels))}); "
            "unseen levels are not mapped onto another level"
        )
    dummies = np.zeros((len(labels), max(len(levels) - 1, 0)))
    rows = np.flatnonzero(codes > 0)
    dummies[rows, codes[rows] - 1] = 1.0
    return dummies


def check_same_rows(X: Any, other: Any, name: str) -> None:
    """Refuse pandas inputs whose row index disagrees with ``X``'s.

    Rows are matched by position; a ``T`` or ``y`` whose index is ``X``'s in
    another order (or another index altogether) would silently pair rows
    wrongly, so it is an error. Arrays are taken by position.
    """
    if not isinstance(X, pd.DataFrame) or not isinstance(other, pd.Series | pd.DataFrame):
        return
    if len(other.index) == len(X.index) and not other.index.equals(X.index):
        raise ValueError(
            f"{name}'s index does not match X's index (rows are paired by position); "
            f"align them, e.g. {name}.loc[X.index], or pass arrays"
        )


def check_treatment(T: Any, n: int | None = None, name: str = "T") -> np.ndarray:
    """Return treatment labels as a 1-D object array; reject missing labels."""
    if isinstance(T, pd.DataFrame):
        if T.shape[1] != 1:
            raise ValueError(f"{name} must be one column of labels; got {T.shape[1]} columns")
        T = T.iloc[:, 0]
    index = T.index if isinstance(T, pd.Series) else None
    labels = np.asarray(T, dtype=object)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one label per row); got shape {labels.shape}")
    if labels.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has no rows")
    if n is not None and labels.shape[0] != n:
        raise ValueError(f"{name} has {labels.shape[0]} rows but X has {n}")
    missing = np.flatnonzero(pd.isna(labels))
    if missing.size:
        raise ValueError(f"{name} has a missing label at {_row_label(index, int(missing[0]))}")
    return labels


def check_outcome(y: Any, n: int | None = None, name: str = "y") -> np.ndarray:
    """Return ``y`` as a finite float64 vector (of length ``n`` when given), a copy.

    An (n, 1) DataFrame or array is accepted and flattened.
    """
    index = y.index if isinstance(y, (pd.Series, pd.DataFrame)) else None
    if isinstance(y, pd.DataFrame):
        if y.shape[1] != 1:
            raise ValueError(
                f"{name} must be a single outcome; got a DataFrame with {y.shape[1]} columns"
            )
        y = y.iloc[:, 0]
    try:
        values = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric: {exc}") from None
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise ValueError(
            f"{name} must be a single outcome (1-D or n x 1); got shape {values.shape}"
        )
    if values.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has no rows")
    if n is not None and values.shape[0] != n:
        raise ValueError(f"{name} has {values.shape[0]} rows but X has {n}")
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"{name} is {_describe(values[i])} at {_row_label(index, i)}; {name} must be finite"
        )
    return values.copy()


def collinear_columns(F: np.ndarray, rtol: float = RANK_RTOL) -> list[int]:
    """Columns of ``F`` that are constant or linear combinations of earlier ones.

    The test includes an intercept: columns are centred, scaled to unit norm,
    and a column-pivoted QR decomposition finds the numerical rank. Dropping
    the returned columns leaves ``[1, F]`` with full column rank (when there are
    more rows than remaining columns).
    """
    n, p = F.shape
    if p == 0:
        return []
    centred = F - F.mean(axis=0)
    norms = np.linalg.norm(centred, axis=0)
    scale = max(float(norms.max()), 1.0)
    constant = norms <= rtol * scale * math.sqrt(n) + 1e-300
    drop = set(np.flatnonzero(constant).tolist())
    keep = np.flatnonzero(~constant)
    if keep.size:
        Z = centred[:, keep] / norms[keep]
        # pivoting prefers earlier columns on ties, so an exact duplicate loses to its original
        _, R, piv = scipy.linalg.qr(Z, mode="economic", pivoting=True)
        diag = np.abs(np.diag(R))
        rank = int((diag > rtol * max(diag[0], 1e-300) * max(Z.shape)).sum()) if diag.size else 0
        drop.update(int(keep[j]) for j in piv[rank:])
    return sorted(drop)


#: Most terms :func:`forward_stepwise` adds before it stops looking.
MAX_STEPWISE_TERMS = 40


def forward_stepwise(
    F: np.ndarray,
    y_res: np.ndarray,
    t_res: np.ndarray,
    penalty: float | None = None,
    max_terms: int = MAX_STEPWISE_TERMS,
    rtol: float = RANK_RTOL,
) -> list[int]:
    """Columns of ``F`` chosen for a linear R-learner final stage by forward stepwise BIC.

    The final stage of a linear DML model regresses the outcome residual on
    ``t_res * [1, F]``. Starting from the constant effect (always kept), each
    step adds the column that most reduces the residual sum of squares; the
    path stops after ``max_terms`` columns (or fewer when the rows run out),
    and the prefix with the lowest ``n log(RSS / n) + penalty * k`` wins.

    Parameters
    ----------
    F : array of shape (n, p)
        Candidate final-stage features (e.g. all squares and pairwise products).
    y_res, t_res : arrays of shape (n,)
        Cross-fitted outcome and treatment residuals.
    penalty : float, optional
        Cost of one more column; default ``log(n)`` (BIC).
    max_terms : int
        Longest path examined.
    rtol : float
        A column whose part not explained by the columns already chosen has
        less than ``rtol`` of its norm left is skipped (constant, duplicate or
        collinear columns are never chosen).

    Returns
    -------
    list of int
        Positions of the chosen columns, in increasing order.
    """
    F = np.asarray(F, dtype=np.float64)
    y_res = np.asarray(y_res, dtype=np.float64)
    t_res = np.asarray(t_res, dtype=np.float64)
    n, p = F.shape
    penalty = math.log(n) if penalty is None else float(penalty)
    tt = float(t_res @ t_res)
    if p == 0 or n < 3 or tt <= 0.0:
        return []
    # partial out the unpenalised constant effect (the t_res column), Frisch-Waugh-Lovell
    Z = (F - F.mean(axis=0)) * t_res[:, None]
    Z -= np.outer(t_res, (t_res @ Z) / tt)
    r = y_res - t_res * float(t_res @ y_res) / tt
    start = np.einsum("ij,ij->j", Z, Z)
    usable = start > (rtol * max(float(start.max()), 1e-300))
    steps = int(min(max_terms, usable.sum(), n - 2))
    chosen: list[int] = []
    rss = [max(float(r @ r), 1e-300)]
    norms = start.copy()
    # many small matrix-vector products: extra BLAS threads only contend here
    with threadpool_limits(limits=1, user_api="blas"):
        for _ in range(steps):
            open_ = usable & (norms > rtol * start)
            if chosen:
                open_[chosen] = False
            if not open_.any():
                break
            gain = np.where(open_, (Z.T @ r) ** 2 / np.where(open_, norms, 1.0), -1.0)
            j = int(np.argmax(gain))  # ties: lowest column
            q = Z[:, j] / math.sqrt(norms[j])
            r = r - q * float(q @ r)
            proj = q @ Z
            Z -= np.outer(q, proj)  # modified Gram-Schmidt: the rest stays orthogonal to q
            norms = np.maximum(norms - proj**2, 0.0)
            chosen.append(j)
            rss.append(max(float(r @ r), 1e-300))
    crit = [n * math.log(value / n) + penalty * k for k, value in enumerate(rss)]
    best = int(np.argmin(crit))  # first minimum: the shorter model on ties
    return sorted(chosen[:best])


class ColumnSubset(TransformerMixin, BaseEstimator):
    """Apply ``features`` (or nothing), then keep only the columns in ``keep``.

    Used as the final-stage featurizer after collinear columns were found, so
    that econml's own fit and predict see exactly the same reduced design.

    Parameters
    ----------
    features : transformer or None
        Featurizer applied first (cloned and refit by econml), or None.
    keep : sequence of int
        Positions of the columns to keep, in the featurized output.
    """

    def __init__(self, features: Any = None, keep: Sequence[int] = ()) -> None:
        self.features = features
        self.keep = keep

    def fit(self, X: np.ndarray, y: Any = None) -> ColumnSubset:
        """Fit a copy of the inner featurizer, if any."""
        self.features_ = None if self.features is None else clone(self.features).fit(X)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Featurize and select the kept columns."""
        F = X if self.features_ is None else self.features_.transform(X)
        return np.asarray(F)[:, list(self.keep)]


def warn_once(message: str, stacklevel: int = 3) -> None:
    """Emit one ``UserWarning``; ``stacklevel`` counts from this function."""
    warnings.warn(message, UserWarning, stacklevel=stacklevel + 1)
