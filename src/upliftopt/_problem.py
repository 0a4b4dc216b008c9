"""Validated allocation problem shared by every allocation method.

All checks run here, before any solver object is built, so that a NaN, a
shape mismatch or an impossible budget surfaces as a ``ValueError`` naming the
argument instead of a solver stack trace.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .exceptions import InfeasibleBudgetError

#: Relative tolerance on budgets: a spend ``s`` satisfies ``s <= max_budget``
#: when ``s <= max_budget + BUDGET_RTOL * max(1, |max_budget|)`` (and likewise
#: for ``min_budget``). One tolerance, used by every method and every check, so
#: that ``min_budget == max_budget == 3000`` with costs of 0.1 is feasible even
#: though 30,000 x 0.1 is not exactly 3,000 in floating point.
BUDGET_RTOL = 1e-9


def budget_tolerance(budget: float) -> float:
    """Absolute slack allowed on ``budget`` (0 for an infinite budget)."""
    if not math.isfinite(budget):
        return 0.0
    return BUDGET_RTOL * max(1.0, abs(budget))


@dataclass(frozen=True)
class AllocationProblem:
    """Validated inputs of an allocation.

    Attributes
    ----------
    values : ndarray of shape (n, K), float64
        Estimated incremental value of each arm for each customer.
    costs : ndarray of shape (n, K), float64
        Cost of each arm for each customer (possibly a read-only broadcast view).
    arms : tuple
        Arm labels, one per column.
    index : pandas.Index or None
        The caller's customer index when ``values`` was a DataFrame.
    min_budget, max_budget : float
        The spend window; ``max_budget`` may be ``inf``.
    max_treated : float
        Most customers treated in all (``inf``: no cap).
    max_per_arm : ndarray of shape (K,) or None
        Most customers per arm (``inf`` entries: no cap), or None.
    """

    values: np.ndarray
    costs: np.ndarray
    arms: tuple
    index: pd.Index | None
    min_budget: float
    max_budget: float
    max_treated: float = math.inf
    max_per_arm: np.ndarray | None = None

    @property
    def has_side_constraints(self) -> bool:
        """Whether a cap on treated customers (overall or per arm) applies."""
        return math.isfinite(self.max_treated) or self.max_per_arm is not None

    @property
    def n(self) -> int:
        """Number of customers."""
        return self.values.shape[0]

    @property
    def k(self) -> int:
        """Number of arms."""
        return self.values.shape[1]

    def net(self) -> np.ndarray:
        """Net value ``values - costs`` as a new (n, K) array."""
        return self.values - self.costs

    def spend_range(self) -> tuple[float, float]:
        """Least and greatest spend any allocation can reach (untreated costs 0)."""
        lowest = float(np.minimum(self.costs.min(axis=1), 0.0).sum())
        highest = float(np.maximum(self.costs.max(axis=1), 0.0).sum())
        return lowest, highest

    def min_binding(self) -> bool:
        """Whether ``min_budget`` can cut off any allocation at all."""
        lowest, _ = self.spend_range()
        return self.min_budget - budget_tolerance(self.min_budget) > lowest

    def max_binding(self) -> bool:
        """Whether ``max_budget`` can cut off any allocation at all."""
        _, highest = self.spend_range()
        return self.max_budget + budget_tolerance(self.max_budget) < highest


def _label(arms: Sequence[Hashable], j: int) -> str:
    return repr(arms[j])


def _first_bad_cell(array: np.ndarray) -> tuple[int, ...]:
    bad = np.argwhere(~np.isfinite(array))
    return tuple(int(i) for i in bad[0])


def _describe(value: float) -> str:
    return "NaN" if math.isnan(value) else repr(float(value))


def _as_float_array(data: Any, name: str) -> np.ndarray:
    try:
        array = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric; could not convert it to float: {exc}") from None
    return array


def _check_values(values: Any) -> tuple[np.ndarray, tuple, pd.Index | None]:
    if isinstance(values, pd.Series):
        values = values.to_frame()
    if isinstance(values, pd.DataFrame):
        if values.columns.has_duplicates:
            dupes = sorted({repr(c) for c in values.columns[values.columns.duplicated()]})
            raise ValueError(f"values has duplicate arm labels: {', '.join(dupes)}")
        arms = tuple(values.columns)
        index = values.index
        array = _as_float_array(values.to_numpy(), "values")
    else:
        array = _as_float_array(values, "values")
        if array.ndim == 1:
            array = array[:, None]
        arms = tuple(range(array.shape[1])) if array.ndim == 2 else ()
        index = None
    if array.ndim != 2:
        raise ValueError(f"values must be 2-D (customers x arms); got {array.ndim} dimensions")
    n, k = array.shape
    if n == 0:
        raise ValueError("values is empty: it has no customers (0 rows)")
    if k == 0:
        raise ValueError("values has no arms (0 columns)")
    if not np.isfinite(array).all():
        i, j = _first_bad_cell(array)
        raise ValueError(
            f"values[{i}, {j}] (customer {i}, arm {_label(arms, j)}) is "
            f"{_describe(array[i, j])}; every value must be finite"
        )
    _check_magnitude(array, "values", arms)
    return array, arms, index


#: Largest |value| or |cost| accepted: sums over millions of customers, and
#: differences of such sums, must stay far from float64 overflow.
MAX_MAGNITUDE = 1e100


def _check_magnitude(array: np.ndarray, name: str, arms: tuple) -> None:
    if array.size and np.abs(array).max() > MAX_MAGNITUDE:
        i, j = (int(v) for v in np.unravel_index(np.argmax(np.abs(array)), array.shape))
        raise ValueError(
            f"{name}[{i}, {j}] (customer {i}, arm {_label(arms, j)}) is {array[i, j]:.3g}: "
            f"beyond +-{MAX_MAGNITUDE:g}; rescale (e.g. to thousands of the currency)"
        )


def _per_arm_from_mapping(costs: Mapping | pd.Series, arms: tuple) -> np.ndarray:
    keys = list(costs.index) if isinstance(costs, pd.Series) else list(costs.keys())
    unknown = [key for key in keys if key not in arms]
    if unknown:
        raise ValueError(
            f"costs names unknown arm(s) {', '.join(map(repr, unknown))}; "
            f"the arms are {', '.join(map(repr, arms))}"
        )
    missing = [arm for arm in arms if arm not in keys]
    if missing:
        raise ValueError(f"costs has no cost for arm(s) {', '.join(map(repr, missing))}")
    return _as_float_array([costs[arm] for arm in arms], "costs")


def align_rows(frame: pd.DataFrame, index: pd.Index | None, name: str) -> pd.DataFrame:
    """Rows of ``frame`` in the order of ``index`` (the values' customers)."""
    if index is None or frame.index.equals(index):
        return frame
    if isinstance(frame.index, pd.RangeIndex) and isinstance(index, pd.RangeIndex):
        return frame  # both positional
    if (
        frame.index.has_duplicates
        or len(frame.index) != len(index)
        or not frame.index.isin(index).all()
    ):
        raise ValueError(
            f"{name}'s row index does not match the customers of values (same labels "
            "needed, in any order); pass arrays to match rows by position"
        )
    return frame.loc[index]


def _check_costs(costs: Any, n: int, arms: tuple, index: pd.Index | None = None) -> np.ndarray:
    k = len(arms)
    if costs is None:
        raise ValueError("costs is required: one number, one per arm, or one per customer and arm")
    if isinstance(costs, pd.DataFrame):
        costs = align_rows(costs, index, "costs")
        if set(costs.columns) != set(arms) or len(costs.columns) != k:
            raise ValueError(
                f"costs columns {list(costs.columns)!r} do not match the arms {list(arms)!r}"
            )
        costs = costs[list(arms)].to_numpy()
    elif isinstance(costs, pd.Series | Mapping):
        costs = _per_arm_from_mapping(costs, arms)
    array = _as_float_array(costs, "costs")
    if array.ndim == 0:
        array = np.broadcast_to(array, (n, k))
    elif array.ndim == 1:
        if array.shape[0] != k:
            raise ValueError(
                f"costs has {array.shape[0]} entries but there are {k} arms; give a scalar, "
                f"one cost per arm, or an (n, K) = ({n}, {k}) array"
            )
        array = np.broadcast_to(array, (n, k))
    elif array.ndim == 2:
        if array.shape != (n, k):
            raise ValueError(
                f"costs has shape {array.shape} but values has shape ({n}, {k}); "
                "per-customer costs must match values"
            )
    else:
        raise ValueError(f"costs must be a scalar, 1-D or 2-D; got {array.ndim} dimensions")
    if not np.isfinite(array).all():
        i, j = _first_bad_cell(array)
        raise ValueError(
            f"costs[{i}, {j}] (customer {i}, arm {_label(arms, j)}) is "
            f"{_describe(array[i, j])}; every cost must be finite"
        )
    _check_magnitude(array, "costs", arms)
    return array


def _check_budget(budget: Any, name: str, allow_inf: bool) -> float:
    if name == "min_budget" and (budget is None or budget == -math.inf):
        return -math.inf  # no minimum (spend may even go negative with negative costs)
    try:
        value = float(budget)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number; got {budget!r}") from None
    if math.isnan(value):
        raise ValueError(f"{name} is NaN")
    if value < 0:
        raise ValueError(f"{name} must be >= 0; got {value!r}")
    if not allow_inf and value > MAX_MAGNITUDE:
        raise ValueError(f"{name} must be finite and at most {MAX_MAGNITUDE:g}; got {value!r}")
    # Treat astronomically large caps (e.g. sys.float_info.max) as "no cap" so
    # that no backend ever sees a bound it cannot represent.
    if value > MAX_MAGNITUDE:
        value = math.inf
    return value


def _check_count(value: Any, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a whole number of customers; got {value!r}") from None
    if math.isnan(number) or number < 0 or (math.isfinite(number) and number != int(number)):
        raise ValueError(f"{name} must be a whole number >= 0; got {value!r}")
    return number


def _check_side_constraints(
    max_treated: Any, max_per_arm: Any, arms: tuple
) -> tuple[float, np.ndarray | None]:
    total = math.inf if max_treated is None else _check_count(max_treated, "max_treated")
    if max_per_arm is None:
        return total, None
    if isinstance(max_per_arm, pd.Series | Mapping):
        keys = list(max_per_arm.index if isinstance(max_per_arm, pd.Series) else max_per_arm)
        unknown = [key for key in keys if key not in arms]
        if unknown:
            raise ValueError(
                f"max_per_arm names unknown arm(s) {', '.join(map(repr, unknown))}; "
                f"the arms are {', '.join(map(repr, arms))}"
            )
        caps = [max_per_arm[arm] if arm in keys else math.inf for arm in arms]
    else:
        caps = list(np.atleast_1d(np.asarray(max_per_arm, dtype=object)))
        if len(caps) != len(arms):
            raise ValueError(f"max_per_arm has {len(caps)} entries but there are {len(arms)} arms")
    return total, np.array(
        [_check_count(cap, f"max_per_arm[{arm!r}]") for cap, arm in zip(caps, arms, strict=True)]
    )


def make_problem(
    values: Any,
    costs: Any,
    min_budget: Any,
    max_budget: Any,
    max_treated: Any = None,
    max_per_arm: Any = None,
) -> AllocationProblem:
    """Validate the arguments of :func:`upliftopt.allocate` and check the window.

    Raises
    ------
    ValueError
        On malformed input, naming the argument and the offending cell.
    InfeasibleBudgetError
        When ``min_budget`` exceeds the largest spend any allocation reaches.
    """
    array, arms, index = _check_values(values)
    cost_array = _check_costs(costs, array.shape[0], arms, index)
    low = _check_budget(min_budget, "min_budget", allow_inf=False)
    high = _check_budget(max_budget, "max_budget", allow_inf=True)
    if low > high:
        raise ValueError(f"min_budget ({low!r}) is greater than max_budget ({high!r})")
    total, per_arm = _check_side_constraints(max_treated, max_per_arm, arms)
    problem = AllocationProblem(array, cost_array, arms, index, low, high, total, per_arm)
    lowest, highest = problem.spend_range()
    if low - budget_tolerance(low) > highest:
        raise InfeasibleBudgetError(
            f"min_budget={low!r} cannot be reached: treating every customer with their "
            f"most expensive arm spends at most {highest!r}"
        )
    if high + budget_tolerance(high) < lowest:  # only possible with negative costs
        raise InfeasibleBudgetError(
            f"max_budget={high!r} cannot be met: the least any allocation spends is {lowest!r}"
        )
    return problem


def spend_and_value(problem: AllocationProblem, assignment: np.ndarray) -> tuple[float, float]:
    """Total value and total cost of ``assignment`` (pairwise float64 sums)."""
    treated = np.flatnonzero(assignment >= 0)
    arm = assignment[treated]
    value = float(problem.values[treated, arm].sum())
    cost = float(problem.costs[treated, arm].sum())
    return value, cost


def check_feasible(problem: AllocationProblem, assignment: np.ndarray, method: str) -> None:
    """Raise :class:`SolverError` if ``assignment`` is malformed or breaks the budget."""
    from .exceptions import SolverError

    if assignment.shape != (problem.n,):
        raise SolverError(f"{method} returned an assignment of shape {assignment.shape}")
    if assignment.min(initial=0) < -1 or assignment.max(initial=-1) >= problem.k:
        raise SolverError(f"{method} returned an arm index outside [-1, {problem.k - 1}]")
    treated = assignment[assignment >= 0]
    if treated.shape[0] > problem.max_treated:
        raise SolverError(
            f"{method} returned an allocation treating {treated.shape[0]} customers > "
            f"max_treated={problem.max_treated:g}; it was discarded"
        )
    if problem.max_per_arm is not None:
        counts = np.bincount(treated, minlength=problem.k)
        over = np.flatnonzero(counts > problem.max_per_arm)
        if over.size:
            j = int(over[0])
            raise SolverError(
                f"{method} gave arm {problem.arms[j]!r} to {counts[j]} customers > its cap "
                f"{problem.max_per_arm[j]:g}; it was discarded"
            )
    _, cost = spend_and_value(problem, assignment)
    if cost > problem.max_budget + budget_tolerance(problem.max_budget):
        raise SolverError(
            f"{method} returned an allocation spending {cost!r} > max_budget="
            f"{problem.max_budget!r}; it was discarded"
        )
    if cost < problem.min_budget - budget_tolerance(problem.min_budget):
        raise SolverError(
            f"{method} returned an allocation spending {cost!r} < min_budget="
            f"{problem.min_budget!r}; it was discarded"
        )


@dataclass(frozen=True)
class SolveOutcome:
    """What a method hands back to :func:`upliftopt.allocate` before checking."""

    assignment: np.ndarray
    status: str
    termination: str
    bound: float
    details: Mapping[str, Any]
