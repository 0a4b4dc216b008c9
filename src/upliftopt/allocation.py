"""Budgeted allocation of treatments: who gets which arm.

The problem (a multiple-choice knapsack with a lower bound): ``n`` customers,
``K`` arms, net profit ``p_ij = values_ij - costs_ij``. Choose at most one arm
per customer to

.. code-block:: text

    maximise   sum_ij p_ij x_ij
    subject to sum_j x_ij <= 1                           for every customer i
               min_budget <= sum_ij c_ij x_ij <= max_budget

Three methods solve it and return the same :class:`Allocation`:

``"exact"`` (and ``"auto"``, the default, unless a side constraint applies)
    A dedicated multiple-choice knapsack solver: per-customer convex hulls, one
    sort, the LP optimum and its multiplier, a greedy incumbent, reduced-cost
    fixing and a small core solved exactly. Proves optimality in milliseconds
    to seconds, up to tens of millions of customers.
``"scip"``
    The full integer model in OR-Tools with the SCIP backend.
``"greedy"``
    The naive ranking rule (see :func:`allocate`); never better than exact.

Side constraints (``max_treated``: a cap on customers treated, e.g. e-mails
sent, next to the money budget; ``max_per_arm``: a cap per arm) break the
knapsack structure; ``"auto"`` then solves the general model with SCIP.

Spend is compared with the budgets under one tolerance,
``1e-9 * max(1, |budget|)`` (see ``upliftopt._problem.BUDGET_RTOL``).
"""

from __future__ import annotations

import enum
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from ._problem import (
    AllocationProblem,
    align_rows,
    check_feasible,
    make_problem,
    spend_and_value,
)
from ._problem import budget_tolerance as _budget_tolerance

__all__ = ["METHODS", "Allocation", "Status", "allocate", "frontier"]

#: Accepted values of ``method``.
METHODS = ("auto", "exact", "scip", "greedy")


class Status(str, enum.Enum):
    """Outcome of an allocation.

    ``OPTIMAL``
        Proven optimal: ``objective`` is within the solver's stated tolerance of
        ``bound``.
    ``FEASIBLE``
        A feasible allocation that is not proven optimal: a heuristic (greedy),
        or a solver stopped early (see :attr:`Allocation.termination`).

    An infeasible budget never produces an :class:`Allocation`; it raises
    :class:`~upliftopt.InfeasibleBudgetError`.
    """

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"

    def __str__(self) -> str:
        return self.value


#: Why the method stopped (the ``termination`` field), kept apart from ``status``
#: so that a run cut short by the time limit is never mistaken for an optimum.
TERMINATIONS = ("optimal", "time_limit", "gap_limit", "heuristic")


def relative_gap(objective: float, bound: float) -> float:
    """``(bound - objective) / max(1, |bound|)``; NaN when there is no bound."""
    if not math.isfinite(bound):
        return math.nan
    return max(0.0, bound - objective) / max(1.0, abs(bound))


def _readonly(array: np.ndarray) -> np.ndarray:
    array = np.array(array, copy=True)
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class Allocation:
    """Result of :func:`allocate`: the decision and how good it provably is.

    Attributes
    ----------
    assignment : ndarray of int64, shape (n,)
        Column position of the arm given to each customer; ``-1`` = untreated.
        Read-only.
    arms : tuple
        Arm labels, in column order (``assignment`` indexes into it).
    value : float
        Total estimated value of the treated customers' arms.
    cost : float
        Total spend of the allocation.
    objective : float
        ``value - cost``. ``value``, ``cost`` and ``objective`` are recomputed in
        float64 from the decoded ``assignment``, never read from a solver.
    status : Status
        ``"optimal"`` or ``"feasible"``.
    termination : str
        Why the method stopped: ``"optimal"``, ``"time_limit"`` (stopped at the
        time limit with an incumbent), ``"gap_limit"`` (stopped once within the
        requested ``relative_gap``) or ``"heuristic"`` (greedy).
    bound : float
        Proven upper bound on the best achievable objective (the LP / Lagrangian
        bound for greedy and exact, SCIP's dual bound for scip).
    gap : float
        ``(bound - objective) / max(1, |bound|)``: 0 for a proven optimum (up to
        the tolerance stated in ``details``).
    method : str
        The method that produced it (``"exact"``, ``"scip"`` or ``"greedy"``).
    wall_time : float
        Seconds spent, validation included.
    min_budget, max_budget : float
        The spend window it satisfies.
    index : pandas.Index or None
        Customer index taken from ``values`` when it was a DataFrame.
    details : Mapping
        Method-specific diagnostics, read-only. ``exact``: ``lp_bound``,
        ``multiplier`` (lam*, the LP price of one unit of budget),
        ``incumbent_objective`` (before the core solve), ``core_customers``,
        ``core_options``, ``fixed_customers``, ``tolerance``. ``scip``:
        ``n_variables``, ``build_time``, ``solve_time``, ``backend_status``.
    """

    assignment: np.ndarray
    arms: tuple
    value: float
    cost: float
    objective: float
    status: Status
    termination: str
    bound: float
    gap: float
    method: str
    wall_time: float
    min_budget: float
    max_budget: float
    index: pd.Index | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def n_customers(self) -> int:
        """Number of customers."""
        return int(self.assignment.shape[0])

    @property
    def n_treated(self) -> int:
        """Number of customers who receive an arm."""
        return int(np.count_nonzero(self.assignment >= 0))

    @property
    def treated(self) -> np.ndarray:
        """Boolean mask of the treated customers."""
        return self.assignment >= 0

    def labels(self) -> np.ndarray:
        """Arm label per customer (object array; ``None`` for untreated)."""
        lookup = np.array([*self.arms, None], dtype=object)
        return lookup[self.assignment]

    def arm_counts(self) -> pd.Series:
        """Number of customers given each arm (every arm listed, zeros kept)."""
        counts = np.bincount(self.assignment[self.assignment >= 0], minlength=len(self.arms))
        return pd.Series(counts, index=pd.Index(self.arms, name="arm"), name="customers")

    def to_frame(self) -> pd.DataFrame:
        """One row per customer: ``arm`` (label or None), ``arm_position``, ``treated``.

        The index is the caller's customer index when ``values`` was a DataFrame.
        """
        frame = pd.DataFrame(
            {
                "arm": pd.Series(self.labels(), dtype=object),
                "arm_position": self.assignment,
                "treated": self.treated,
            }
        )
        if self.index is not None:
            frame.index = self.index
        return frame

    def summary(self) -> str:
        """One line: method, status, objective, spend, bound and gap."""
        return (
            f"{self.method}: {self.status} ({self.termination}), objective={self.objective:.6g}, "
            f"value={self.value:.6g}, cost={self.cost:.6g}, treated={self.n_treated}/"
            f"{self.n_customers}, bound={self.bound:.6g}, gap={self.gap:.2e}, "
            f"time={self.wall_time:.3g}s"
        )

    def __repr__(self) -> str:
        return f"Allocation({self.summary()})"


def _finish(
    problem: AllocationProblem,
    assignment: np.ndarray,
    *,
    status: Status,
    termination: str,
    bound: float,
    method: str,
    started: float,
    details: Mapping[str, Any],
) -> Allocation:
    """Check feasibility, recompute totals from the assignment, build the result."""
    assignment = np.asarray(assignment, dtype=np.int64)
    check_feasible(problem, assignment, method)
    value, cost = spend_and_value(problem, assignment)
    objective = value - cost
    if math.isfinite(bound):
        # The bound is a float computation too; never report it below a value we hold.
        bound = max(bound, objective)
    return Allocation(
        assignment=_readonly(assignment),
        arms=problem.arms,
        value=value,
        cost=cost,
        objective=objective,
        status=status,
        termination=termination,
        bound=bound,
        gap=relative_gap(objective, bound),
        method=method,
        wall_time=time.perf_counter() - started,
        min_budget=problem.min_budget,
        max_budget=problem.max_budget,
        index=problem.index,
        details=MappingProxyType(dict(details)),
    )


def _check_time_limit(time_limit: Any) -> float | None:
    if time_limit is None:
        return None
    try:
        limit = float(time_limit)
    except (TypeError, ValueError):
        raise ValueError(
            f"time_limit must be a number of seconds or None; got {time_limit!r}"
        ) from None
    if not limit > 0:
        raise ValueError(f"time_limit must be > 0 seconds; got {time_limit!r}")
    return None if math.isinf(limit) else limit


def _check_relative_gap(gap: Any) -> float:
    try:
        value = float(gap)
    except (TypeError, ValueError):
        raise ValueError(f"relative_gap must be a number; got {gap!r}") from None
    if not 0.0 <= value < 1.0:
        raise ValueError(f"relative_gap must be in [0, 1); got {gap!r}")
    return value


def allocate(
    values: Any,
    costs: Any,
    *,
    min_budget: float | None = None,
    max_budget: float = math.inf,
    method: str = "auto",
    time_limit: float | None = None,
    relative_gap: float = 0.0,
    max_treated: int | None = None,
    max_per_arm: Any = None,
) -> Allocation:
    """Give each customer at most one arm, maximising net value within a budget.

    Parameters
    ----------
    values : array-like or DataFrame of shape (n, K)
        Estimated incremental value of each arm (column) for each customer
        (row). A DataFrame's columns are the arm labels and its index is kept.
        A 1-D array is one arm.
    costs : float, array-like of shape (K,), mapping {arm: cost}, or (n, K)
        Cost of giving an arm: one number for all, one per arm, or one per
        customer and arm. Zero and negative costs are allowed.
    min_budget, max_budget : float, default None (no minimum) and inf (no cap)
        Total spend must lie in ``[min_budget, max_budget]`` (both >= 0 when
        given; equal values ask for an exact spend). Compared with a relative
        tolerance of 1e-9. Without a minimum, spend may even be negative when
        some costs are (an arm that earns money by itself).
    method : {"auto", "exact", "scip", "greedy"}, default "auto"
        ``"auto"`` uses ``"exact"``, or ``"scip"`` when a side constraint
        (``max_treated``, ``max_per_arm``) needs the general integer model.
        See the module docstring.
    time_limit : float or None
        Seconds allowed to the MIP solver (SCIP, or the core solve of
        ``"exact"``). When it runs out with an incumbent, the result has
        ``status="feasible"``, ``termination="time_limit"`` and an honest gap;
        without one, :class:`~upliftopt.SolverError` is raised.
    relative_gap : float, default 0
        Stop once ``(bound - objective) / max(1, |bound|)`` is at most this.
        The default asks for a proven optimum.
    max_treated : int, optional
        Side constraint: at most this many customers treated in all (e.g. a cap
        on e-mails sent, next to a money budget). Solved by SCIP.
    max_per_arm : int per arm (sequence in column order, or mapping {arm: cap}), optional
        Side constraint: at most this many customers per arm (arms a mapping
        omits are uncapped). Solved by SCIP.

    Returns
    -------
    Allocation
        Checked for feasibility before it is returned.

    Raises
    ------
    ValueError
        Bad input: NaN or infinite entries (the cell is named), shape
        mismatches, unknown arm labels, negative budgets,
        ``min_budget > max_budget``, an unknown method.
    InfeasibleBudgetError
        No allocation spends inside the window.
    SolverUnavailableError
        ``method="scip"`` and the installed OR-Tools has no SCIP.
    SolverError
        The solver stopped without any feasible allocation.

    Notes
    -----
    The greedy rule, exactly: each customer's candidate arm is the one with the
    largest net value ``values - costs`` (ties: lowest column). Customers are
    ranked by that net value, largest first (ties: lowest row). Walking down the
    ranking, a customer is treated with their candidate arm when (a) its net is
    positive, or spend is still below ``min_budget``, and (b) spend stays within
    ``max_budget``; a customer who would overshoot ``max_budget`` is skipped and
    the walk goes on. It never exceeds the budget. If the walk ends below
    ``min_budget``, :class:`~upliftopt.InfeasibleBudgetError` is raised (the
    window may still be feasible for ``"exact"``).

    Ties: ``"exact"`` and ``"greedy"`` leave a customer untreated when their best
    net is exactly 0 and nothing forces spend, and prefer lower rows and columns
    among equal options. ``"scip"`` returns an optimum without this guarantee.

    Examples
    --------
    >>> import numpy as np
    >>> from upliftopt import allocate
    >>> values = np.array([[3.0, 1.0], [2.0, 2.5], [0.5, 0.2]])
    >>> result = allocate(values, costs=[1.0, 1.5], max_budget=2.0)
    >>> result.assignment.tolist(), round(result.objective, 6), str(result.status)
    ([0, 0, -1], 3.0, 'optimal')
    """
    started = time.perf_counter()
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, METHODS))}; got {method!r}")
    limit = _check_time_limit(time_limit)
    gap = _check_relative_gap(relative_gap)
    problem = make_problem(values, costs, min_budget, max_budget, max_treated, max_per_arm)
    if problem.has_side_constraints:
        if method in ("exact", "greedy"):
            raise ValueError(
                f"method={method!r} does not take max_treated or max_per_arm; these side "
                "constraints need the general integer model: use method='auto' or 'scip'"
            )
        method = "scip"

    if method == "greedy":
        from ._greedy import solve_greedy

        outcome = solve_greedy(problem)
    elif method == "scip":
        from ._scip import solve_scip

        outcome = solve_scip(problem, time_limit=limit, relative_gap=gap)
    else:
        from ._mckp import solve_exact

        outcome = solve_exact(problem, time_limit=limit, relative_gap=gap)
        method = "exact"
    return _finish(
        problem,
        outcome.assignment,
        status=Status(outcome.status),
        termination=outcome.termination,
        bound=outcome.bound,
        method=method,
        started=started,
        details=outcome.details,
    )


def _check_budgets(budgets: Any, name: str = "budgets") -> np.ndarray:
    array = np.atleast_1d(np.asarray(budgets, dtype=np.float64))
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence of numbers")
    if not np.isfinite(array).all() or (array < 0).any():
        raise ValueError(f"{name} must be finite and >= 0; got {array.tolist()!r}")
    return array


def frontier(
    values: Any,
    costs: Any,
    budgets: Any = None,
    *,
    n_budgets: int = 21,
    true_values: Any = None,
    random_state: int | np.random.Generator | None = None,
) -> pd.DataFrame:
    """Best achievable value at many budgets, from one sort, next to greedy and random.

    For each budget ``b`` (used as ``max_budget``, without a minimum) the
    frame reports the LP bound, the proven-optimal objective (the exact solver,
    reusing one hull-and-sort of all options), the greedy rule's objective and
    that of a random allocation (customers in a random order, each with a
    uniformly random arm, taken while the budget lasts, whatever their value).

    Parameters
    ----------
    values, costs
        As for :func:`allocate`.
    budgets : sequence of float, optional
        Budgets to evaluate. Default: ``n_budgets`` evenly spaced points from 0
        to the spend of the unconstrained optimum.
    n_budgets : int, default 21
        Number of default budgets.
    true_values : array-like (n, K), optional
        True incremental values (e.g. ``tau`` of synthetic data); adds columns
        ``exact_true``, ``greedy_true`` and ``random_true``: the net value of each
        allocation under the truth.
    random_state : int, Generator or None
        Seed of the random allocation.

    Returns
    -------
    DataFrame
        One row per budget: ``budget``, ``lp_bound``, ``exact``, ``exact_spend``,
        ``greedy``, ``random`` (objectives on ``values``), plus the ``*_true``
        columns when ``true_values`` is given.

    Examples
    --------
    >>> import numpy as np
    >>> from upliftopt import frontier
    >>> values = np.array([[3.0, 1.0], [2.0, 2.5], [0.5, 0.2]])
    >>> table = frontier(values, costs=[1.0, 1.5], budgets=[0.0, 1.0, 2.0])
    >>> table[["budget", "exact", "greedy"]].to_numpy().tolist()
    [[0.0, 0.0, 0.0], [1.0, 2.0, 2.0], [2.0, 3.0, 3.0]]
    """
    from ._greedy import GreedyRanking, walk
    from ._mckp import EdgeIndex

    problem = make_problem(values, costs, None, math.inf)
    truth = None
    if true_values is not None:
        if isinstance(true_values, pd.DataFrame) and isinstance(values, pd.DataFrame):
            true_values = align_rows(true_values, problem.index, "true_values")
            missing = [arm for arm in problem.arms if arm not in true_values.columns]
            if missing:
                raise ValueError(f"true_values has no column for arm(s) {missing!r}")
            true_values = true_values[list(problem.arms)]
        truth = make_problem(true_values, costs, None, math.inf)
        if truth.values.shape != problem.values.shape:
            raise ValueError(
                f"true_values has shape {truth.values.shape}, values {problem.values.shape}"
            )
    if not isinstance(n_budgets, int | np.integer) or n_budgets < 2:
        raise ValueError(f"n_budgets must be an integer >= 2; got {n_budgets!r}")
    net = problem.net()
    index = EdgeIndex(net, problem.costs, negative=False)
    if budgets is None:
        top = max(float(index.cum_cost[index.n_positive]), 0.0)
        budgets = np.linspace(0.0, top, n_budgets)
    budgets = _check_budgets(budgets)
    ranking = GreedyRanking(net, problem.costs)

    rng = np.random.default_rng(random_state)
    shuffled = rng.permutation(problem.n)
    random_arm = rng.integers(0, problem.k, size=problem.n)
    random_cost = problem.costs[shuffled, random_arm[shuffled]]

    rows = []
    for budget in budgets:
        high = budget + 0.5 * _budget_tolerance(budget)
        split = index.split(-math.inf, high)
        exact = index.solve(-math.inf, float(budget)).assignment
        greedy = ranking.assign(-math.inf, float(budget))
        taken, _ = walk(random_cost, 0.0, budget + _budget_tolerance(budget), None)
        rand = np.full(problem.n, -1, dtype=np.int64)
        rand[shuffled[taken]] = random_arm[shuffled[taken]]
        row = {"budget": float(budget), "lp_bound": split.lp_value}
        for name, assignment in (("exact", exact), ("greedy", greedy), ("random", rand)):
            value, cost = spend_and_value(problem, assignment)
            row[name] = value - cost
            if name == "exact":
                row["exact_spend"] = cost
            if truth is not None:
                true_value, true_cost = spend_and_value(truth, assignment)
                row[f"{name}_true"] = true_value - true_cost
        rows.append(row)
    return pd.DataFrame(rows)
