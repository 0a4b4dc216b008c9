"""How good is an allocation? Exact scores on synthetic data, estimates on real data.

Synthetic data (the true effect ``tau`` of every arm for every customer is known):

:func:`true_value`
    Net value of an allocation under the true effects.
:func:`oracle_allocation`
    The best allocation on the true effects (the exact solver on ``tau``).
:func:`regret`
    How far an allocation falls short of the oracle, absolutely and relatively.

Real data (held-out rows of an experiment, or observational data):

:func:`policy_value`
    Value of a policy by inverse propensity weighting (IPW) or doubly robust
    (AIPW) scores, with a standard error and a confidence interval.
:func:`compare_policies`
    Paired difference of two policies on the same rows, with its standard
    error, z statistic, two-sided p-value and confidence interval.
:func:`qini_curve`, :func:`uplift_curve`, :func:`qini_auc`, :func:`uplift_auc`
    Ranking quality of one arm's scores against control.
:func:`policy_gain_curve`
    Cumulative gain of a multi-arm allocation, targeting its customers in
    priority order.

Nuisance models for the real-data estimators: :class:`ArmOutcomeModel`,
:func:`cross_fit_outcomes` and :func:`estimate_propensity`.

Conventions shared by the real-data functions: ``y`` and ``T`` are the outcome
and the label each row actually received (``control`` included); a *policy* is
an :class:`~upliftopt.Allocation` (its untreated customers get ``control``), a
sequence of labels (``None``/NaN means ``control``) or one label for everyone.
Pandas inputs must share ``y``'s index; arrays are aligned by position.
Every function validates before computing and never modifies its inputs.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from ._outcome import (
    ArmOutcomeModel,
    check_labels,
    check_outcome,
    cross_fit_outcomes,
    estimate_propensity,
    label_order,
)
from ._problem import _check_costs, make_problem
from .allocation import Allocation, allocate

__all__ = [
    "ArmOutcomeModel",
    "PolicyComparison",
    "PolicyValue",
    "Regret",
    "compare_policies",
    "cross_fit_outcomes",
    "estimate_propensity",
    "oracle_allocation",
    "policy_gain_curve",
    "policy_value",
    "qini_auc",
    "qini_curve",
    "regret",
    "true_value",
    "uplift_auc",
    "uplift_curve",
]

#: Accepted values of ``method`` for the policy estimators.
POLICY_METHODS = ("dr", "ipw")

# Probabilities a hair above 1 (from float sums) are accepted as 1.
_PROB_TOL = 1e-9


def _readonly(array: np.ndarray) -> np.ndarray:
    array = np.array(array, dtype=np.float64, copy=True)
    array.flags.writeable = False
    return array


def _check_index(obj: Any, reference: pd.Index | None, name: str, ref_name: str = "y") -> None:
    """Refuse pandas inputs whose index differs from the reference index."""
    if reference is None or not isinstance(obj, pd.Series | pd.DataFrame):
        return
    if not obj.index.equals(reference):
        raise ValueError(
            f"{name}'s index does not match {ref_name}'s index; align them first "
            "(or pass plain arrays, which are aligned by position)"
        )


# --------------------------------------------------------------------------
# Synthetic data: true value, oracle, regret
# --------------------------------------------------------------------------


def _check_allocation(allocation: Any, name: str = "allocation") -> Allocation:
    if not isinstance(allocation, Allocation):
        raise TypeError(
            f"{name} must be an upliftopt.Allocation (from allocate()); "
            f"got {type(allocation).__name__}"
        )
    return allocation


def _tau_frame(tau: Any, arms: tuple, n: int, index: pd.Index | None) -> pd.DataFrame:
    """``tau`` as an (n, K) DataFrame with columns in ``arms`` order, checked."""
    if isinstance(tau, pd.Series):
        tau = tau.to_frame()
    if isinstance(tau, pd.DataFrame):
        columns = list(tau.columns)
        if len(columns) != len(arms) or set(columns) != set(arms):
            raise ValueError(
                f"tau columns {columns!r} do not match the allocation's arms {list(arms)!r}"
            )
        if index is not None and not tau.index.equals(index):
            if tau.index.is_unique and index.is_unique and set(tau.index) == set(index):
                tau = tau.loc[index]  # same customers, other order: align by label
            else:
                raise ValueError(
                    "tau's index does not hold the allocation's customers; align them "
                    "(or pass tau.to_numpy() to align by position)"
                )
        array = tau[list(arms)].to_numpy(dtype=np.float64)
    else:
        try:
            array = np.asarray(tau, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"tau must be numeric: {exc}") from None
        if array.ndim == 1 and len(arms) == 1:
            array = array[:, None]
        if array.ndim != 2 or array.shape[1] != len(arms):
            raise ValueError(
                f"tau has shape {array.shape}; expected (n, {len(arms)}) with columns in the "
                f"allocation's arm order {list(arms)!r}"
            )
    if array.shape[0] != n:
        raise ValueError(f"tau has {array.shape[0]} rows but the allocation has {n} customers")
    bad = np.argwhere(~np.isfinite(array))
    if bad.size:
        i, j = bad[0]
        raise ValueError(
            f"tau[{i}, {j}] (arm {arms[j]!r}) is {float(array[i, j])!r}; tau must be finite"
        )
    return pd.DataFrame(array, columns=pd.Index(arms, dtype=object))


def _costs_rows(costs: Any, index: pd.Index | None) -> Any:
    """Align a per-customer cost DataFrame to the allocation's customers."""
    if isinstance(costs, pd.DataFrame) and index is not None and not costs.index.equals(index):
        raise ValueError("costs' index does not match the allocation's customers")
    return costs


def true_value(allocation: Allocation, tau: Any, costs: Any) -> float:
    """Net value of an allocation under the true effects.

    ``sum over treated customers i of tau[i, arm_i] - costs[i, arm_i]``; an
    untreated customer adds 0.

    Parameters
    ----------
    allocation : Allocation
        The decision to score.
    tau : DataFrame or array-like of shape (n, K)
        True effect of every arm for every customer. A DataFrame is matched to
        ``allocation.arms`` by column label (any column order; a missing or extra
        arm raises) and, when the allocation kept an index, by row label; an
        array must follow ``allocation.arms``' order.
    costs : float, array-like of shape (K,), mapping {arm: cost}, or (n, K)
        True cost of each arm, in any form :func:`~upliftopt.allocate` accepts.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> from upliftopt import allocate
    >>> from upliftopt.evaluate import true_value
    >>> estimated = np.array([[3.0, 1.0], [0.5, 2.0], [0.1, 0.2]])
    >>> result = allocate(estimated, costs=1.0, method="greedy")
    >>> result.assignment.tolist()
    [0, 1, -1]
    >>> tau = np.array([[2.5, 1.0], [0.5, 0.5], [3.0, 3.0]])
    >>> true_value(result, tau, costs=1.0)  # (2.5 - 1) + (0.5 - 1)
    1.0
    """
    allocation = _check_allocation(allocation)
    frame = _tau_frame(tau, allocation.arms, allocation.n_customers, allocation.index)
    problem = make_problem(frame, _costs_rows(costs, allocation.index), None, math.inf)
    treated = np.flatnonzero(allocation.assignment >= 0)
    arm = allocation.assignment[treated]
    net = problem.values[treated, arm] - problem.costs[treated, arm]
    return float(net.sum())


def oracle_allocation(
    tau: Any,
    costs: Any,
    *,
    min_budget: float | None = None,
    max_budget: float = math.inf,
    method: str = "auto",
    time_limit: float | None = None,
) -> Allocation:
    """Best allocation on the true effects: :func:`~upliftopt.allocate` on ``tau``.

    Parameters
    ----------
    tau : DataFrame or array-like of shape (n, K)
        True effect of every arm for every customer (columns are the arms).
    costs : float, array-like, mapping or (n, K)
        True costs, as for :func:`~upliftopt.allocate`.
    min_budget, max_budget : float
        The spend window.
    method : str, default "auto"
        Solver; keep ``"auto"`` (exact) for a proven optimum. ``"scip"`` is
        exact too but slower.
    time_limit : float or None
        Passed to :func:`~upliftopt.allocate`.

    Returns
    -------
    Allocation
        Its ``objective`` is the oracle's true net value.

    Examples
    --------
    >>> from upliftopt.evaluate import oracle_allocation
    >>> tau = [[3.0, 1.0], [2.0, 2.5], [0.5, 0.2]]
    >>> oracle = oracle_allocation(tau, costs=[1.0, 1.5], max_budget=2.0, method="scip")
    >>> oracle.assignment.tolist(), round(oracle.objective, 6)
    ([0, 0, -1], 3.0)
    """
    return allocate(
        tau,
        costs,
        min_budget=min_budget,
        max_budget=max_budget,
        method=method,
        time_limit=time_limit,
    )


@dataclass(frozen=True, eq=False)
class Regret:
    """Shortfall of an allocation against the oracle; see :func:`regret`.

    Attributes
    ----------
    value : float
        True net value of the allocation (:func:`true_value`).
    oracle_value : float
        True net value of the oracle allocation under the same budget window.
    absolute : float
        ``oracle_value - value``. Non-negative when the allocation respects the
        window under the true costs; it can be negative only when it was made
        with other (e.g. estimated) costs and spends outside the window.
    relative : float
        ``absolute / |oracle_value|``; 0 when both are 0, NaN when only the
        oracle value is 0.
    oracle : Allocation
        The oracle allocation.
    """

    value: float
    oracle_value: float
    absolute: float
    relative: float
    oracle: Allocation

    def __repr__(self) -> str:
        return (
            f"Regret(value={self.value:.6g}, oracle_value={self.oracle_value:.6g}, "
            f"absolute={self.absolute:.6g}, relative={self.relative:.4%})"
        )


def regret(
    allocation: Allocation,
    tau: Any,
    costs: Any,
    *,
    oracle: Allocation | None = None,
    method: str = "auto",
    time_limit: float | None = None,
) -> Regret:
    """Absolute and relative regret of an allocation against the oracle.

    The oracle solves the same budget window as ``allocation``
    (``allocation.min_budget``, ``allocation.max_budget``) on the true effects.

    Parameters
    ----------
    allocation : Allocation
        The decision to score, usually made on estimated effects.
    tau : DataFrame or array-like of shape (n, K)
        True effects, matched to the arms as in :func:`true_value`.
    costs : float, array-like, mapping or (n, K)
        True costs.
    oracle : Allocation, optional
        A precomputed :func:`oracle_allocation` (saves a solve when scoring many
        allocations). Its value is recomputed from ``tau`` and ``costs``.
    method, time_limit
        Passed to :func:`oracle_allocation` when ``oracle`` is None.

    Returns
    -------
    Regret

    Examples
    --------
    >>> import numpy as np
    >>> from upliftopt import allocate
    >>> from upliftopt.evaluate import regret
    >>> estimated = np.array([[3.0, 1.0], [0.5, 2.0], [0.1, 0.2]])
    >>> tau = np.array([[2.5, 1.0], [0.5, 0.5], [3.0, 3.0]])
    >>> result = allocate(estimated, costs=1.0, max_budget=2.0, method="greedy")
    >>> r = regret(result, tau, costs=1.0, method="scip")
    >>> r.value, r.oracle_value, r.absolute, round(r.relative, 4)
    (1.0, 3.5, 2.5, 0.7143)
    """
    allocation = _check_allocation(allocation)
    value = true_value(allocation, tau, costs)
    if oracle is None:
        frame = _tau_frame(tau, allocation.arms, allocation.n_customers, allocation.index)
        if allocation.index is not None:
            frame.index = allocation.index
        oracle = oracle_allocation(
            frame,
            _costs_rows(costs, allocation.index),
            min_budget=allocation.min_budget,
            max_budget=allocation.max_budget,
            method=method,
            time_limit=time_limit,
        )
    else:
        oracle = _check_allocation(oracle, "oracle")
        if oracle.n_customers != allocation.n_customers or set(oracle.arms) != set(allocation.arms):
            raise ValueError("oracle must cover the same customers and arms as allocation")
    oracle_value = true_value(oracle, tau, costs)
    absolute = oracle_value - value
    if oracle_value != 0:
        relative = absolute / abs(oracle_value)
    else:
        relative = 0.0 if absolute == 0 else math.nan
    return Regret(value, oracle_value, absolute, relative, oracle)


# --------------------------------------------------------------------------
# Real data: policy value by IPW / doubly robust scores
# --------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PolicyValue:
    """Estimated value of a policy; see :func:`policy_value`.

    Attributes
    ----------
    estimate : float
        Mean score per customer: the expected outcome (net of costs when costs
        were given) if every customer got the label the policy chooses.
    se : float
        Standard error, ``sd(scores) / sqrt(n)`` (sample sd, ddof = 1).
    ci_low, ci_high : float
        Normal ``1 - alpha`` confidence interval, ``estimate -/+ z * se``.
    n : int
        Number of rows scored.
    method : str
        ``"ipw"`` or ``"dr"``.
    alpha : float
        One minus the confidence level.
    scores : ndarray of shape (n,)
        Per-row scores ``Gamma_i`` (read-only); ``estimate`` is their mean.
    """

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    n: int
    method: str
    alpha: float
    scores: np.ndarray

    @property
    def ci(self) -> tuple[float, float]:
        """``(ci_low, ci_high)``."""
        return (self.ci_low, self.ci_high)

    @property
    def total(self) -> float:
        """``estimate * n``: value summed over the customers scored."""
        return self.estimate * self.n

    def __repr__(self) -> str:
        level = 1 - self.alpha
        return (
            f"PolicyValue({self.method}: {self.estimate:.6g} per customer, se={self.se:.3g}, "
            f"{level:.0%} CI [{self.ci_low:.6g}, {self.ci_high:.6g}], n={self.n})"
        )


@dataclass(frozen=True, eq=False)
class PolicyComparison:
    """Paired comparison of two policies on the same rows; see :func:`compare_policies`.

    Attributes
    ----------
    difference : float
        ``value_a.estimate - value_b.estimate`` (per customer).
    se : float
        Standard error of the per-row score differences, ``sd(a - b) / sqrt(n)``.
    z : float
        ``difference / se`` (0 when both are 0, +-inf when only ``se`` is 0).
    p_value : float
        Two-sided normal p-value of ``z`` (H0: both policies are worth the same).
    ci_low, ci_high : float
        Normal ``1 - alpha`` confidence interval of the difference.
    se_unpaired : float
        ``sqrt(se_a**2 + se_b**2)``: what the standard error would be if the two
        values were independent. Sharing the rows makes ``se`` smaller when the
        policies agree on many customers.
    n : int
        Number of rows.
    method : str
        ``"ipw"`` or ``"dr"``.
    alpha : float
        One minus the confidence level.
    value_a, value_b : PolicyValue
        Each policy's own estimate.
    """

    difference: float
    se: float
    z: float
    p_value: float
    ci_low: float
    ci_high: float
    se_unpaired: float
    n: int
    method: str
    alpha: float
    value_a: PolicyValue
    value_b: PolicyValue

    @property
    def ci(self) -> tuple[float, float]:
        """``(ci_low, ci_high)``."""
        return (self.ci_low, self.ci_high)

    def __repr__(self) -> str:
        return (
            f"PolicyComparison({self.method}: a - b = {self.difference:.6g} per customer, "
            f"se={self.se:.3g}, z={self.z:.3g}, p={self.p_value:.3g}, "
            f"CI [{self.ci_low:.6g}, {self.ci_high:.6g}], n={self.n})"
        )


@dataclass(frozen=True)
class _Rows:
    """Validated ``y`` and ``T`` with the label codes used by every estimator."""

    y: np.ndarray
    T: np.ndarray
    index: pd.Index | None
    control: Hashable
    labels: pd.Index  # distinct labels of T, sorted when comparable
    codes: np.ndarray  # position of each row's T in `labels`

    @property
    def n(self) -> int:
        return self.y.shape[0]


def _rows(y: Any, T: Any, control: Any) -> _Rows:
    y_arr, index = check_outcome(y)
    T_arr = check_labels(T, y_arr.shape[0])
    _check_index(T, index, "T")
    try:
        hash(control)
    except TypeError:
        raise ValueError(f"control must be a label (hashable); got {control!r}") from None
    labels = pd.Index(label_order(T_arr), dtype=object)
    return _Rows(y_arr, T_arr, index, control, labels, labels.get_indexer(T_arr))


def _check_alpha(alpha: Any) -> float:
    try:
        value = float(alpha)
    except (TypeError, ValueError):
        raise ValueError(f"alpha must be a number in (0, 1); got {alpha!r}") from None
    if not 0.0 < value < 1.0:
        raise ValueError(f"alpha must be in (0, 1); got {alpha!r}")
    return value


def _check_method(method: Any) -> str:
    if method not in POLICY_METHODS:
        raise ValueError(f"method must be 'dr' or 'ipw'; got {method!r}")
    return method


def _policy_labels(policy: Any, rows: _Rows, name: str) -> tuple[np.ndarray, tuple | None]:
    """Label chosen for each row (control for untreated) and the Allocation's arms."""
    n = rows.n
    if isinstance(policy, Allocation):
        if policy.n_customers != n:
            raise ValueError(f"{name} has {policy.n_customers} customers but y has {n} rows")
        if (
            policy.index is not None
            and rows.index is not None
            and not policy.index.equals(rows.index)
        ):
            raise ValueError(f"{name}'s customer index does not match y's index")
        if rows.control in policy.arms:
            raise ValueError(
                f"control label {rows.control!r} is also an arm of {name}; "
                "untreated customers could not be told apart"
            )
        labels = policy.labels()
        labels[~policy.treated] = rows.control
        arms: tuple | None = policy.arms
    elif isinstance(policy, str) or np.ndim(policy) == 0:
        labels = np.full(n, policy, dtype=object)
        labels[pd.isna(labels)] = rows.control
        arms = None
    else:
        _check_index(policy, rows.index, name)
        labels = np.array(
            policy.to_numpy() if isinstance(policy, pd.Series) else policy, dtype=object
        )
        if labels.ndim != 1:
            raise ValueError(f"{name} must be 1-D (one label per row); got shape {labels.shape}")
        if labels.shape[0] != n:
            raise ValueError(f"{name} has {labels.shape[0]} rows but y has {n}")
        labels[pd.isna(labels)] = rows.control
        arms = None
    unknown = [label for label in pd.unique(labels) if label not in rows.labels]
    if unknown:
        raise ValueError(
            f"{name} gives label(s) {', '.join(map(repr, unknown))} that no row of T "
            f"received; T's labels are {list(rows.labels)!r} (control={rows.control!r})"
        )
    return labels, arms


def _label_matrix(spec: Any, rows: _Rows, name: str, *, probability: bool) -> np.ndarray:
    """(n, L) matrix over ``rows.labels`` from a number, mapping or DataFrame (NaN = not given)."""
    n, labels = rows.n, rows.labels
    out = np.full((n, len(labels)), np.nan)
    if isinstance(spec, pd.DataFrame):
        _check_index(spec, rows.index, name)
        if spec.shape[0] != n:
            raise ValueError(f"{name} has {spec.shape[0]} rows but y has {n}")
        unknown = [c for c in spec.columns if c not in labels]
        if unknown:
            raise ValueError(
                f"{name} has column(s) {', '.join(map(repr, unknown))} that are not labels "
                f"of T {list(labels)!r}"
            )
        try:
            values = spec.to_numpy(dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be numeric: {exc}") from None
        bad = np.argwhere(~np.isfinite(values))
        if bad.size:
            i, j = bad[0]
            raise ValueError(
                f"{name}[{i}, {spec.columns[j]!r}] is {float(values[i, j])!r}; it must be finite"
            )
        out[:, labels.get_indexer(spec.columns)] = values
        where = "column"
    elif isinstance(spec, Mapping | pd.Series):
        items = dict(spec.items())
        unknown = [key for key in items if key not in labels]
        if unknown:
            raise ValueError(
                f"{name} names label(s) {', '.join(map(repr, unknown))} that are not labels "
                f"of T {list(labels)!r}"
            )
        for key, value in items.items():
            try:
                out[:, labels.get_loc(key)] = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"{name}[{key!r}] must be a number; got {value!r}") from None
        where = "label"
    elif np.ndim(spec) == 0 and not isinstance(spec, str):
        try:
            out[:] = float(spec)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a number; got {spec!r}") from None
        where = "value"
    else:
        raise ValueError(
            f"{name} must be a number, a mapping {{label: value}} or a DataFrame with one "
            f"column per label (index aligned with y); got {type(spec).__name__}"
        )
    given = ~np.isnan(out)
    if probability:
        bad = given & ~((out > 0.0) & (out <= 1.0 + _PROB_TOL))
    else:
        bad = given & ~np.isfinite(out)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        what = "outside (0, 1]" if probability else "not finite"
        at = f"row {i}, label {labels[j]!r}" if where == "column" else f"label {labels[j]!r}"
        raise ValueError(f"{name} is {float(out[i, j])!r} ({what}) at {at}")
    return out


def _gather(
    matrix: np.ndarray, codes: np.ndarray, rows: _Rows, name: str, policy: str
) -> np.ndarray:
    picked = matrix[np.arange(rows.n), codes]
    missing = np.flatnonzero(np.isnan(picked))
    if missing.size:
        label = rows.labels[codes[missing[0]]]
        raise ValueError(f"{name} gives nothing for label {label!r}, which {policy} uses")
    return picked


def _row_costs(
    costs: Any, labels: np.ndarray, arms: tuple | None, rows: _Rows, name: str
) -> np.ndarray:
    """Cost of the label each row is given (0 for control)."""
    treated = np.array([label != rows.control for label in labels], dtype=bool)
    if costs is None:
        return np.zeros(rows.n)
    if isinstance(costs, pd.DataFrame):
        _check_index(costs, rows.index, "costs")
    if arms is None:
        arms = tuple(label for label in rows.labels if label != rows.control)
        if not isinstance(costs, pd.DataFrame | pd.Series | Mapping) and np.ndim(costs) != 0:
            raise ValueError(
                f"costs must be a number, a mapping {{arm: cost}} or a DataFrame with one "
                f"column per arm when {name} is given as labels (arrays have no arm order); "
                f"the arms are {list(arms)!r}"
            )
    if not arms:
        return np.zeros(rows.n)
    matrix = _check_costs(costs, rows.n, arms)
    out = np.zeros(rows.n)
    positions = pd.Index(arms, dtype=object).get_indexer(labels[treated])
    out[treated] = matrix[np.flatnonzero(treated), positions]
    return out


def _scores(
    policy: Any,
    rows: _Rows,
    propensity: np.ndarray,
    outcomes: np.ndarray | None,
    costs: Any,
    name: str,
) -> np.ndarray:
    """Per-row IPW (``outcomes is None``) or doubly robust score of a policy, net of costs."""
    labels, arms = _policy_labels(policy, rows, name)
    codes = rows.labels.get_indexer(labels)
    e = _gather(propensity, codes, rows, "propensity", name)
    match = rows.codes == codes
    if outcomes is None:
        score = np.where(match, rows.y / e, 0.0)
    else:
        mu = _gather(outcomes, codes, rows, "outcome_predictions", name)
        score = mu + np.where(match, (rows.y - mu) / e, 0.0)
    return score - _row_costs(costs, labels, arms, rows, name)


def _nuisances(
    rows: _Rows, propensity: Any, method: str, outcome_predictions: Any
) -> tuple[np.ndarray, np.ndarray | None]:
    method = _check_method(method)
    e = _label_matrix(propensity, rows, "propensity", probability=True)
    if method == "ipw":
        return e, None
    if outcome_predictions is None:
        raise ValueError(
            "method='dr' needs outcome_predictions: an (n, L) DataFrame of mu_j(x) per label, "
            "from a model fitted on OTHER rows (ArmOutcomeModel) or cross_fit_outcomes(); "
            "or use method='ipw'"
        )
    mu = _label_matrix(outcome_predictions, rows, "outcome_predictions", probability=False)
    return e, mu


def _summarise(scores: np.ndarray, method: str, alpha: float) -> PolicyValue:
    n = scores.shape[0]
    if n < 2:
        raise ValueError("a standard error needs at least 2 rows; y has 1")
    estimate = float(scores.mean())
    se = float(scores.std(ddof=1) / math.sqrt(n))
    z = NormalDist().inv_cdf(1 - alpha / 2)
    return PolicyValue(
        estimate, se, estimate - z * se, estimate + z * se, n, method, alpha, _readonly(scores)
    )


def policy_value(
    policy: Any,
    y: Any,
    T: Any,
    *,
    control: Hashable,
    propensity: Any,
    method: str = "dr",
    outcome_predictions: Any = None,
    costs: Any = None,
    alpha: float = 0.05,
) -> PolicyValue:
    """Value of a policy on held-out rows, by IPW or doubly robust scores.

    Each row ``i`` gets a score whose mean estimates the expected outcome if
    every customer got the label ``pi(i)`` the policy chooses:

    .. code-block:: text

        ipw:  Gamma_i = 1[T_i = pi(i)] / e_pi(i)(x_i) * y_i
        dr:   Gamma_i = mu_pi(i)(x_i) + 1[T_i = pi(i)] / e_pi(i)(x_i) * (y_i - mu_pi(i)(x_i))

    minus the cost of ``pi(i)`` when ``costs`` is given (control costs 0).
    The value is the mean of ``Gamma``, its standard error ``sd(Gamma) / sqrt(n)``.
    Both are unbiased with correct propensities; the doubly robust score is
    also unbiased with correct outcome predictions, and has a smaller standard
    error the better ``mu`` is. The value is of the outcome itself, baseline
    included: compare with the all-control policy (``compare_policies(policy,
    control, ...)``) for the incremental value.

    Parameters
    ----------
    policy : Allocation, sequence of labels, or one label
        The label each row would get. An Allocation's untreated customers get
        ``control``; in a sequence, ``None``/NaN means ``control``. Every label
        must occur in ``T``.
    y : array-like of shape (n,)
        Observed outcome (an (n, 1) frame is accepted).
    T : array-like of shape (n,)
        Label each row actually received, ``control`` included.
    control : label
        The untreated label in ``T``.
    propensity : float, mapping {label: probability} or DataFrame (n, L)
        Probability that each row received each label: a number or one number
        per label for a randomised experiment with known probabilities, or a
        DataFrame with one column per label (e.g. from
        :func:`estimate_propensity`) for per-row probabilities. Must lie in
        (0, 1] for every label the policy uses.
    method : {"dr", "ipw"}, default "dr"
        Doubly robust (needs ``outcome_predictions``) or inverse propensity
        weighting.
    outcome_predictions : DataFrame of shape (n, L), optional
        ``mu_j(x_i)``, the predicted outcome of each row under each label, from
        a model fitted on OTHER rows (:class:`ArmOutcomeModel` on the training
        half, or :func:`cross_fit_outcomes`). Ignored by ``"ipw"``.
    costs : float, mapping {arm: cost}, DataFrame (n, K) or array, optional
        Cost of giving each arm; subtracted so the value is net. Arrays (per
        arm, or (n, K)) follow the Allocation's arm order and need an
        Allocation policy.
    alpha : float, default 0.05
        One minus the confidence level of the interval.

    Returns
    -------
    PolicyValue

    Raises
    ------
    ValueError
        Length or index mismatch, NaN/inf (named), a label unknown to ``T``,
        a propensity outside (0, 1] or missing for a label the policy uses,
        ``method="dr"`` without outcome predictions.

    Examples
    --------
    >>> import numpy as np
    >>> from upliftopt.evaluate import policy_value
    >>> y = np.array([1.0, 0.0, 3.0, 1.0])
    >>> T = np.array(["ctrl", "ctrl", "offer", "offer"])
    >>> v = policy_value("offer", y, T, control="ctrl", propensity=0.5, method="ipw")
    >>> v.estimate, v.scores.tolist()  # (0 + 0 + 3/0.5 + 1/0.5) / 4
    (2.0, [0.0, 0.0, 6.0, 2.0])
    """
    alpha = _check_alpha(alpha)
    rows = _rows(y, T, control)
    e, mu = _nuisances(rows, propensity, method, outcome_predictions)
    return _summarise(_scores(policy, rows, e, mu, costs, "policy"), method, alpha)


def compare_policies(
    policy_a: Any,
    policy_b: Any,
    y: Any,
    T: Any,
    *,
    control: Hashable,
    propensity: Any,
    method: str = "dr",
    outcome_predictions: Any = None,
    costs: Any = None,
    alpha: float = 0.05,
) -> PolicyComparison:
    """Paired comparison of two policies on the same rows.

    The difference of the two values is the mean of the per-row score
    differences ``Gamma_i(a) - Gamma_i(b)`` (see :func:`policy_value`), and its
    standard error is ``sd(Gamma(a) - Gamma(b)) / sqrt(n)``. Rows where both
    policies choose the same label contribute exactly 0, so policies that agree
    on many customers are compared far more precisely than two independent
    estimates would allow (``se_unpaired``).

    Parameters
    ----------
    policy_a, policy_b : Allocation, sequence of labels, or one label
        The two policies (``control`` alone is "treat nobody").
    y, T, control, propensity, method, outcome_predictions, costs, alpha
        As in :func:`policy_value`; ``costs`` applies to both policies.

    Returns
    -------
    PolicyComparison
        ``difference`` is a minus b.

    Examples
    --------
    >>> import numpy as np
    >>> from upliftopt.evaluate import compare_policies
    >>> y = np.array([1.0, 0.0, 3.0, 1.0])
    >>> T = np.array(["ctrl", "ctrl", "offer", "offer"])
    >>> c = compare_policies("offer", "ctrl", y, T, control="ctrl", propensity=0.5, method="ipw")
    >>> c.difference  # (3 + 1) / 0.5 / 4 - (1 + 0) / 0.5 / 4
    1.5
    """
    alpha = _check_alpha(alpha)
    rows = _rows(y, T, control)
    e, mu = _nuisances(rows, propensity, method, outcome_predictions)
    score_a = _scores(policy_a, rows, e, mu, costs, "policy_a")
    score_b = _scores(policy_b, rows, e, mu, costs, "policy_b")
    value_a = _summarise(score_a, method, alpha)
    value_b = _summarise(score_b, method, alpha)
    diff = _summarise(score_a - score_b, method, alpha)
    if diff.se > 0:
        z = diff.estimate / diff.se
    else:
        z = 0.0 if diff.estimate == 0 else math.copysign(math.inf, diff.estimate)
    p_value = math.erfc(abs(z) / math.sqrt(2.0))
    return PolicyComparison(
        difference=diff.estimate,
        se=diff.se,
        z=z,
        p_value=p_value,
        ci_low=diff.ci_low,
        ci_high=diff.ci_high,
        se_unpaired=math.hypot(value_a.se, value_b.se),
        n=rows.n,
        method=method,
        alpha=alpha,
        value_a=value_a,
        value_b=value_b,
    )


# --------------------------------------------------------------------------
# Qini and uplift curves
# --------------------------------------------------------------------------

#: Columns of the frames returned by :func:`qini_curve` and :func:`uplift_curve`.
CURVE_COLUMNS = (
    "n_targeted",
    "fraction",
    "score",
    "n_treatment",
    "n_control",
    "sum_y_treatment",
    "sum_y_control",
    "gain",
    "random",
)


def _check_scores(scores: Any, rows: _Rows, name: str, column: Hashable | None) -> np.ndarray:
    if isinstance(scores, pd.DataFrame):
        _check_index(scores, rows.index, name)
        if column is None or column not in scores.columns:
            raise ValueError(
                f"{name} is a DataFrame without a column for {column!r}; its columns are "
                f"{list(scores.columns)!r}"
            )
        scores = scores[column]
    _check_index(scores, rows.index, name)
    try:
        array = np.asarray(
            scores.to_numpy() if isinstance(scores, pd.Series) else scores, dtype=np.float64
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric: {exc}") from None
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one score per row); got shape {array.shape}")
    if array.shape[0] != rows.n:
        raise ValueError(f"{name} has {array.shape[0]} rows but y has {rows.n}")
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        raise ValueError(f"{name}[{bad[0]}] is {float(array[bad[0]])!r}; scores must be finite")
    return array


def _tie_ends(sorted_scores: np.ndarray) -> np.ndarray:
    """Last position of each block of equal scores (curves step over whole ties)."""
    return np.r_[np.flatnonzero(np.diff(sorted_scores) != 0), sorted_scores.shape[0] - 1]


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros_like(num, dtype=np.float64), where=den != 0)


def _arm_curve(
    scores: Any, y: Any, T: Any, treatment: Hashable, control: Hashable, kind: str
) -> pd.DataFrame:
    rows = _rows(y, T, control)
    s = _check_scores(scores, rows, "scores", treatment)
    if treatment == control:
        raise ValueError(f"treatment and control are the same label {control!r}")
    for label, what in ((treatment, "treatment"), (control, "control")):
        if label not in rows.labels:
            raise ValueError(
                f"{what} label {label!r} does not occur in T; T's labels are {list(rows.labels)!r}"
            )
    t_code, c_code = rows.labels.get_loc(treatment), rows.labels.get_loc(control)
    keep = (rows.codes == t_code) | (rows.codes == c_code)
    s, y_kept, is_t = s[keep], rows.y[keep], (rows.codes == t_code)[keep]
    order = np.argsort(-s, kind="stable")
    s, y_kept, is_t = s[order], y_kept[order], is_t[order]
    ends = _tie_ends(s)
    n_t = np.cumsum(is_t)[ends].astype(np.float64)
    n_c = np.cumsum(~is_t)[ends].astype(np.float64)
    y_t = np.cumsum(np.where(is_t, y_kept, 0.0))[ends]
    y_c = np.cumsum(np.where(is_t, 0.0, y_kept))[ends]
    if kind == "qini":
        gain = y_t - y_c * _ratio(n_t, n_c)
    else:
        gain = (_ratio(y_t, n_t) - _ratio(y_c, n_c)) * (n_t + n_c)
    m = s.shape[0]
    n_targeted = np.r_[0, ends + 1]
    gain = np.r_[0.0, gain]
    return pd.DataFrame(
        {
            "n_targeted": n_targeted,
            "fraction": n_targeted / m,
            "score": np.r_[np.nan, s[ends]],
            "n_treatment": np.r_[0, n_t].astype(np.int64),
            "n_control": np.r_[0, n_c].astype(np.int64),
            "sum_y_treatment": np.r_[0.0, y_t],
            "sum_y_control": np.r_[0.0, y_c],
            "gain": gain,
            "random": gain[-1] * n_targeted / m,
        }
    )


def qini_curve(
    scores: Any, y: Any, T: Any, *, treatment: Hashable, control: Hashable
) -> pd.DataFrame:
    """Qini curve of one arm against control.

    At each cut-off k, ``gain = Y_t(k) - Y_c(k) * N_t(k) / N_c(k)``: the summed
    outcome of the treated rows in the top k minus that of the control rows in
    the top k, rescaled to the treated count (0 for the second term while no
    control row is in). This is scikit-uplift's ``qini_curve``.

    Only rows whose ``T`` is ``treatment`` or ``control`` are used (other arms
    are ignored). They are ranked by ``scores``, highest first; tied scores are
    taken together, so the curve has one point per distinct score (plus the
    origin) and does not depend on the row order.

    Parameters
    ----------
    scores : array-like of shape (n,) or DataFrame
        Predicted uplift of ``treatment`` for each row. A DataFrame (e.g. the
        (n, K) effects of a CATE model) is read at column ``treatment``.
    y : array-like of shape (n,)
        Observed outcome.
    T : array-like of shape (n,)
        Label each row received.
    treatment, control : label
        The arm to evaluate and the untreated label; both must occur in ``T``.

    Returns
    -------
    DataFrame
        One row per point, starting at the origin, with columns
        ``n_targeted`` (rows in the top k, both groups), ``fraction``
        (``n_targeted / m`` for the m rows used), ``score`` (lowest score
        included; NaN at the origin), ``n_treatment``, ``n_control`` (rows of
        each group in the top k), ``sum_y_treatment``, ``sum_y_control``
        (their summed outcomes), ``gain`` (the curve, see above) and
        ``random`` (the straight line from the origin to the last point: the
        expected curve of a random ranking).

    Examples
    --------
    >>> from upliftopt.evaluate import qini_curve
    >>> curve = qini_curve([0.9, 0.5, 0.4, 0.1], [1, 0, 1, 1], ["t", "c", "t", "c"],
    ...                    treatment="t", control="c")
    >>> curve["gain"].tolist()  # 0; 1; 1 - 0 * 1/1; 2 - 0 * 2/1; 2 - 1 * 2/2
    [0.0, 1.0, 1.0, 2.0, 1.0]
    """
    return _arm_curve(scores, y, T, treatment, control, "qini")


def uplift_curve(
    scores: Any, y: Any, T: Any, *, treatment: Hashable, control: Hashable
) -> pd.DataFrame:
    """Uplift curve of one arm against control.

    At each cut-off k, ``gain = (Y_t(k) / N_t(k) - Y_c(k) / N_c(k)) * (N_t(k) + N_c(k))``:
    the difference of mean outcomes in the top k times its size (a group with
    no row yet contributes a mean of 0). This is scikit-uplift's ``uplift_curve``.

    Only rows whose ``T`` is ``treatment`` or ``control`` are used (other arms
    are ignored). They are ranked by ``scores``, highest first; tied scores are
    taken together, so the curve has one point per distinct score (plus the
    origin) and does not depend on the row order.

    Parameters
    ----------
    scores : array-like of shape (n,) or DataFrame
        Predicted uplift of ``treatment`` for each row. A DataFrame (e.g. the
        (n, K) effects of a CATE model) is read at column ``treatment``.
    y : array-like of shape (n,)
        Observed outcome.
    T : array-like of shape (n,)
        Label each row received.
    treatment, control : label
        The arm to evaluate and the untreated label; both must occur in ``T``.

    Returns
    -------
    DataFrame
        One row per point, starting at the origin, with columns
        ``n_targeted`` (rows in the top k, both groups), ``fraction``
        (``n_targeted / m`` for the m rows used), ``score`` (lowest score
        included; NaN at the origin), ``n_treatment``, ``n_control`` (rows of
        each group in the top k), ``sum_y_treatment``, ``sum_y_control``
        (their summed outcomes), ``gain`` (the curve, see above) and
        ``random`` (the straight line from the origin to the last point: the
        expected curve of a random ranking).

    Examples
    --------
    >>> from upliftopt.evaluate import uplift_curve
    >>> curve = uplift_curve([0.9, 0.5, 0.4, 0.1], [1, 0, 1, 1], ["t", "c", "t", "c"],
    ...                      treatment="t", control="c")
    >>> curve["gain"].tolist()  # 0; 1*1; (1-0)*2; (1-0)*3; (1-0.5)*4
    [0.0, 1.0, 2.0, 3.0, 2.0]
    """
    return _arm_curve(scores, y, T, treatment, control, "uplift")


def _area(curve: pd.DataFrame, normalize: bool) -> float:
    x = curve["n_targeted"].to_numpy(dtype=np.float64)
    g = curve["gain"].to_numpy()
    area = float(np.sum((g[1:] + g[:-1]) / 2.0 * np.diff(x)))
    if not normalize:
        return area
    m = float(x[-1])
    return (area - float(g[-1]) * m / 2.0) / (m * m)


def qini_auc(
    scores: Any,
    y: Any,
    T: Any,
    *,
    treatment: Hashable,
    control: Hashable,
    normalize: bool = True,
) -> float:
    """Area under the Qini curve of one arm (see :func:`qini_curve`).

    Parameters
    ----------
    scores, y, T, treatment, control
        As in the curve function.
    normalize : bool, default True
        ``False``: the raw trapezoid area under the curve, with the number of
        rows targeted on the x axis (units: rows x outcome; as scikit-uplift's
        ``auc(*curve)``). ``True``: the area between the curve and the
        random-ranking line, divided by ``m**2`` for the ``m`` rows used, i.e.
        the area with both axes per row (x = fraction targeted, y = gain per
        row). Positive when the scores rank better than chance, about 0 for a
        random ranking; in outcome units per row, so it compares across data
        sets of different sizes. Works for any outcome (not only binary).

    Returns
    -------
    float

    Examples
    --------
    >>> from upliftopt.evaluate import qini_auc
    >>> args = ([0.9, 0.5, 0.4, 0.1], [1, 0, 1, 1], ["t", "c", "t", "c"])
    >>> qini_auc(*args, treatment="t", control="c", normalize=False)  # 0.5 + 1 + 1.5 + 1.5
    4.5
    >>> qini_auc(*args, treatment="t", control="c")  # (4.5 - 1 * 4 / 2) / 16
    0.15625
    """
    return _area(_arm_curve(scores, y, T, treatment, control, "qini"), normalize)


def uplift_auc(
    scores: Any,
    y: Any,
    T: Any,
    *,
    treatment: Hashable,
    control: Hashable,
    normalize: bool = True,
) -> float:
    """Area under the uplift curve of one arm (see :func:`uplift_curve`).

    Parameters
    ----------
    scores, y, T, treatment, control
        As in the curve function.
    normalize : bool, default True
        ``False``: the raw trapezoid area under the curve, with the number of
        rows targeted on the x axis (units: rows x outcome; as scikit-uplift's
        ``auc(*curve)``). ``True``: the area between the curve and the
        random-ranking line, divided by ``m**2`` for the ``m`` rows used, i.e.
        the area with both axes per row (x = fraction targeted, y = gain per
        row). Positive when the scores rank better than chance, about 0 for a
        random ranking; in outcome units per row, so it compares across data
        sets of different sizes. Works for any outcome (not only binary).

    Returns
    -------
    float

    Examples
    --------
    >>> from upliftopt.evaluate import uplift_auc
    >>> args = ([0.9, 0.5, 0.4, 0.1], [1, 0, 1, 1], ["t", "c", "t", "c"])
    >>> uplift_auc(*args, treatment="t", control="c", normalize=False)  # 0.5 + 1.5 + 2.5 + 2.5
    7.0
    """
    return _area(_arm_curve(scores, y, T, treatment, control, "uplift"), normalize)


def policy_gain_curve(
    policy: Any,
    priority: Any,
    y: Any,
    T: Any,
    *,
    control: Hashable,
    propensity: Any,
    method: str = "ipw",
    outcome_predictions: Any = None,
    costs: Any = None,
) -> pd.DataFrame:
    """Cumulative gain of a multi-arm allocation, targeting in priority order.

    The customers the policy treats are ranked by ``priority`` (highest first;
    ties taken together). Targeting the top k with their assigned arm and
    leaving everyone else in control gains, over all-control,

    .. code-block:: text

        gain(k) = sum over the top k of d_i,
        d_i = Gamma_i(pi(i)) - Gamma_i(control) - cost_i(pi(i))

    with ``Gamma`` the IPW or doubly robust score of :func:`policy_value`. So
    ``gain(k)`` estimates the summed true effect (net of cost) of the arms given
    to the top k, and ``gain`` at the last point is ``n`` times the
    per-customer difference ``compare_policies(policy, control, ...)``.

    Parameters
    ----------
    policy : Allocation or sequence of labels
        Each customer's arm (untreated / ``None`` / ``control``: never targeted).
    priority : array-like of shape (n,)
        Order in which treated customers are targeted, e.g. the estimated net
        value of their arm.
    y, T, control, propensity, outcome_predictions, costs
        As in :func:`policy_value`.
    method : {"ipw", "dr"}, default "ipw"

    Returns
    -------
    DataFrame
        One row per point, starting at the origin, with columns ``n_targeted``
        (customers treated so far), ``fraction`` (``n_targeted / n`` of all
        rows), ``priority`` (lowest priority included; NaN at the origin),
        ``gain`` (estimated cumulative net gain), ``se`` (its standard error,
        ``n * sd(z) / sqrt(n)`` with ``z_i = d_i`` for the top k and 0
        elsewhere), ``spend`` (cumulative cost) and ``random`` (straight line
        to the last point: the expected gain of targeting the policy's
        customers in random order).

    Examples
    --------
    >>> import numpy as np
    >>> from upliftopt.evaluate import policy_gain_curve
    >>> y = np.array([4.0, 1.0, 2.0, 0.0])
    >>> T = np.array(["a", "c", "b", "c"])
    >>> curve = policy_gain_curve(["a", "b", "b", None], [2.0, 1.0, 3.0, 0.0], y, T,
    ...                           control="c", propensity=0.5)
    >>> curve["gain"].tolist()  # rows 2 (+2/0.5), 0 (+4/0.5), 1 (-1/0.5)
    [0.0, 4.0, 12.0, 10.0]
    """
    rows = _rows(y, T, control)
    e, mu = _nuisances(rows, propensity, method, outcome_predictions)
    net_policy = _scores(policy, rows, e, mu, costs, "policy")
    labels, arms = _policy_labels(policy, rows, "policy")
    spend = _row_costs(costs, labels, arms, rows, "policy")
    net_control = _scores(rows.control, rows, e, mu, None, "the all-control policy")
    d = net_policy - net_control
    p = _check_scores(priority, rows, "priority", None)
    targeted = np.flatnonzero(np.array([label != rows.control for label in labels], dtype=bool))
    order = targeted[np.argsort(-p[targeted], kind="stable")]
    n = rows.n
    if order.size:
        ends = _tie_ends(p[order])
        s1 = np.cumsum(d[order])[ends]
        s2 = np.cumsum(d[order] ** 2)[ends]
        # z_i = d_i on the top k, 0 elsewhere: sample variance over all n rows.
        var = np.maximum(s2 - s1 * s1 / n, 0.0) / (n - 1) if n > 1 else np.zeros_like(s1)
        n_targeted = np.r_[0, ends + 1]
        gain = np.r_[0.0, s1]
        se = np.r_[0.0, np.sqrt(n * var)]
        cum_spend = np.r_[0.0, np.cumsum(spend[order])[ends]]
        levels = np.r_[np.nan, p[order][ends]]
    else:
        n_targeted, gain, se = np.zeros(1, dtype=np.int64), np.zeros(1), np.zeros(1)
        cum_spend, levels = np.zeros(1), np.full(1, np.nan)
    last = max(int(n_targeted[-1]), 1)
    return pd.DataFrame(
        {
            "n_targeted": n_targeted,
            "fraction": n_targeted / n,
            "priority": levels,
            "gain": gain,
            "se": se,
            "spend": cum_spend,
            "random": gain[-1] * n_targeted / last,
        }
    )
