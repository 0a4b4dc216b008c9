"""Brute-force reference for small allocation problems (every assignment tried)."""

from __future__ import annotations

import itertools
import math

import numpy as np

RTOL = 1e-9


def brute_force(values, costs, min_budget=0.0, max_budget=math.inf):
    """Best objective over all (K+1)^n assignments, or -inf if none is feasible.

    Uses the library's documented budget tolerance, 1e-9 * max(1, |budget|).
    """
    values = np.asarray(values, dtype=float)
    n, k = values.shape
    costs = np.broadcast_to(np.asarray(costs, dtype=float), (n, k))
    net = values - costs
    # option 0 = untreated, option j = arm j-1
    net_opt = np.concatenate([np.zeros((n, 1)), net], axis=1)
    cost_opt = np.concatenate([np.zeros((n, 1)), costs], axis=1)
    grid = np.array(list(itertools.product(range(k + 1), repeat=n)))  # (m, n)
    rows = np.arange(n)[None, :]
    spend = cost_opt[rows, grid].sum(axis=1)
    gain = net_opt[rows, grid].sum(axis=1)
    ok = spend >= min_budget - RTOL * max(1.0, min_budget)
    if math.isfinite(max_budget):
        ok &= spend <= max_budget + RTOL * max(1.0, max_budget)
    if not ok.any():
        return -math.inf
    return float(gain[ok].max())


def close(a, b):
    """Equal within the solvers' stated relative tolerance."""
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))
