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


class GreedyRanking:
    """The greedy ranking of a problem, computed once, walked for any budget."""

    def __init__(self, net: np.ndarray, costs: np.ndarray) -> None:
        rows = np.arange(net.shape[0])
        self.arm = np.argmax(net, axis=1)  # first maximum: lowest column wins ties
        best = net[rows, self.arm]
        self.order = np.argsort(-best, kind="stable")  # stable: lowest row wins ties
        self.cost = np.ascontiguousarray(costs[rows, self.arm][self.order])
        self.positive = int(np.count_nonzero(best > 0))

    def assign(self, min_budget: float, max_budget: float) -> np.ndarray:
        """Assignment (-1 = untreated) of the greedy walk for this budget window."""
        cap = max_budget + budget_tolerance(max_budget)
        floor = min_budget - budget_tolerance(min_budget)
        taken = np.zeros(self.order.shape[0], dtype=bool)
        taken[: self.positive], spend = walk(self.cost[: self.positive], 0.0, cap, None)
        if spend < floor:
            # Below the minimum: keep walking through non-positive nets until it is met.
            taken[self.positive :], spend = walk(self.cost[self.positive :], spend, cap, floor)
        if spend < floor:
            raise InfeasibleBudgetError(
                f"the greedy rule ends at spend {spend!r}, below min_budget="
                f"{min_budget!r}; the window may still be feasible: use method='exact'"
            )
        assignment = np.full(self.order.shape[0], -1, dtype=np.int64)
        chosen = self.order[taken]
        assignment[chosen] = self.arm[chosen]
        return assignment


def solve_greedy(problem: AllocationProblem) -> SolveOutcome:
    """Rank customers by their best net value and take them while the budget lasts."""
    ranking = GreedyRanking(problem.net(), problem.costs)
    assignment = ranking.assign(problem.min_budget, problem.max_budget)

    from ._mckp import lp_bound

    return SolveOutcome(
        assignment=assignment,
        status="feasible",
        termination="heuristic",
        bound=lp_bound(problem),
        details={"ranked_positive": ranking.positive},
    )
