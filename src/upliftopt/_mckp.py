"""Exact multiple-choice knapsack solver with a certificate of optimality.

Algorithm (the concepts guide derives it):

1. Every customer has the null option (cost 0, profit 0) besides their K arms.
   With a price ``lam`` on spend, customer ``i`` picks ``argmax_j p_ij - lam c_ij``.
   As ``lam`` falls from +inf, the pick walks along the customer's upper convex
   hull in the (cost, profit) plane, one hull *edge* at a time; an edge's
   efficiency is ``e = dp / dc``. Hulls are found by gift wrapping, vectorised
   over customers (K+1 steps of K+1 comparisons), in chunks of rows.
2. All edges of all customers are sorted once by efficiency. Prefixes of that
   order are the LP's vertices, so the LP optimum for any budget is a binary
   search away; the edge where spend crosses the budget is the *split edge*
   and its efficiency is ``lam*``.
3. An integral incumbent: the prefix before the split plus a greedy fill with
   other customers' next edges, or the split taken and the least efficient
   taken edges given back; then a local search over single and paired moves.
4. The Lagrangian bound ``D = sum_i max_j (p_ij - lam* c_ij)^+ + lam* B`` holds
   for every allocation, and an allocation that uses options of total reduced
   cost ``R`` is worth at most ``D - R``. So only options of reduced cost below
   ``D - incumbent`` can appear in a better allocation: every other customer is
   fixed at their Lagrangian choice. What is left is a small *core*.
5. The core is solved exactly: by dynamic programming when its costs lie on a
   decimal grid (0.1, 0.25, whole units, ...), by SCIP otherwise. The optimum
   is the fixed part plus the core optimum; the certificate is ``D``,
   ``lam*``, the incumbent and the size of the core.

Optimality is proven up to ``OPTIMALITY_RTOL`` (relative, 1e-9): the returned
objective is within ``1e-9 * max(1, |D|)`` of the best achievable.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import numpy as np

from ._greedy import walk
from ._problem import AllocationProblem, SolveOutcome, budget_tolerance
from .exceptions import InfeasibleBudgetError, SolverError

logger = logging.getLogger(__name__)

#: Relative optimality tolerance: "optimal" means
#: ``bound - objective <= OPTIMALITY_RTOL * max(1, |bound|)``.
OPTIMALITY_RTOL = 1e-9

#: States kept by the heuristic (beam) pass of the core programme.
BEAM_WIDTH = 20_000

#: Rows per chunk in the passes over all customers (bounds temporary memory).
_CHUNK_ROWS = 1 << 18


# --------------------------------------------------------------------- hulls
def _wrap_chunk(
    net: np.ndarray, costs: np.ndarray, negative: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Gift-wrap the upper hull of each row's options (null option = column 0).

    Returns ``option`` (rows, K+1) int8 (hull point options, -1 = null; only
    the first ``1 + edges`` entries of a row are meaningful), and per edge
    slot (rows, K): ``dc`` (0 where there is no edge), ``dp``.
    Edges with ``dp <= 0`` are only followed when ``negative`` is set (they
    matter only when a minimum budget forces spend).
    """
    rows, k = net.shape
    cost = np.zeros((rows, k + 1))
    cost[:, 1:] = costs
    profit = np.zeros((rows, k + 1))
    profit[:, 1:] = net
    # Start at the cheapest option; among equal costs the most profitable; then
    # the lowest column (null first).
    cheapest = cost == cost.min(axis=1)[:, None]
    current = np.argmax(np.where(cheapest, profit, -np.inf), axis=1)
    index = np.arange(rows)
    cur_cost = cost[index, current]
    cur_profit = profit[index, current]
    option = np.full((rows, k + 1), -1, dtype=np.int8)
    option[:, 0] = current - 1
    edge_dc = np.zeros((rows, k))
    edge_dp = np.zeros((rows, k))
    active = index
    for step in range(k):
        ahead_cost = cost[active] - cur_cost[active, None]
        ahead_profit = profit[active] - cur_profit[active, None]
        ahead = ahead_cost > 0
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            slope = np.where(ahead, ahead_profit / np.where(ahead, ahead_cost, 1.0), -np.inf)
        best = slope.max(axis=1)
        has_next = best > (0.0 if not negative else -np.inf)
        # The nearest point on the steepest line (keeps collinear points), then
        # the lowest column.
        steepest = slope == best[:, None]
        nearest = np.argmin(np.where(steepest, ahead_cost, np.inf), axis=1)
        active, nearest = active[has_next], nearest[has_next]
        if not active.size:
            break
        next_cost = cost[active, nearest]
        next_profit = profit[active, nearest]
        edge_dc[active, step] = next_cost - cur_cost[active]
        edge_dp[active, step] = next_profit - cur_profit[active]
        option[active, step + 1] = nearest - 1
        cur_cost[active] = next_cost
        cur_profit[active] = next_profit
    return option, edge_dc, edge_dp


@dataclass
class _Split:
    """Where the LP path meets the budget window."""

    prefix: int  # edges taken whole by the LP
    fraction: float  # share of the split edge (rank ``prefix``) the LP takes, in [0, 1)
    lam: float  # LP price of one unit of spend (0 when no budget binds)
    lp_value: float  # LP optimum


@dataclass
class _Near:
    """Options whose reduced cost at lam* is small: candidates to change."""

    row: np.ndarray  # customer
    arm: np.ndarray  # column, -1 = null option
    reduced: np.ndarray  # reduced cost (>= 0)

    def select(self, mask: np.ndarray) -> _Near:
        return _Near(self.row[mask], self.arm[mask], self.reduced[mask])


class EdgeIndex:
    """All hull edges of all customers, sorted once by decreasing efficiency.

    Built once per (values, costs); :meth:`solve` then answers any budget
    window (that is how :func:`upliftopt.frontier` reuses one sort).

    Parameters
    ----------
    net, costs : ndarray (n, K)
        Net profit and cost of every option.
    negative : bool
        Also follow unprofitable edges (needed when a minimum budget forces
        spend beyond the profitable options).
    """

    def __init__(self, net: np.ndarray, costs: np.ndarray, *, negative: bool) -> None:
        self.n, self.k = net.shape
        self.net, self.costs, self.negative = net, costs, negative
        self.min_spend = float(np.minimum(costs.min(axis=1), 0.0).sum())
        self.max_spend = float(np.maximum(costs.max(axis=1), 0.0).sum())
        options, customers, positions, dcs, dps = [], [], [], [], []
        customer_type = np.int32 if self.n < 2**31 - 1 else np.int64
        for start in range(0, self.n, _CHUNK_ROWS):
            stop = min(self.n, start + _CHUNK_ROWS)
            option, dc, dp = _wrap_chunk(net[start:stop], costs[start:stop], negative)
            real = dc > 0
            row, slot = np.nonzero(real)  # row-major: customer, then hull position
            options.append(option)
            customers.append((row + start).astype(customer_type))
            positions.append((slot + 1).astype(np.int8))
            dcs.append(dc[real])
            dps.append(dp[real])
        self.hull_option = np.concatenate(options)
        rows = np.arange(self.n)
        base = self.hull_option[:, 0].astype(np.int64)
        base_treated = base >= 0
        self.base_cost = float(np.where(base_treated, costs[rows, np.maximum(base, 0)], 0.0).sum())
        self.base_profit = float(np.where(base_treated, net[rows, np.maximum(base, 0)], 0.0).sum())
        customer = np.concatenate(customers)
        position = np.concatenate(positions)
        dc = np.concatenate(dcs)
        dp = np.concatenate(dps)
        del options, customers, positions, dcs, dps
        with np.errstate(over="ignore"):
            efficiency = dp / dc
        # Stable sort: ties keep (customer, position) order, which is deterministic
        # and keeps each customer's edges in hull order.
        order = np.argsort(-efficiency, kind="stable")
        del efficiency
        self.edge_customer = customer[order]
        del customer
        self.edge_position = position[order]
        del position
        self.edge_dc = dc[order]
        del dc
        self.edge_dp = dp[order]
        del dp, order
        self.n_edges = self.edge_dc.shape[0]
        self.cum_cost = np.empty(self.n_edges + 1)
        self.cum_cost[0] = 0.0
        np.cumsum(self.edge_dc, out=self.cum_cost[1:])
        self.cum_cost += self.base_cost
        self.n_positive = int(np.count_nonzero(self.edge_dp > 0))

    # ------------------------------------------------------------------ LP
    def efficiency(self, rank: int) -> float:
        """Efficiency of the edge at ``rank``."""
        return float(self.edge_dp[rank] / self.edge_dc[rank])

    def prefix_profit(self, k: int) -> float:
        """Profit after the first ``k`` edges (pairwise sum, not a running sum)."""
        return self.base_profit + float(self.edge_dp[:k].sum())

    def split(self, low: float, high: float) -> _Split:
        """LP optimum over the spend window ``[low, high]`` (tolerances applied)."""
        free = self.n_positive
        spend_free = self.cum_cost[free]
        if spend_free > high:
            # the maximum binds: the last prefix within it, then part of the next edge
            k = int(np.searchsorted(self.cum_cost, high, side="right")) - 1
            k = min(max(k, 0), free - 1)
            fraction = min(1.0, max(0.0, (high - self.cum_cost[k]) / self.edge_dc[k]))
            value = self.prefix_profit(k) + fraction * float(self.edge_dp[k])
            return _Split(k, fraction, self.efficiency(k), value)
        if spend_free < low and self.n_edges > free:
            # the minimum binds: keep taking the least unprofitable edges until it is met
            k = int(np.searchsorted(self.cum_cost, low, side="left")) - 1
            k = min(max(k, free), self.n_edges - 1)
            fraction = min(1.0, max(0.0, (low - self.cum_cost[k]) / self.edge_dc[k]))
            value = self.prefix_profit(k) + fraction * float(self.edge_dp[k])
            return _Split(k, fraction, min(0.0, self.efficiency(k)), value)
        return _Split(free, 0.0, 0.0, self.prefix_profit(free))

    def lagrangian(
        self, lam: float, theta: float | None = None
    ) -> tuple[float, np.ndarray, _Near | None]:
        """One pass over all options at price ``lam``.

        Returns ``sum_i max(0, max_j p_ij - lam c_ij)``, each customer's
        Lagrangian choice (-1 = null; ties go to the null option, then the
        lowest column) and, when ``theta`` is given, every option whose reduced
        cost ``max_j' (p_ij' - lam c_ij')^+ - (p_ij - lam c_ij)`` is at most ``theta``.
        """
        total = 0.0
        choice = np.empty(self.n, dtype=np.int64)
        near_rows, near_arms, near_reduced = [], [], []
        for start in range(0, self.n, _CHUNK_ROWS):
            stop = min(self.n, start + _CHUNK_ROWS)
            value = self.net[start:stop] - lam * self.costs[start:stop]
            top = value.max(axis=1)
            best = np.maximum(top, 0.0)
            total += float(best.sum())
            choice[start:stop] = np.where(top > 0, np.argmax(value, axis=1), -1)
            if theta is not None:
                reduced = best[:, None] - value
                row, arm = np.nonzero(reduced <= theta)
                null = np.flatnonzero(best <= theta)
                near_rows += [row + start, null + start]
                near_arms += [arm, np.full(null.shape[0], -1)]
                near_reduced += [reduced[row, arm], best[null]]
        near = None
        if theta is not None:
            row = np.concatenate(near_rows)
            arm = np.concatenate(near_arms)
            order = np.lexsort((arm, row))
            near = _Near(row[order], arm[order], np.concatenate(near_reduced)[order])
        return total, choice, near

    # ------------------------------------------------------------ incumbent
    def evaluate(self, option: np.ndarray) -> tuple[float, float]:
        """(profit, spend) of a per-customer option vector (-1 = none)."""
        treated = np.flatnonzero(option >= 0)
        arm = option[treated]
        return float(self.net[treated, arm].sum()), float(self.costs[treated, arm].sum())

    def _positions(self, k: int) -> np.ndarray:
        """Hull position of every customer after the first ``k`` edges."""
        return np.bincount(self.edge_customer[:k], minlength=self.n).astype(np.int64)

    def _choice(self, positions: np.ndarray) -> np.ndarray:
        return self.hull_option[np.arange(self.n), positions].astype(np.int64)

    def _fill(
        self, positions: np.ndarray, spend: float, start: int, low: float, high: float
    ) -> tuple[np.ndarray, float]:
        """Greedy fill with other customers' next edges (rank >= start), best first."""
        room = high - spend
        ranks = start + np.flatnonzero(self.edge_dc[start:] <= room)
        ranks = ranks[self.edge_position[ranks] == positions[self.edge_customer[ranks]] + 1]
        if not ranks.size:
            return positions, spend
        n_profitable = int(np.count_nonzero(self.edge_dp[ranks] > 0))  # they come first
        take = np.zeros(ranks.shape[0], dtype=bool)
        take[:n_profitable], spend = walk(self.edge_dc[ranks[:n_profitable]], spend, high, None)
        if spend < low:
            take[n_profitable:], spend = walk(self.edge_dc[ranks[n_profitable:]], spend, high, low)
        positions = positions.copy()
        positions[self.edge_customer[ranks[take]]] += 1
        return positions, spend

    def _give_back(
        self, positions: np.ndarray, spend: float, stop: int, low: float, high: float,
        protect: int,
    ) -> tuple[np.ndarray, float]:  # fmt: skip
        """Undo the least efficient taken edges (ranks < stop) until spend <= high."""
        positions = positions.copy()
        excess, removable = spend - high, spend - low
        removed = 0.0
        window = 4096
        end = stop
        while end > 0 and removed < excess:
            begin = max(0, end - window)
            ranks = np.arange(end - 1, begin - 1, -1)
            customer = self.edge_customer[ranks]
            last = (self.edge_position[ranks] == positions[customer]) & (customer != protect)
            ranks = ranks[last]
            give, removed = walk(self.edge_dc[ranks], removed, removable, excess)
            positions[self.edge_customer[ranks[give]]] -= 1
            end, window = begin, window * 2
        return positions, spend - removed

    def _trim_unprofitable(
        self, positions: np.ndarray, spend: float, low: float
    ) -> tuple[np.ndarray, float]:
        """Undo loss-making taken edges, worst first, while spend stays >= low."""
        ranks = np.arange(self.n_edges - 1, self.n_positive - 1, -1)
        ranks = ranks[self.edge_position[ranks] == positions[self.edge_customer[ranks]]]
        give, removed = walk(self.edge_dc[ranks], 0.0, spend - low, None)
        positions = positions.copy()
        positions[self.edge_customer[ranks[give]]] -= 1
        return positions, spend - removed

    def incumbents(self, split: _Split, low: float, high: float) -> list[np.ndarray]:
        """Candidate integral allocations (option vectors) around the LP optimum."""
        k = split.prefix
        candidates = []
        if k >= self.n_edges or (split.fraction == 0.0 and low <= self.cum_cost[k] <= high):
            candidates.append(self._positions(k))
        if k < self.n_edges:
            split_customer = int(self.edge_customer[k])
            # (a) round down: the prefix without the split edge, then fill.
            down, spend = self._fill(self._positions(k), float(self.cum_cost[k]), k + 1, low, high)
            if low <= spend <= high:
                if split.lam < 0:
                    down, spend = self._trim_unprofitable(down, spend, low)
                candidates.append(down)
            # (b) round up: the split edge too, then give back the least efficient edges.
            up, spend = self._positions(k + 1), float(self.cum_cost[k + 1])
            if spend > high:
                up, spend = self._give_back(up, spend, k, low, high, split_customer)
            if low <= spend <= high:
                up, spend = self._fill(up, spend, k + 1, low, high)
                if split.lam < 0:
                    up, spend = self._trim_unprofitable(up, spend, low)
                candidates.append(up)
        return [self._choice(positions) for positions in candidates]

    def _improve(
        self,
        option: np.ndarray,
        value: float,
        near: _Near,
        bound: float,
        low: float,
        high: float,
        rounds: int = 8,
        max_moves: int = 4000,
    ) -> tuple[np.ndarray, float]:
        """Local search: the best single move, or pair of moves, that improves the incumbent.

        Only options of small reduced cost can be part of a better allocation, so
        the moves considered are few (at most ``max_moves``, smallest reduced
        cost first) and all pairs are scanned vectorised.
        """
        spend = self.evaluate(option)[1]
        for _ in range(rounds):
            theta = bound - value
            moves = near.select((near.reduced <= theta) & (near.arm != option[near.row]))
            if not moves.row.size:
                break
            if moves.row.shape[0] > max_moves:
                moves = moves.select(np.argsort(moves.reduced, kind="stable")[:max_moves])
            now = option[moves.row]
            now_cost = np.where(now >= 0, self.costs[moves.row, np.maximum(now, 0)], 0.0)
            now_profit = np.where(now >= 0, self.net[moves.row, np.maximum(now, 0)], 0.0)
            is_arm = moves.arm >= 0
            arm = np.maximum(moves.arm, 0)
            d_cost = np.where(is_arm, self.costs[moves.row, arm], 0.0) - now_cost
            d_profit = np.where(is_arm, self.net[moves.row, arm], 0.0) - now_profit
            lo, hi = low - spend, high - spend
            best_gain, best_moves = 0.0, ()
            single = (d_cost >= lo) & (d_cost <= hi) & (d_profit > 0)
            if single.any():
                pick = int(np.flatnonzero(single)[np.argmax(d_profit[single])])
                best_gain, best_moves = float(d_profit[pick]), (pick,)
            m = moves.row.shape[0]
            for start in range(0, m, 512):
                block = slice(start, min(m, start + 512))
                pair_cost = d_cost[block, None] + d_cost[None, :]
                valid = (pair_cost >= lo) & (pair_cost <= hi)
                valid &= moves.row[block, None] != moves.row[None, :]
                pair_gain = np.where(valid, d_profit[block, None] + d_profit[None, :], -np.inf)
                flat = int(np.argmax(pair_gain))
                if pair_gain.flat[flat] > best_gain:
                    a, b = divmod(flat, m)
                    best_gain, best_moves = float(pair_gain.flat[flat]), (start + a, b)
            if not best_moves:
                break
            candidate = option.copy()
            for pick in best_moves:
                candidate[moves.row[pick]] = moves.arm[pick]
            new_value, new_spend = self.evaluate(candidate)
            if not (low <= new_spend <= high) or new_value <= value:
                break
            option, value, spend = candidate, new_value, new_spend
        return option, value

    # ---------------------------------------------------------------- solve
    def solve(
        self,
        low_budget: float,
        high_budget: float,
        *,
        time_limit: float | None = None,
        relative_gap: float = 0.0,
    ) -> SolveOutcome:
        """Proven optimum for the spend window ``[low_budget, high_budget]``."""
        tol_low, tol_high = budget_tolerance(low_budget), budget_tolerance(high_budget)
        # Work strictly inside the tolerated window, so that float error in running
        # sums can never push a returned allocation outside it.
        low, high = low_budget - 0.5 * tol_low, high_budget + 0.5 * tol_high
        split = self.split(low, high)
        if split.lam > 0:
            priced = high_budget + tol_high
        elif split.lam < 0:
            priced = low_budget - tol_low
        else:
            priced = 0.0
        total, choice, _ = self.lagrangian(split.lam)
        bound = total + split.lam * priced
        tolerance = OPTIMALITY_RTOL * max(1.0, abs(bound))

        incumbent, incumbent_value = None, -math.inf
        for option in self.incumbents(split, low, high):
            value, spend = self.evaluate(option)
            if low <= spend <= high and value > incumbent_value:
                incumbent, incumbent_value = option, value
        details = {
            "lp_bound": split.lp_value,
            "multiplier": split.lam,
            "heuristic_objective": incumbent_value,
            "tolerance": tolerance,
            "n_edges": self.n_edges,
        }
        slack = 1e-12 * max(1.0, abs(bound))  # float error in reduced costs
        near = None
        if incumbent is not None and bound - incumbent_value > tolerance:
            _, _, near = self.lagrangian(split.lam, bound - incumbent_value + slack)
            incumbent, incumbent_value = self._improve(
                incumbent, incumbent_value, near, bound, low, high
            )
            if bound - incumbent_value > tolerance:
                incumbent, incumbent_value = self._beam_search(
                    incumbent, incumbent_value, near, choice, bound, split.lam,
                    low_budget, high_budget,
                )  # fmt: skip
        details["incumbent_objective"] = incumbent_value
        gap = bound - incumbent_value
        if incumbent is not None and gap <= max(tolerance, relative_gap * max(1.0, abs(bound))):
            proven = gap <= tolerance
            details.update(core_customers=0, core_options=0, core_method="none")
            return SolveOutcome(
                incumbent,
                "optimal" if proven else "feasible",
                "optimal" if proven else "gap_limit",
                bound,
                details,
            )
        if incumbent is None:
            # No heuristic allocation fits the window (a narrow one): search every
            # loss level, up to the worst allocation there is.
            worst = float(np.minimum(self.net.min(axis=1), 0.0).sum())
            theta = bound - worst + 1.0
            _, _, near = self.lagrangian(split.lam, theta)
        else:
            # Only allocations better than incumbent + tolerance/2 are searched for.
            theta = gap - 0.5 * tolerance + slack
            near = near.select(near.reduced <= theta)
        details["search_threshold"] = theta
        return self._solve_core(
            near, choice, incumbent, incumbent_value, bound, split.lam, low_budget, high_budget,
            time_limit=time_limit, relative_gap=relative_gap, details=details,
        )  # fmt: skip

    def _beam_search(
        self,
        incumbent: np.ndarray,
        incumbent_value: float,
        near: _Near,
        choice: np.ndarray,
        bound: float,
        lam: float,
        low_budget: float,
        high_budget: float,
        width: int = BEAM_WIDTH,
    ) -> tuple[np.ndarray, float]:
        """Heuristic: the core programme keeping only its most promising states."""
        theta = bound - incumbent_value
        option, core_rows, core = self._core_split(near.select(near.reduced <= theta), choice)
        if not core_rows.size:
            return incumbent, incumbent_value
        fixed_spend = self.evaluate(option)[1]
        cost, profit, owner, low, high = self._core_problem(
            core, core_rows, fixed_spend, low_budget, high_budget
        )
        flat = _core_dp(
            cost, profit, core.reduced, owner, core_rows.shape[0], low, high, theta, lam,
            cost_grid(cost), beam=width,
        )  # fmt: skip
        if flat is None:
            return incumbent, incumbent_value
        option[core_rows] = core.arm[flat]
        value, spend = self.evaluate(option)
        if value > incumbent_value and self._within(spend, low_budget, high_budget):
            return option, value
        return incumbent, incumbent_value

    def _core_problem(
        self,
        core: _Near,
        core_rows: np.ndarray,
        fixed_spend: float,
        low_budget: float,
        high_budget: float,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
        """Cost, profit and owner (core position) per core option, and the core's window."""
        is_arm = core.arm >= 0
        cost = np.where(is_arm, self.costs[core.row, np.maximum(core.arm, 0)], 0.0)
        profit = np.where(is_arm, self.net[core.row, np.maximum(core.arm, 0)], 0.0)
        owner = np.searchsorted(core_rows, core.row)
        low, high = self._residual_window(low_budget, high_budget, fixed_spend, 0.5)
        return cost, profit, owner, low, high

    def _core_split(self, near: _Near, choice: np.ndarray) -> tuple[np.ndarray, np.ndarray, _Near]:
        """Fixed option vector, core customers and the core's options."""
        counts = np.bincount(near.row, minlength=self.n)
        in_core = counts >= 2
        option = np.where(in_core, -1, choice)
        core_rows = np.flatnonzero(in_core)
        return option, core_rows, near.select(in_core[near.row])

    def _residual_window(
        self, low_budget: float, high_budget: float, fixed_spend: float, slack: float
    ) -> tuple[float, float]:
        """Spend window left for the core once the fixed customers are paid for.

        ``slack`` is the share of the budget tolerance added on each side: 0.5
        for the exact dynamic programme, 0 for SCIP (whose own feasibility
        tolerance already equals the budget tolerance).
        """
        low, high = -math.inf, math.inf
        tol_low, tol_high = budget_tolerance(low_budget), budget_tolerance(high_budget)
        if low_budget - tol_low > self.min_spend:  # the minimum can bind at all
            low = low_budget - fixed_spend - slack * tol_low
        if high_budget + tol_high < self.max_spend:  # the maximum can bind at all
            high = high_budget - fixed_spend + slack * tol_high
        return low, high

    def _solve_core(
        self,
        near: _Near,
        choice: np.ndarray,
        incumbent: np.ndarray,
        incumbent_value: float,
        bound: float,
        lam: float,
        low_budget: float,
        high_budget: float,
        *,
        time_limit: float | None,
        relative_gap: float,
        details: dict,
    ) -> SolveOutcome:
        """Search for allocations better than the incumbent, threshold by threshold.

        Every allocation is worth ``D - loss`` where ``loss`` (its total reduced
        cost plus the priced unused budget) is >= 0. The search first looks only
        at allocations of loss <= theta for a small theta, over the few options
        of reduced cost <= theta; finding one proves it optimal (everything
        outside is worth less). Otherwise theta grows fourfold, up to
        ``D - incumbent - tolerance/2``, where the incumbent itself is proven.
        """
        started = time.perf_counter()
        tolerance = details["tolerance"]
        theta_max = details["search_threshold"]
        theta = min(theta_max, max(tolerance, theta_max / 64.0))
        searched = 0.0  # no allocation has loss <= searched
        rounds = []
        while True:
            subset = near.select(near.reduced <= theta)
            option, core_rows, core = self._core_split(subset, choice)
            fixed_profit, fixed_spend = self.evaluate(option)
            round_info = {"threshold": theta, "core_customers": int(core_rows.shape[0])}
            if not core_rows.size:
                found, method = option, "none"
                if not self._within(fixed_spend, low_budget, high_budget):
                    found = None
            else:
                found, method = self._core_exact(
                    core, core_rows, option, fixed_profit, fixed_spend, lam, theta,
                    low_budget, high_budget, time_limit, started,
                )  # fmt: skip
            round_info["method"] = method
            rounds.append(round_info)
            if found is not None:
                value, spend = self.evaluate(found)
                if value > incumbent_value and self._within(spend, low_budget, high_budget):
                    incumbent, incumbent_value = found, value
                    theta_max = min(theta_max, bound - value - 0.5 * tolerance)
                if bound - value <= theta * (1 + 1e-9) + 1e-12 * max(1.0, abs(bound)):
                    # the best allocation of loss <= theta: nothing outside beats it
                    searched = theta
                    break
            if method == "time_limit":
                break
            searched = theta
            if theta >= theta_max:
                break
            theta = min(theta_max, 4.0 * theta)
        details.update(
            core_customers=rounds[-1]["core_customers"],
            core_method=rounds[-1]["method"],
            core_rounds=len(rounds),
            core_time=time.perf_counter() - started,
        )
        if incumbent is None:
            if rounds[-1]["method"] == "time_limit":
                raise SolverError(
                    "the time limit ran out before any allocation inside the budget window "
                    "was found; raise time_limit"
                )
            raise InfeasibleBudgetError(
                f"no allocation spends between {low_budget!r} and {high_budget!r}: the "
                "options' costs cannot add up to a spend inside that window"
            )
        proven = max(incumbent_value, min(bound, bound - searched))
        if rounds[-1]["method"] == "time_limit":
            return SolveOutcome(incumbent, "feasible", "time_limit", proven, details)
        if proven - incumbent_value <= tolerance:
            return SolveOutcome(incumbent, "optimal", "optimal", proven, details)
        return SolveOutcome(incumbent, "feasible", "gap_limit", proven, details)

    @staticmethod
    def _within(spend: float, low_budget: float, high_budget: float) -> bool:
        return (
            low_budget - budget_tolerance(low_budget)
            <= spend
            <= high_budget + budget_tolerance(high_budget)
        )

    def _core_exact(
        self,
        core: _Near,
        core_rows: np.ndarray,
        option: np.ndarray,
        fixed_profit: float,
        fixed_spend: float,
        lam: float,
        theta: float,
        low_budget: float,
        high_budget: float,
        time_limit: float | None,
        started: float,
    ) -> tuple[np.ndarray | None, str]:
        """Best allocation of loss <= theta within the core, or None if none exists."""
        cost, profit, owner, low, high = self._core_problem(
            core, core_rows, fixed_spend, low_budget, high_budget
        )
        grid = cost_grid(cost)
        try:
            result = _core_dp(
                cost, profit, core.reduced, owner, core_rows.shape[0], low, high, theta, lam,
                grid,
            )  # fmt: skip
            method = "dynamic programme" + (f" (cost grid {grid:g})" if grid else "")
        except _TooManyStates:
            if time_limit is None:
                logger.warning(
                    "the core (%d customers) outgrew the dynamic programme and goes to SCIP "
                    "without a time limit; a narrow budget window with costs off any decimal "
                    "grid is a subset-sum problem that can take very long: widen the window "
                    "or pass time_limit",
                    core_rows.shape[0],
                )
            remaining = None
            if time_limit is not None:
                remaining = time_limit - (time.perf_counter() - started)
                if remaining <= 0:
                    return None, "time_limit"
            found = self._core_scip(
                core, core_rows, option, fixed_profit, fixed_spend, low_budget, high_budget,
                remaining,
            )  # fmt: skip
            return found
        if result is None:
            return None, method
        flat = result
        found = option.copy()
        found[core_rows] = core.arm[flat]
        return found, method

    def _core_scip(
        self,
        core: _Near,
        core_rows: np.ndarray,
        option: np.ndarray,
        fixed_profit: float,
        fixed_spend: float,
        low_budget: float,
        high_budget: float,
        time_limit: float | None,
    ) -> tuple[np.ndarray | None, str]:
        """The core through SCIP (when the dynamic programme would grow too large)."""
        from ._scip import solve_options

        low, high = self._residual_window(low_budget, high_budget, fixed_spend, 0.0)
        null_kept = np.zeros(self.n, dtype=bool)
        null_kept[core.row[core.arm < 0]] = True
        arms = core.select(core.arm >= 0)
        owner = np.searchsorted(core_rows, arms.row)
        try:
            solution = solve_options(
                self.net[arms.row, arms.arm], self.costs[arms.row, arms.arm], owner,
                core_rows.shape[0], low, high, time_limit=time_limit, relative_gap=0.0,
                offset=fixed_profit, must_choose=~null_kept[core_rows],
            )  # fmt: skip
        except InfeasibleBudgetError:
            return None, "scip"
        except SolverError:
            return None, "time_limit"
        if solution.status != "optimal":
            return None, "time_limit"
        found = option.copy()
        picked = solution.chosen >= 0
        found[core_rows[picked]] = arms.arm[solution.chosen[picked]]
        return found, "scip"


# ------------------------------------------------------- core programme
#: Most partial allocations the core dynamic programme may hold at once, and in
#: all (its back-pointers, summed over customers), before the core goes to SCIP.
MAX_CORE_STATES = 1_000_000
MAX_STORED_STATES = 20_000_000


class _TooManyStates(Exception):
    """The core dynamic programme outgrew MAX_CORE_STATES."""


def cost_grid(cost: np.ndarray) -> float | None:
    """The coarsest power-of-ten grid (1, 0.1, ..., 1e-6) all costs lie on, if any."""
    for digits in range(7):
        units = cost * 10.0**digits
        if np.abs(units).max(initial=0.0) > 1e12:
            return None  # too fine for exact integer arithmetic
        # within a millionth of a grid step: float noise, not a different cost
        if np.all(np.abs(units - np.round(units)) <= 1e-6):
            return 10.0**-digits
    return None


class _RestBound:
    """Least extra loss the customers still to come must add, as an LP bound.

    Relative to each customer's zero-loss option, every other option is a
    *move* that changes spend by ``dc`` at reduced cost ``r``. Allowing any
    fraction of any move (several per customer included) relaxes the problem,
    so the cheapest way to shift the remaining spend by ``delta`` costs at
    least ``F(delta)``: a convex, piecewise-linear function read off the moves
    sorted by ``r / |dc|``. A state whose loss plus the cheapest completion
    (shift plus priced unused budget) exceeds theta cannot qualify.
    """

    def __init__(self, move_dc: np.ndarray, move_r: np.ndarray, lam: float) -> None:
        self.lam = lam
        up = move_dc > 0
        down = move_dc < 0
        self.up = self._curve(move_dc[up], move_r[up])
        self.down = self._curve(-move_dc[down], move_r[down])

    @staticmethod
    def _curve(size: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        order = np.argsort(r / size, kind="stable")
        x = np.concatenate([[0.0], np.cumsum(size[order])])
        y = np.concatenate([[0.0], np.cumsum(r[order])])
        return x, y

    def _shift_cost(self, delta: np.ndarray) -> np.ndarray:
        """F(delta): least reduced cost to shift spend by delta (inf beyond reach)."""
        out = np.full(delta.shape, np.inf)
        for side, sign in ((self.up, 1.0), (self.down, -1.0)):
            x, y = side
            mask = (sign * delta >= 0) & (sign * delta <= x[-1])
            out[mask] = np.interp(sign * delta[mask], x, y)
        return out

    def _best_shift(self) -> float:
        """Unconstrained minimiser of F(delta) + |lam| x (distance to the priced budget)."""
        lam = abs(self.lam)
        x, y = self.up if self.lam >= 0 else self.down
        slopes = np.diff(y) / np.maximum(np.diff(x), 1e-300)
        reach = x[1:][slopes < lam]
        best = float(reach[-1]) if reach.size else 0.0
        return best if self.lam >= 0 else -best

    def extra_loss(self, gap_low: np.ndarray, gap_high: np.ndarray) -> np.ndarray:
        """Least added loss for shifts landing in [gap_low, gap_high] (per state)."""
        delta = np.clip(self._best_shift(), gap_low, gap_high)
        cost = self._shift_cost(delta)
        if self.lam > 0:
            cost = cost + self.lam * (gap_high - delta)
        elif self.lam < 0:
            cost = cost - self.lam * (delta - gap_low)
        return cost


def _core_dp(
    cost: np.ndarray,
    profit: np.ndarray,
    loss: np.ndarray,
    owner: np.ndarray,
    n_owners: int,
    low: float,
    high: float,
    theta: float,
    lam: float,
    grid: float | None,
    beam: int | None = None,
) -> np.ndarray | None:
    """Most profitable core allocation of loss <= theta, by dynamic programming.

    With ``beam``, a heuristic instead: past ``beam`` states, only the states
    with the smallest optimistic final loss (loss + bound) are kept.

    Every option is explicit (null options included, ``loss`` = reduced cost),
    so each core customer picks exactly one. A state is a partial allocation:
    its spend, profit and loss so far. A state is dropped when

    * its loss plus the least loss any completion must add (``_RestBound``: the
      remaining customers' LP relaxation, with unused budget priced at lam)
      exceeds ``theta``: every completion is worth less than ``D - theta``;
    * another state dominates it: on a cost grid, the same spend with more
      profit; otherwise, with only the maximum binding, no more spend and more
      profit (with only the minimum binding, no less spend and more profit).

    Customers whose options are cheapest to change come first, so that the
    customers still to come are expensive to move and the bound bites early.
    Returns the chosen flat option per customer, or None when no allocation
    qualifies. Raises ``_TooManyStates`` past ``MAX_CORE_STATES``.
    """
    by_owner = np.argsort(owner, kind="stable")
    starts = np.searchsorted(owner[by_owner], np.arange(n_owners + 1))
    if grid is not None:
        cost = np.round(cost / grid).astype(np.int64)  # exact integer spend
        low = math.ceil(low / grid - 1e-9) if math.isfinite(low) else -math.inf
        high = math.floor(high / grid + 1e-9) if math.isfinite(high) else math.inf
        lam = lam * grid
    caps, floors = math.isfinite(high), math.isfinite(low)
    # each customer's zero-loss option, and every option as a move from it
    by_loss = np.lexsort((loss, owner))  # per customer, least loss first
    base = by_loss[np.searchsorted(owner[by_loss], np.arange(n_owners))]
    move_dc = (cost - cost[base[owner]]).astype(np.float64)
    move_r = loss - loss[base[owner]]
    ratio = np.where(move_dc != 0, move_r / np.maximum(np.abs(move_dc), 1e-300), np.inf)
    cheapest = np.full(n_owners, np.inf)
    np.minimum.at(cheapest, owner, ratio)
    sequence = np.argsort(cheapest, kind="stable")
    position = np.empty(n_owners, dtype=np.int64)
    position[sequence] = np.arange(n_owners)
    base_cost = cost[base].astype(np.float64)
    rest_base = np.concatenate([np.cumsum(base_cost[sequence][::-1])[::-1][1:], [0.0]])

    spend = np.zeros(1, dtype=cost.dtype)
    gain = np.zeros(1)
    lost = np.zeros(1)
    parents, picks = [], []
    stored = 0
    for t, customer in enumerate(sequence):
        options = by_owner[starts[customer] : starts[customer + 1]]
        previous = spend.shape[0]
        # option-major layout: each option's shifted copy of the (sorted) states is one run
        new_spend = (cost[options][:, None] + spend[None, :]).ravel()
        new_gain = (profit[options][:, None] + gain[None, :]).ravel()
        new_lost = (loss[options][:, None] + lost[None, :]).ravel()
        keep = new_lost <= theta
        alive = np.flatnonzero(keep)
        if alive.size:
            rest = position[owner] > t
            bound = _RestBound(move_dc[rest], move_r[rest], lam)
            at_base = new_spend[alive] + rest_base[t]
            gap_low = np.full(alive.shape[0], -np.inf) if not floors else low - at_base
            gap_high = np.full(alive.shape[0], np.inf) if not caps else high - at_base
            optimistic = new_lost[alive] + bound.extra_loss(gap_low, gap_high)
            promising = optimistic <= theta * (1 + 1e-12)
            alive, optimistic = alive[promising], optimistic[promising]
            if beam is not None and alive.shape[0] > beam:
                alive = alive[np.argpartition(optimistic, beam)[:beam]]
        if not alive.size:
            return None
        ranked = alive[np.argsort(new_spend[alive], kind="stable")]
        s_sorted, g_sorted = new_spend[ranked], new_gain[ranked]
        if grid is not None:
            # one state per spend: the most profitable
            order = np.lexsort((-g_sorted, s_sorted))
            ranked, s_sorted, g_sorted = ranked[order], s_sorted[order], g_sorted[order]
            first = np.ones(ranked.shape[0], dtype=bool)
            first[1:] = s_sorted[1:] != s_sorted[:-1]
            ranked, s_sorted, g_sorted = ranked[first], s_sorted[first], g_sorted[first]
        if caps and not floors:
            best_before = np.maximum.accumulate(g_sorted)
            dominant = np.ones(ranked.shape[0], dtype=bool)
            dominant[1:] = g_sorted[1:] > best_before[:-1]
            ranked = ranked[dominant]
        elif floors and not caps:
            reverse = g_sorted[::-1]
            best_after = np.maximum.accumulate(reverse)
            dominant = np.ones(ranked.shape[0], dtype=bool)
            dominant[1:] = reverse[1:] > best_after[:-1]
            ranked = ranked[dominant[::-1]]
        spend, gain, lost = new_spend[ranked], new_gain[ranked], new_lost[ranked]
        parents.append(ranked % previous)
        picks.append(options[ranked // previous])
        stored += spend.shape[0]
        if beam is None and (spend.shape[0] > MAX_CORE_STATES or stored > MAX_STORED_STATES):
            raise _TooManyStates(spend.shape[0])

    feasible = np.ones(spend.shape[0], dtype=bool)
    if caps:
        feasible &= spend <= high
    if floors:
        feasible &= spend >= low
    if not feasible.any():
        return None
    state = int(np.flatnonzero(feasible)[np.argmax(gain[feasible])])
    chosen = np.empty(n_owners, dtype=np.int64)
    for t in range(len(sequence) - 1, -1, -1):
        chosen[sequence[t]] = picks[t][state]
        state = int(parents[t][state])
    return chosen


# ---------------------------------------------------------------- entry points
def needs_negative_edges(problem: AllocationProblem, net: np.ndarray) -> bool:
    """Whether the minimum budget can force spend beyond every profitable option."""
    top = net.max(axis=1)
    best = np.maximum(top, 0.0)
    # spend of the cheapest most-profitable option per customer (null when best is 0)
    at_best = np.where(net == best[:, None], problem.costs, np.inf).min(axis=1)
    spend_free = float(np.where(top > 0, at_best, np.minimum(at_best, 0.0)).sum())
    return problem.min_budget - budget_tolerance(problem.min_budget) > spend_free


def build_index(problem: AllocationProblem) -> EdgeIndex:
    """Hulls and sorted edges for ``problem``."""
    net = problem.net()
    return EdgeIndex(net, problem.costs, negative=needs_negative_edges(problem, net))


def solve_exact(
    problem: AllocationProblem, *, time_limit: float | None, relative_gap: float
) -> SolveOutcome:
    """Entry point used by :func:`upliftopt.allocate` for ``method="exact"``."""
    index = build_index(problem)
    return index.solve(
        problem.min_budget, problem.max_budget, time_limit=time_limit, relative_gap=relative_gap
    )


def lp_bound(problem: AllocationProblem) -> float:
    """Upper bound on the objective: the Lagrangian (= LP) bound at lam*."""
    index = build_index(problem)
    low = problem.min_budget - 0.5 * budget_tolerance(problem.min_budget)
    high = problem.max_budget + 0.5 * budget_tolerance(problem.max_budget)
    split = index.split(low, high)
    total, _, _ = index.lagrangian(split.lam)
    if split.lam > 0:
        return total + split.lam * (problem.max_budget + budget_tolerance(problem.max_budget))
    if split.lam < 0:
        return total + split.lam * (problem.min_budget - budget_tolerance(problem.min_budget))
    return total
