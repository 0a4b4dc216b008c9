"""Exact multiple-choice knapsack solver with a certificate of optimality.

Algorithm (see the concepts guide for the derivation):

1. Every customer has the null option (cost 0, profit 0) besides their K arms.
   With a multiplier ``lam`` on the budget, customer ``i`` picks
   ``argmax_j p_ij - lam c_ij``. As ``lam`` falls from +inf to -inf the pick
   walks along the customer's upper convex hull in the (cost, profit) plane,
   one hull *edge* at a time; an edge's efficiency is ``e = dp / dc``.
2. All edges of all customers are sorted once by efficiency. Prefixes of that
   order are the LP's vertices: spend and profit along it trace the whole
   budget-to-value frontier of the LP. The edge where spend crosses the budget
   is the *split edge*; its efficiency is ``lam*``, the LP optimum is exact.
3. An integral incumbent: the prefix before the split plus a greedy fill of
   other customers' next edges (and, alternatively, the split taken and the
   least efficient taken edges given back), whichever is better.
4. Reduced costs ``r_ij`` at ``lam*`` and the Lagrangian bound ``D`` prove that
   no option with ``r_ij > D - LB`` is in any allocation better than the
   incumbent ``LB``. Customers left with one option are fixed.
5. The few remaining customers (the *core*) go to SCIP with the residual
   budget window, gap 0. Optimum = fixed part + core optimum; the certificate
   is ``D`` (upper bound), ``lam*``, the incumbent and the core size.

Everything is vectorised over customers; Python loops run over at most K+1
hull positions or over the core.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._greedy import walk
from ._problem import AllocationProblem, SolveOutcome, budget_tolerance
from .exceptions import SolverError

#: Relative optimality tolerance of the exact solver: it reports "optimal" when
#: ``bound - objective <= OPTIMALITY_RTOL * max(1, |bound|)``.
OPTIMALITY_RTOL = 1e-9


def _hull(net: np.ndarray, costs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Upper convex hull of each customer's options, null option included.

    Returns ``(option, cost, profit)``, each of shape (n, K+1): hull points
    sorted by increasing cost, padded after the last point by repeating it.
    ``option`` is -1 for the null option, else the arm's column. Collinear
    points are kept (they are useful integral stops); among options of equal
    cost only the most profitable survives (ties: null, then lowest arm).
    """
    n, k = net.shape
    width = k + 1
    profit = np.empty((n, width))
    profit[:, 0] = 0.0
    profit[:, 1:] = net
    cost = np.empty((n, width))
    cost[:, 0] = 0.0
    cost[:, 1:] = costs
    # Two stable sorts: by profit (descending), then by cost (ascending), so that
    # equal costs keep the most profitable first and equal profits keep column order.
    by_profit = np.argsort(-profit, axis=1, kind="stable")
    cost = np.take_along_axis(cost, by_profit, axis=1)
    by_cost = np.argsort(cost, axis=1, kind="stable")
    order = np.take_along_axis(by_profit, by_cost, axis=1)
    cost = np.take_along_axis(cost, by_cost, axis=1)
    profit = np.take_along_axis(profit, order, axis=1)
    del by_profit, by_cost

    valid = np.ones((n, width), dtype=bool)
    valid[:, 1:] = cost[:, 1:] != cost[:, :-1]

    # Andrew's monotone chain, one column at a time for all customers at once.
    stack = np.zeros((n, width), dtype=np.int64)
    top = np.zeros(n, dtype=np.int64)
    rows_all = np.arange(n)
    for j in range(width):
        rows = rows_all[valid[:, j]]
        cj, pj = cost[rows, j], profit[rows, j]
        active = np.arange(rows.shape[0])
        while active.size:
            r = rows[active]
            t = top[r]
            can = t >= 2
            active, r, t = active[can], r[can], t[can]
            if not active.size:
                break
            a, b = stack[r, t - 2], stack[r, t - 1]
            ca, pa = cost[r, a], profit[r, a]
            cb, pb = cost[r, b], profit[r, b]
            # pop b when slope(a, b) < slope(b, new): b lies below the chord
            pop = (pb - pa) * (cj[active] - cb) < (pj[active] - pb) * (cb - ca)
            active, r = active[pop], r[pop]
            top[r] -= 1
        stack[rows, top[rows]] = j
        top[rows] += 1

    last = np.minimum(np.arange(width)[None, :], (top - 1)[:, None])
    points = np.take_along_axis(stack, last, axis=1)
    hull_option = np.take_along_axis(order, points, axis=1) - 1
    hull_cost = np.take_along_axis(cost, points, axis=1)
    hull_profit = np.take_along_axis(profit, points, axis=1)
    return hull_option, hull_cost, hull_profit


@dataclass
class _Split:
    """Where the LP path meets the budget window."""

    prefix: int  # number of whole edges taken by the LP
    fraction: float  # share of the next (split) edge the LP takes, in [0, 1)
    lam: float  # LP multiplier of the binding budget row (0 if none binds)
    bound_budget: float  # the budget the multiplier prices (max or min budget)
    lp_value: float  # LP optimum along the path


class EdgeIndex:
    """All hull edges of all customers, sorted once by decreasing efficiency.

    Built once per (values, costs); :meth:`solve` then answers any budget
    window, which is how :func:`upliftopt.frontier` reuses one sort.
    """

    def __init__(self, net: np.ndarray, costs: np.ndarray) -> None:
        self.n, self.k = net.shape
        option, cost, profit = _hull(net, costs)
        self.hull_option = option.astype(np.int16)
        self.hull_cost = cost
        self.hull_profit = profit
        self.net = net
        self.costs = costs
        self.base_cost = float(cost[:, 0].sum())
        self.base_profit = float(profit[:, 0].sum())

        dc = np.diff(cost, axis=1)
        dp = np.diff(profit, axis=1)
        real = dc > 0  # padding repeats the last point: dc == 0 there
        customer, position = np.nonzero(real)  # row-major: customer, then hull position
        dc, dp = dc[real], dp[real]
        with np.errstate(over="ignore"):
            efficiency = dp / dc
        # Stable sort on -efficiency: ties keep (customer, position) order, which is
        # deterministic and keeps each customer's edges in hull order.
        order = np.argsort(-efficiency, kind="stable")
        self.edge_customer = customer[order].astype(np.int64)
        self.edge_position = (position[order] + 1).astype(np.int16)  # hull point it reaches
        self.edge_dc = dc[order]
        self.edge_dp = dp[order]
        self.edge_eff = efficiency[order]
        self.n_edges = self.edge_dc.shape[0]
        # cum_cost[k] = spend after the first k edges (k = 0 .. n_edges)
        self.cum_cost = np.empty(self.n_edges + 1)
        self.cum_cost[0] = self.base_cost
        np.cumsum(self.edge_dc, out=self.cum_cost[1:])
        self.cum_cost[1:] += self.base_cost
        self.n_positive = int(np.count_nonzero(self.edge_dp > 0))

    # ------------------------------------------------------------------ LP
    def prefix_profit(self, k: int) -> float:
        """Profit after the first ``k`` edges (pairwise sum, not a running sum)."""
        return self.base_profit + float(self.edge_dp[:k].sum())

    def split(self, low: float, high: float) -> _Split:
        """LP optimum over the window ``[low, high]`` (tolerances already applied)."""
        free = self.n_positive  # stop before edges that do not add profit
        spend_free = self.cum_cost[free]
        if spend_free > high:
            # max budget binds: last prefix within it, then a fraction of the next edge
            k = int(np.searchsorted(self.cum_cost, high, side="right")) - 1
            k = min(k, free - 1)
            room = high - self.cum_cost[k]
            fraction = min(1.0, max(0.0, room / self.edge_dc[k]))
            lam = float(self.edge_eff[k])
            value = self.prefix_profit(k) + fraction * float(self.edge_dp[k])
            return _Split(k, fraction, lam, high, value)
        if spend_free < low:
            # min budget binds: keep taking the least unprofitable edges until it is met
            k = int(np.searchsorted(self.cum_cost, low, side="left")) - 1
            k = max(k, free)
            if k >= self.n_edges:  # cannot happen after the spend-range check
                k = self.n_edges - 1
            room = low - self.cum_cost[k]
            fraction = min(1.0, max(0.0, room / self.edge_dc[k]))
            lam = min(0.0, float(self.edge_eff[k]))
            value = self.prefix_profit(k) + fraction * float(self.edge_dp[k])
            return _Split(k, fraction, lam, low, value)
        return _Split(free, 0.0, 0.0, 0.0, self.prefix_profit(free))

    def dual_bound(self, lam: float, budget: float) -> float:
        """Lagrangian bound ``sum_i max_j (p_ij - lam c_ij)^+ + lam * budget``.

        Valid for any ``lam >= 0`` with ``budget = max_budget`` and any
        ``lam <= 0`` with ``budget = min_budget``, whatever float error went
        into finding ``lam``; tight at the LP multiplier.
        """
        if lam == 0.0:
            return float(np.maximum(self.net.max(axis=1), 0.0).sum())
        lagrangian = self.net - lam * self.costs
        return float(np.maximum(lagrangian.max(axis=1), 0.0).sum()) + lam * budget

    # ------------------------------------------------------------ incumbent
    def _positions(self, taken_ranks: np.ndarray | slice) -> np.ndarray:
        return np.bincount(self.edge_customer[taken_ranks], minlength=self.n).astype(np.int64)

    def _next_edges(self, positions: np.ndarray, start: int) -> np.ndarray:
        """Ranks >= start of each customer's next edge from ``positions``."""
        ranks = np.arange(start, self.n_edges)
        is_next = self.edge_position[start:] == positions[self.edge_customer[start:]] + 1
        return ranks[is_next]

    def _last_edges(self, positions: np.ndarray, stop: int) -> np.ndarray:
        """Ranks < stop of each customer's last taken edge, latest rank first."""
        is_last = self.edge_position[:stop] == positions[self.edge_customer[:stop]]
        return np.flatnonzero(is_last)[::-1]

    def _fill(
        self, positions: np.ndarray, spend: float, start: int, low: float, high: float
    ) -> tuple[np.ndarray, float]:
        """Greedy fill with other customers' next edges, in efficiency order."""
        ranks = self._next_edges(positions, start)
        if not ranks.size:
            return positions, spend
        profitable = self.edge_dp[ranks] > 0
        take = np.zeros(ranks.shape[0], dtype=bool)
        n_pos = int(np.count_nonzero(profitable))  # profitable edges come first
        take[:n_pos], spend = walk(self.edge_dc[ranks[:n_pos]], spend, high, None)
        if spend < low:
            take[n_pos:], spend = walk(self.edge_dc[ranks[n_pos:]], spend, high, low)
        positions = positions.copy()
        positions[self.edge_customer[ranks[take]]] += 1
        return positions, spend

    def _give_back(
        self, positions: np.ndarray, spend: float, stop: int, low: float, high: float,
        protect: int,
    ) -> tuple[np.ndarray, float]:  # fmt: skip
        """Undo the least efficient taken edges until spend is back under ``high``."""
        ranks = self._last_edges(positions, stop)
        ranks = ranks[self.edge_customer[ranks] != protect]
        excess = spend - high
        removable = spend - low
        give, removed = walk(self.edge_dc[ranks], 0.0, removable, excess)
        positions = positions.copy()
        positions[self.edge_customer[ranks[give]]] -= 1
        return positions, spend - removed

    def _trim_unprofitable(
        self, positions: np.ndarray, spend: float, stop: int, low: float
    ) -> tuple[np.ndarray, float]:
        """Undo loss-making taken edges while spend stays above ``low``."""
        ranks = self._last_edges(positions, stop)
        ranks = ranks[self.edge_dp[ranks] < 0]
        ranks = ranks[np.argsort(self.edge_eff[ranks], kind="stable")]  # worst first
        give, removed = walk(self.edge_dc[ranks], 0.0, spend - low, None)
        positions = positions.copy()
        positions[self.edge_customer[ranks[give]]] -= 1
        return positions, spend - removed

    def choice(self, positions: np.ndarray) -> np.ndarray:
        """Option per customer (-1 = none) at the given hull positions."""
        return self.hull_option[np.arange(self.n), positions].astype(np.int64)

    def evaluate(self, option: np.ndarray) -> tuple[float, float]:
        """(profit, spend) of a per-customer option vector."""
        treated = np.flatnonzero(option >= 0)
        arm = option[treated]
        return float(self.net[treated, arm].sum()), float(self.costs[treated, arm].sum())

    def incumbents(self, split: _Split, low: float, high: float) -> list[np.ndarray]:
        """Candidate integral allocations (option vectors) near the LP optimum."""
        k = split.prefix
        candidates = []
        if split.fraction == 0.0 and low <= self.cum_cost[k] <= high:
            candidates.append(self._positions(slice(0, k)))
        split_customer = int(self.edge_customer[k]) if k < self.n_edges else -1
        # (a) round down: prefix without the split edge, then fill with next edges.
        down = self._positions(slice(0, k))
        spend = float(self.cum_cost[k])
        down, spend = self._fill(down, spend, k + 1, low, high)
        if low <= spend <= high:
            if split.lam < 0:
                down, spend = self._trim_unprofitable(down, spend, self.n_edges, low)
            candidates.append(down)
        # (b) round up: take the split edge too, then give back the least efficient edges.
        if k < self.n_edges:
            up = self._positions(slice(0, k + 1))
            spend = float(self.cum_cost[k + 1])
            if spend > high:
                up, spend = self._give_back(up, spend, k, low, high, split_customer)
            if low <= spend <= high:
                up, spend = self._fill(up, spend, k + 1, low, high)
                if split.lam < 0:
                    up, spend = self._trim_unprofitable(up, spend, self.n_edges, low)
                candidates.append(up)
        return [self.choice(positions) for positions in candidates]

    # ---------------------------------------------------------------- solve
    def solve(
        self,
        low_budget: float,
        high_budget: float,
        *,
        time_limit: float | None = None,
        relative_gap: float = 0.0,
    ) -> SolveOutcome:
        """Proven optimum for the window ``[low_budget, high_budget]``."""
        tol_low = budget_tolerance(low_budget)
        tol_high = budget_tolerance(high_budget)
        # Work strictly inside the window (half the tolerance) so that float error in
        # running sums can never push a returned allocation outside it.
        low = low_budget - 0.5 * tol_low
        high = high_budget + 0.5 * tol_high
        split = self.split(low, high)
        if split.lam > 0:
            bound = self.dual_bound(split.lam, high_budget + tol_high)
        elif split.lam < 0:
            bound = self.dual_bound(split.lam, low_budget - tol_low)
        else:
            bound = self.dual_bound(0.0, 0.0)
        bound = min(bound, split.lp_value + 1e-12 * max(1.0, abs(split.lp_value)))
        tolerance = OPTIMALITY_RTOL * max(1.0, abs(bound))

        best, best_value = None, -math.inf
        for option in self.incumbents(split, low, high):
            value, spend = self.evaluate(option)
            if low_budget - tol_low <= spend <= high_budget + tol_high and value > best_value:
                best, best_value = option, value
        if best is not None and bound - best_value > tolerance:
            best, best_value = self._improve(best, best_value, split.lam, bound, low, high)
        details = {
            "lp_bound": split.lp_value,
            "dual_bound": bound,
            "multiplier": split.lam,
            "incumbent_objective": best_value,
            "tolerance": tolerance,
            "n_edges": self.n_edges,
        }
        if best is not None and bound - best_value <= max(
            tolerance, relative_gap * max(1.0, abs(bound))
        ):
            optimal = bound - best_value <= tolerance
            details.update(core_customers=0, core_options=0, fixed_customers=self.n)
            return SolveOutcome(
                best,
                "optimal" if optimal else "feasible",
                "optimal" if optimal else "gap_limit",
                bound,
                details,
            )
        return self._solve_core(
            split, bound, best, best_value, low_budget, high_budget,
            time_limit=time_limit, relative_gap=relative_gap, details=details,
        )  # fmt: skip

    def _improve(
        self,
        option: np.ndarray,
        value: float,
        lam: float,
        bound: float,
        low: float,
        high: float,
        rounds: int = 8,
        max_moves: int = 4000,
    ) -> tuple[np.ndarray, float]:
        """Local search: the best single move, or pair of moves, that improves the incumbent.

        Only moves to options of small reduced cost can improve it (the others
        cannot beat the incumbent by the Lagrangian argument), so the search is
        over a few thousand moves at most, pairs included, fully vectorised.
        """
        rows = np.arange(self.n)
        for _ in range(rounds):
            lagrangian = self.net - lam * self.costs
            best_lag = np.maximum(lagrangian.max(axis=1), 0.0)
            reduced = best_lag[:, None] - lagrangian
            del lagrangian
            theta = bound - value
            treated = option >= 0
            current_cost = np.where(treated, self.costs[rows, np.maximum(option, 0)], 0.0)
            current_profit = np.where(treated, self.net[rows, np.maximum(option, 0)], 0.0)
            spend = float(current_cost.sum())
            cand_i, cand_j = np.nonzero(reduced <= theta)
            other = cand_j != option[cand_i]
            cand_i, cand_j = cand_i[other], cand_j[other]
            null_i = np.flatnonzero((best_lag <= theta) & treated)
            move_i = np.concatenate([cand_i, null_i])
            move_j = np.concatenate([cand_j, np.full(null_i.shape[0], -1)])
            move_loss = np.concatenate([reduced[cand_i, cand_j], best_lag[null_i]])
            del reduced
            if not move_i.size:
                break
            if move_i.shape[0] > max_moves:
                keep = np.argsort(move_loss, kind="stable")[:max_moves]
                move_i, move_j = move_i[keep], move_j[keep]
            is_arm = move_j >= 0
            new_cost = np.zeros(move_i.shape[0])
            new_profit = np.zeros(move_i.shape[0])
            new_cost[is_arm] = self.costs[move_i[is_arm], move_j[is_arm]]
            new_profit[is_arm] = self.net[move_i[is_arm], move_j[is_arm]]
            d_cost = new_cost - current_cost[move_i]
            d_profit = new_profit - current_profit[move_i]
            lo, hi = low - spend, high - spend
            # single moves
            ok = (d_cost >= lo) & (d_cost <= hi) & (d_profit > 0)
            best_gain, best_pair = 0.0, None
            if ok.any():
                k = int(np.flatnonzero(ok)[np.argmax(d_profit[ok])])
                best_gain, best_pair = float(d_profit[k]), (k,)
            # pairs of moves of two different customers
            m = move_i.shape[0]
            for start in range(0, m, 512):
                block = slice(start, min(m, start + 512))
                pair_cost = d_cost[block, None] + d_cost[None, :]
                pair_gain = d_profit[block, None] + d_profit[None, :]
                valid = (pair_cost >= lo) & (pair_cost <= hi)
                valid &= move_i[block, None] != move_i[None, :]
                pair_gain = np.where(valid, pair_gain, -np.inf)
                flat = int(np.argmax(pair_gain))
                gain = float(pair_gain.flat[flat])
                if gain > best_gain:
                    a, b = divmod(flat, m)
                    best_gain, best_pair = gain, (start + a, b)
            if best_pair is None or best_gain <= 1e-15 * max(1.0, abs(value)):
                break
            candidate = option.copy()
            for k in best_pair:
                candidate[move_i[k]] = move_j[k]
            new_value, new_spend = self.evaluate(candidate)
            if not (low <= new_spend <= high) or new_value <= value:
                break
            option, value = candidate, new_value
        return option, value

    def _solve_core(
        self,
        split: _Split,
        bound: float,
        incumbent: np.ndarray | None,
        incumbent_value: float,
        low_budget: float,
        high_budget: float,
        *,
        time_limit: float | None,
        relative_gap: float,
        details: dict,
    ) -> SolveOutcome:
        tolerance = details["tolerance"]
        if incumbent is None:
            # Nothing to fix against: hand the whole problem to SCIP.
            return self._solve_with_scip(
                np.ones((self.n, self.k), dtype=bool), np.ones(self.n, dtype=bool),
                None, -math.inf, bound, low_budget, high_budget,
                time_limit=time_limit, relative_gap=relative_gap, details=details,
            )  # fmt: skip
        lagrangian = self.net - split.lam * self.costs  # (n, K)
        best_lag = np.maximum(lagrangian.max(axis=1), 0.0)
        reduced = best_lag[:, None] - lagrangian  # >= 0
        del lagrangian
        # Any allocation worth more than incumbent + tolerance/2 has total reduced
        # cost below theta (Lagrangian bound), so options above it are fixed out.
        theta = (bound - incumbent_value) - 0.5 * tolerance + 1e-12 * max(1.0, abs(bound))
        keep = reduced <= theta
        keep_null = best_lag <= theta
        core = (keep.sum(axis=1) + keep_null) >= 2

        option = self._lagrangian_choice(keep, keep_null, ~core)
        fixed_profit, fixed_spend = self.evaluate(option)
        core_rows = np.flatnonzero(core)
        details.update(
            core_customers=int(core_rows.shape[0]),
            core_options=int(keep[core_rows].sum() + keep_null[core_rows].sum()),
            fixed_customers=int(self.n - core_rows.shape[0]),
            search_threshold=theta,
        )
        low, high = self._residual_window(low_budget, high_budget, fixed_spend)

        owner_local, arm = np.nonzero(keep[core_rows])
        null_local = np.flatnonzero(keep_null[core_rows])
        owner = np.concatenate([owner_local, null_local])
        arms = np.concatenate([arm, np.full(null_local.shape[0], -1)])
        rows = core_rows[owner]
        is_arm = arms >= 0
        cost = np.zeros(owner.shape[0])
        profit = np.zeros(owner.shape[0])
        cost[is_arm] = self.costs[rows[is_arm], arms[is_arm]]
        profit[is_arm] = self.net[rows[is_arm], arms[is_arm]]
        del reduced

        grid = cost_grid(cost)
        result = None
        if grid is not None:
            units = np.round(cost / grid).astype(np.int64)
            width = float(units.max() - units.min()) * core_rows.shape[0] + 1.0
            if width * core_rows.shape[0] <= MAX_DP_CELLS:
                low_units = math.ceil(low / grid - 1e-9) if math.isfinite(low) else -math.inf
                high_units = math.floor(high / grid + 1e-9) if math.isfinite(high) else math.inf
                details["core_method"] = f"dp on a {grid:g} cost grid"
                result = _grid_dp(
                    units, profit, owner, core_rows.shape[0], low_units, high_units
                )
                if result is None:
                    # No allocation in the restricted space reaches the window: the
                    # incumbent is optimal (up to tolerance / 2).
                    proven = min(bound, incumbent_value + 0.5 * tolerance)
                    return SolveOutcome(incumbent, "optimal", "optimal", proven, details)
        if result is None:
            details["core_method"] = "scip"
            return self._solve_with_scip(
                keep, keep_null, incumbent, incumbent_value, bound, low_budget, high_budget,
                time_limit=time_limit, relative_gap=relative_gap, details=details,
            )  # fmt: skip
        found = None
        if result is not None:
            flat, core_value = result
            if core_value + fixed_profit > incumbent_value:
                found = option.copy()
                found[core_rows] = arms[flat]
        if found is not None:
            value, _ = self.evaluate(found)
            if value > incumbent_value:
                option_out, value_out = found, value
            else:
                option_out, value_out = incumbent, incumbent_value
        else:
            option_out, value_out = incumbent, incumbent_value
        # No allocation beats max(found, incumbent + tolerance/2): that is the bound.
        proven = min(bound, max(value_out, incumbent_value + 0.5 * tolerance))
        return SolveOutcome(option_out, "optimal", "optimal", proven, details)

    def _lagrangian_choice(
        self, keep: np.ndarray, keep_null: np.ndarray, rows_mask: np.ndarray
    ) -> np.ndarray:
        """Option vector: each masked customer's only surviving option, others -1."""
        option = np.full(self.n, -1, dtype=np.int64)
        rows = np.flatnonzero(rows_mask & ~keep_null)
        option[rows] = np.argmax(keep[rows], axis=1)
        return option

    def _residual_window(
        self, low_budget: float, high_budget: float, fixed_spend: float
    ) -> tuple[float, float]:
        """Spend window left for the core once fixed customers are paid for."""
        low, high = -math.inf, math.inf
        tol_low, tol_high = budget_tolerance(low_budget), budget_tolerance(high_budget)
        if low_budget - tol_low > self.base_cost:  # the minimum can bind at all
            low = low_budget - fixed_spend - 0.5 * tol_low
        if high_budget + tol_high < self.cum_cost[-1]:  # the maximum can bind at all
            high = high_budget - fixed_spend + 0.5 * tol_high
        return low, high

    def _solve_with_scip(
        self,
        keep: np.ndarray,
        keep_null: np.ndarray,
        incumbent: np.ndarray | None,
        incumbent_value: float,
        bound: float,
        low_budget: float,
        high_budget: float,
        *,
        time_limit: float | None,
        relative_gap: float,
        details: dict,
    ) -> SolveOutcome:
        """Core (or whole problem) through SCIP: the fallback of the dynamic programme."""
        from ._scip import solve_options

        tolerance = details["tolerance"]
        core = (keep.sum(axis=1) + keep_null) >= 2
        option = self._lagrangian_choice(keep, keep_null, ~core)
        fixed_profit, fixed_spend = self.evaluate(option)
        core_rows = np.flatnonzero(core)
        owner_local, arm = np.nonzero(keep[core_rows])
        owner = core_rows[owner_local]
        must_treat = ~keep_null[core_rows]
        low, high = self._residual_window(low_budget, high_budget, fixed_spend)
        details.setdefault("core_customers", int(core_rows.shape[0]))
        details.setdefault("core_options", int(owner.shape[0] + keep_null[core_rows].sum()))
        details.setdefault("fixed_customers", int(self.n - core_rows.shape[0]))
        details.setdefault("core_method", "scip")
        hint = None
        if incumbent is not None:
            hint = (incumbent[owner] == arm).astype(np.float64)
        from .exceptions import InfeasibleBudgetError

        try:
            solution = solve_options(
                self.net[owner, arm], self.costs[owner, arm], owner_local, core_rows.shape[0],
                low, high, time_limit=time_limit, relative_gap=relative_gap,
                offset=fixed_profit, must_choose=must_treat, hint=hint,
                absolute_gap=0.5 * tolerance,
            )  # fmt: skip
        except InfeasibleBudgetError:
            if incumbent is None:
                raise
            # The restricted problem only holds allocations better than the incumbent.
            proven = min(bound, incumbent_value + 0.5 * tolerance)
            return SolveOutcome(incumbent, "optimal", "optimal", proven, details)
        except SolverError:
            if incumbent is None:
                raise
            return SolveOutcome(incumbent, "feasible", "time_limit", bound, details)
        option[core_rows] = -1
        picked = solution.chosen >= 0
        option[core_rows[picked]] = arm[solution.chosen[picked]]
        value, _ = self.evaluate(option)
        details["core_time"] = solution.solve_time + solution.build_time
        if incumbent is not None and incumbent_value >= value:
            option, value = incumbent, incumbent_value
        scip_bound = solution.bound
        if incumbent is not None:
            scip_bound = max(scip_bound, incumbent_value + 0.5 * tolerance)
        final_bound = min(bound, scip_bound)
        if solution.status == "optimal":
            return SolveOutcome(option, "optimal", "optimal", max(value, final_bound), details)
        return SolveOutcome(option, "feasible", solution.termination, final_bound, details)


#: The core goes to the dynamic programme when its costs sit on a common grid
#: (0.1, 0.25, whole currency units, ...) and the programme stays at most this big
#: (customers x distinct spends); otherwise to SCIP.
MAX_DP_CELLS = 50_000_000


def cost_grid(cost: np.ndarray) -> float | None:
    """The coarsest power-of-ten grid (1, 0.1, ..., 1e-6) all costs lie on, if any."""
    for digits in range(7):
        units = cost * 10.0**digits
        if np.all(np.abs(units - np.round(units)) <= 1e-6 * np.maximum(1.0, np.abs(units))):
            return 10.0**-digits
    return None


def _grid_dp(
    units: np.ndarray,
    profit: np.ndarray,
    owner: np.ndarray,
    n_owners: int,
    low_units: float,
    high_units: float,
) -> tuple[np.ndarray, float] | None:
    """Exact multiple-choice knapsack on integer costs by dynamic programming.

    ``units`` are integer costs (grid units); null options are explicit flat
    options, so every customer picks exactly one. States are distinct spends,
    each keeping its most profitable partial allocation; spends that can no
    longer reach the window are dropped. Returns the flat option per customer
    and the best profit, or ``None`` if no allocation lands in the window.
    """
    order = np.argsort(owner, kind="stable")
    units, profit, owner = units[order], profit[order], owner[order]
    starts = np.searchsorted(owner, np.arange(n_owners + 1))
    least = np.minimum.reduceat(units, starts[:-1])
    most = np.maximum.reduceat(units, starts[:-1])
    least_rest = np.concatenate([np.cumsum(least[::-1])[::-1][1:], [0]])
    most_rest = np.concatenate([np.cumsum(most[::-1])[::-1][1:], [0]])

    spend = np.zeros(1, dtype=np.int64)
    gain = np.zeros(1)
    parents, picks = [], []
    for t in range(n_owners):
        lo_, hi_ = starts[t], starts[t + 1]
        m = hi_ - lo_
        new_spend = (spend[:, None] + units[None, lo_:hi_]).ravel()
        new_gain = (gain[:, None] + profit[None, lo_:hi_]).ravel()
        reachable = (new_spend + least_rest[t] <= high_units) & (
            new_spend + most_rest[t] >= low_units
        )
        alive = np.flatnonzero(reachable)
        if not alive.size:
            return None
        # one state per spend: the most profitable (ties: the earliest, i.e. lower options)
        rank = alive[np.lexsort((-new_gain[alive], new_spend[alive]))]
        first = np.ones(rank.shape[0], dtype=bool)
        first[1:] = new_spend[rank][1:] != new_spend[rank][:-1]
        chosen = rank[first]
        spend, gain = new_spend[chosen], new_gain[chosen]
        parents.append(chosen // m)
        picks.append(lo_ + chosen % m)

    feasible = (spend >= low_units) & (spend <= high_units)
    if not feasible.any():
        return None
    state = int(np.flatnonzero(feasible)[np.argmax(gain[feasible])])
    best = float(gain[state])
    flat = np.empty(n_owners, dtype=np.int64)
    for t in range(n_owners - 1, -1, -1):
        flat[t] = picks[t][state]
        state = int(parents[t][state])
    return order[flat], best


def solve_exact(
    problem: AllocationProblem, *, time_limit: float | None, relative_gap: float
) -> SolveOutcome:
    """Entry point used by :func:`upliftopt.allocate` for ``method="exact"``."""
    index = EdgeIndex(problem.net(), problem.costs)
    return index.solve(
        problem.min_budget, problem.max_budget, time_limit=time_limit, relative_gap=relative_gap
    )


def lp_bound(problem: AllocationProblem) -> float:
    """Upper bound on the objective (the Lagrangian / LP bound at lam*)."""
    index = EdgeIndex(problem.net(), problem.costs)
    low = problem.min_budget - 0.5 * budget_tolerance(problem.min_budget)
    high = problem.max_budget + 0.5 * budget_tolerance(problem.max_budget)
    split = index.split(low, high)
    if split.lam > 0:
        return index.dual_bound(split.lam, problem.max_budget + budget_tolerance(high))
    if split.lam < 0:
        return index.dual_bound(split.lam, problem.min_budget - budget_tolerance(low))
    return index.dual_bound(0.0, 0.0)
