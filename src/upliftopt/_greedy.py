"""The naive greedy allocation rule (the baseline every other method must beat).

The rule is documented in :func:`upliftopt.allocate`. The walk down the ranking
is inherently sequential (a skipped customer changes nothing, a taken one changes
the room left), so it is replayed here in vectorised runs: between two skips the
taken customers form a contiguous run found with one cumulative sum, and the
customers that cannot fit in the current room are skipped in one step.
"""

from __future__ import annotations

import numpy as np

from ._problem import AllocationProblem, SolveOutcome, budget_tolerance
from .exceptions import InfeasibleBudgetError

_FIRST_CHUNK = 4096


def walk(
    cost: np.ndarray, spend: float, cap: float, floor: float | None
) -> tuple[np.ndarray, float]:
    """Replay the skip rule over ``cost`` (already in ranking order).

    A customer is taken when ``spend + cost <= cap``; otherwise skipped. With
    ``floor`` given, the walk stops right after spend first reaches ``floor``.
    Returns the boolean mask of taken customers and the final spend.
    """
    n = cost.shape[0]
    taken = np.zeros(n, dtype=bool)
    pos = 0
    chunk = _FIRST_CHUNK
    while pos < n:
        if floor is not None and spend >= floor:
            break
        stop = min(n, pos + chunk)
        block = cost[pos:stop]
        # Customers who cannot fit in the current room are skipped until the
        # first one who can: the room does not change while nobody is taken.
        fits_now = np.flatnonzero(block <= cap - spend)
        if fits_now.size == 0:
            pos = stop
            chunk *= 2
            continue
        first = fits_now[0]
        run = spend + np.cumsum(block[first:])
        over = np.flatnonzero(run > cap)
        end = over[0] if over.size else run.shape[0]  # run[:end] all fit
        if floor is not None:
            reached = np.flatnonzero(run[:end] >= floor)
            if reached.size:
                end = reached[0] + 1
        if end > 0:
            taken[pos + first : pos + first + end] = True
            spend = float(run[end - 1])
        if over.size and (floor is None or spend < floor):
            pos = pos + first + end + 1  # skip the customer who overshoots
            chunk = _FIRST_CHUNK
        else:
            pos = pos + first + end
            chunk *= 2
    return taken, spend


def solve_greedy(problem: AllocationProblem) -> SolveOutcome:
    """Rank customers by their best net value and take them while the budget lasts."""
    net = problem.net()
    rows = np.arange(problem.n)
    arm = np.argmax(net, axis=1)  # first maximum: lowest column wins ties
    best = net[rows, arm]
    order = np.argsort(-best, kind="stable")  # stable: lowest row wins ties
    cost = np.ascontiguousarray(problem.costs[rows, arm][order])
    cap = problem.max_budget + budget_tolerance(problem.max_budget)
    floor = problem.min_budget - budget_tolerance(problem.min_budget)

    positive = int(np.count_nonzero(best > 0))
    taken = np.zeros(problem.n, dtype=bool)
    taken[:positive], spend = walk(cost[:positive], 0.0, cap, None)
    if spend < floor:
        # Below the minimum: keep walking through non-positive nets until it is met.
        taken[positive:], spend = walk(cost[positive:], spend, cap, floor)
    if spend < floor:
        raise InfeasibleBudgetError(
            f"the greedy rule ends at spend {spend!r}, below min_budget="
            f"{problem.min_budget!r}; the window may still be feasible: use method='exact'"
        )

    assignment = np.full(problem.n, -1, dtype=np.int64)
    chosen = order[taken]
    assignment[chosen] = arm[chosen]

    from ._mckp import lp_bound

    bound = lp_bound(problem)
    return SolveOutcome(
        assignment=assignment,
        status="feasible",
        termination="heuristic",
        bound=bound,
        details={"ranked_positive": positive},
    )
