"""Allocation: exact, SCIP and greedy against brute force, plus the allocation cases."""

from __future__ import annotations

import math
import sys

import numpy as np
import pandas as pd
import pytest
from brute_force import brute_force, close
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from upliftopt import Allocation, Status, allocate, frontier
from upliftopt.exceptions import InfeasibleBudgetError, SolverError, SolverUnavailableError

SETTINGS = settings(
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def assert_feasible(result: Allocation, values, costs) -> None:
    values = np.asarray(values, dtype=float)
    n, k = values.shape
    costs = np.broadcast_to(np.asarray(costs, dtype=float), (n, k))
    treated = np.flatnonzero(result.assignment >= 0)
    arm = result.assignment[treated]
    spend = costs[treated, arm].sum()
    assert spend <= result.max_budget + 1e-9 * max(1.0, result.max_budget) or math.isinf(
        result.max_budget
    )
    assert spend >= result.min_budget - 1e-9 * max(1.0, result.min_budget)
    assert result.cost == pytest.approx(spend, abs=1e-12)
    net = values[treated, arm] - costs[treated, arm]
    assert result.objective == pytest.approx(net.sum(), abs=1e-9)


@st.composite
def instances(draw, max_n=7, max_k=3):
    n = draw(st.integers(1, max_n))
    k = draw(st.integers(1, max_k))
    decimals = draw(st.sampled_from([0, 1, 6]))
    low_value = draw(st.sampled_from([-2.0, -0.5, 0.0]))
    values = np.round(
        np.array(draw(st.lists(st.floats(low_value, 3.0), min_size=n * k, max_size=n * k))).reshape(
            n, k
        ),
        decimals,
    )
    low_cost = draw(st.sampled_from([0.0, 0.0, -0.5]))
    cost_kind = draw(st.sampled_from(["per_arm", "per_customer", "scalar", "zero"]))
    if cost_kind == "per_arm":
        costs = np.round(
            np.array(draw(st.lists(st.floats(low_cost, 2.0), min_size=k, max_size=k))), 1
        )
    elif cost_kind == "per_customer":
        costs = np.round(
            np.array(
                draw(st.lists(st.floats(low_cost, 2.0), min_size=n * k, max_size=n * k))
            ).reshape(n, k),
            draw(st.sampled_from([1, 6])),
        )
    elif cost_kind == "scalar":
        costs = float(np.round(draw(st.floats(0.0, 2.0)), 1))
    else:
        costs = 0.0
    min_budget = draw(st.sampled_from([0.0, 0.0, round(draw(st.floats(0.0, 3.0)), 1)]))
    window = draw(st.sampled_from(["equal", "range", "inf"]))
    if window == "equal":
        max_budget = min_budget
    elif window == "range":
        max_budget = min_budget + round(draw(st.floats(0.0, 4.0)), 1)
    else:
        max_budget = math.inf
    return values, costs, min_budget, max_budget


def solve_or_inf(values, costs, lo, hi, method):
    try:
        result = allocate(values, costs, min_budget=lo, max_budget=hi, method=method)
    except InfeasibleBudgetError:
        return None, -math.inf
    return result, result.objective


@SETTINGS
@given(instances())
def test_exact_equals_brute_force(case):
    values, costs, lo, hi = case
    best = brute_force(values, costs, lo, hi)
    result, objective = solve_or_inf(values, costs, lo, hi, "exact")
    assert close(objective, best), (objective, best)
    if result is not None:
        assert result.status == Status.OPTIMAL
        assert result.gap <= 1e-9
        assert result.bound >= result.objective
        assert_feasible(result, values, costs)


@settings(SETTINGS, max_examples=60)
@given(instances(max_n=6))
def test_scip_equals_brute_force(case):
    values, costs, lo, hi = case
    best = brute_force(values, costs, lo, hi)
    result, objective = solve_or_inf(values, costs, lo, hi, "scip")
    assert close(objective, best), (objective, best)
    if result is not None:
        assert result.status == Status.OPTIMAL
        assert_feasible(result, values, costs)


@SETTINGS
@given(instances())
def test_greedy_is_feasible_and_never_better(case):
    values, costs, lo, hi = case
    best = brute_force(values, costs, lo, hi)
    result, objective = solve_or_inf(values, costs, lo, hi, "greedy")
    if result is None:
        return  # greedy may fail to reach a minimum the exact solver can reach
    assert objective <= best + 1e-9 * max(1.0, abs(best))
    assert result.status == Status.FEASIBLE and result.termination == "heuristic"
    assert result.bound >= best - 1e-9 * max(1.0, abs(best))  # the LP bound is a bound
    assert_feasible(result, values, costs)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(50))
def test_exact_matches_full_scip_model(seed):
    rng = np.random.default_rng(seed)
    n, k = 2000, 4
    values = rng.normal(0.3, 0.4, (n, k))
    kind = seed % 3
    if kind == 0:
        costs = np.array([0.1, 0.2, 0.3, 0.4])
    elif kind == 1:
        costs = rng.uniform(0.05, 0.6, (n, k))
    else:
        costs = np.round(rng.uniform(0.0, 0.5, (n, k)), 2)
    net = values - np.broadcast_to(costs, (n, k))
    free = float(
        np.where(
            net.max(1) > 0, np.broadcast_to(costs, (n, k))[np.arange(n), net.argmax(1)], 0
        ).sum()
    )
    high = round(free * rng.uniform(0.1, 0.9), 2)
    low = round(high * rng.uniform(0.5, 1.0), 2) if seed % 4 == 0 else 0.0
    exact = allocate(values, costs, min_budget=low, max_budget=high, method="exact")
    scip = allocate(values, costs, min_budget=low, max_budget=high, method="scip")
    assert exact.status == scip.status == Status.OPTIMAL
    assert close(exact.objective, scip.objective), (exact.objective, scip.objective)
    assert exact.objective >= scip.objective - 1e-9 * abs(scip.objective)
    assert_feasible(exact, values, costs)


# ---------------------------------------------------------------- degenerate
@pytest.mark.parametrize("method", ["exact", "scip", "greedy"])
def test_all_ties_pick_lowest_rows_and_columns(method):
    values = np.ones((10, 3))
    result = allocate(values, 0.5, max_budget=2.0, method=method)
    assert result.n_treated == 4
    assert result.objective == pytest.approx(2.0)
    if method != "scip":  # SCIP returns an optimum without the tie rule
        assert result.assignment.tolist() == [0, 0, 0, 0] + [-1] * 6


def test_equal_costs_budget_between_multiples():
    rng = np.random.default_rng(3)
    values = rng.uniform(1, 2, (200, 2))
    result = allocate(values, 1.0, max_budget=50.5)
    assert result.n_treated == 50
    best = np.sort((values - 1.0).max(axis=1))[::-1][:50].sum()
    assert result.objective == pytest.approx(best, rel=1e-12)
    assert result.status == Status.OPTIMAL


@pytest.mark.parametrize("method", ["exact", "scip"])
def test_single_customer(method):
    result = allocate([[2.0, 5.0, 1.0]], [1.0, 3.0, 0.5], max_budget=2.0, method=method)
    assert result.assignment.tolist() == [0]
    assert result.objective == pytest.approx(1.0)


def test_single_customer_greedy_skips_an_unaffordable_best_arm():
    # The naive rule only ever offers a customer their best-net arm (arm 1, cost 3):
    # it does not fit, so the customer is skipped although arm 0 would fit.
    result = allocate([[2.0, 5.0, 1.0]], [1.0, 3.0, 0.5], max_budget=2.0, method="greedy")
    assert result.assignment.tolist() == [-1]
    assert result.objective == 0.0
    # LP bound: arm 0 (cost 1, net 1), then half of the move to arm 1 (cost +2, net +1)
    assert result.bound == pytest.approx(1.5)


def test_one_arm_as_1d_values():
    result = allocate(np.array([3.0, 1.0, 2.0]), 1.0, max_budget=2.0)
    assert result.assignment.tolist() == [0, -1, 0]
    assert result.arms == (0,)
    assert result.objective == pytest.approx(3.0)


def test_twenty_arms_against_scip():
    rng = np.random.default_rng(7)
    values = rng.normal(0.5, 0.5, (300, 20))
    costs = rng.uniform(0.1, 1.0, (300, 20))
    exact = allocate(values, costs, max_budget=40.0)
    scip = allocate(values, costs, max_budget=40.0, method="scip")
    assert close(exact.objective, scip.objective)


def test_min_budget_pushes_spend_with_negative_edges():
    # only unprofitable options: the minimum forces the least harmful ones
    values = np.array([[0.5, 0.1], [0.2, 0.0], [0.9, 0.0]])
    costs = np.array([[1.0, 2.0], [1.0, 1.0], [1.0, 1.0]])
    result = allocate(values, costs, min_budget=2.0, max_budget=2.0)
    assert result.objective == pytest.approx(brute_force(values, costs, 2.0, 2.0))
    assert result.cost == pytest.approx(2.0)
    assert sorted(np.flatnonzero(result.assignment >= 0).tolist()) == [0, 2]


def test_exact_reports_its_certificate():
    rng = np.random.default_rng(11)
    values = rng.normal(0.3, 0.3, (30_000, 3))
    result = allocate(values, [0.1, 0.2, 0.3], min_budget=3000, max_budget=3000)
    details = result.details
    assert result.status == Status.OPTIMAL and result.method == "exact"
    assert details["lp_bound"] >= result.objective - 1e-9 * result.objective
    assert details["multiplier"] > 0
    assert result.bound - result.objective <= details["tolerance"]
    assert {"core_customers", "core_method", "incumbent_objective"} <= set(details)
    assert result.cost == pytest.approx(3000.0, abs=3e-6)


def test_infinite_frontier_budget_gives_free_optimum():
    values = np.array([[3.0, 1.0], [-1.0, 0.5], [0.0, 0.0]])
    result = allocate(values, 0.25)
    assert result.assignment.tolist() == [0, 1, -1]
    assert result.objective == pytest.approx(2.75 + 0.25)


# ------------------------------------------------------------------ C08
def test_c08_tiny_time_limit_returns_checked_incumbent_or_clear_error():
    rng = np.random.default_rng(0)
    values = rng.uniform(0, 1, (20_000, 3))
    costs = [0.1, 0.2, 0.3]
    try:
        result = allocate(
            values, costs, min_budget=1000, max_budget=1000, method="scip", time_limit=0.001
        )
    except SolverError as exc:
        assert "time limit" in str(exc)
    else:
        assert_feasible(result, values, costs)
        if result.status != Status.OPTIMAL:
            assert result.termination == "time_limit"
            assert result.gap >= 0


class _FakeSolver:
    """Stands in for OR-Tools' ModelSolverHelper with a forced status."""

    last_time_limit = None

    def __init__(self, status, values, supported=True, bound=None):
        self._status, self._values, self._supported, self._bound = status, values, supported, bound

    def __call__(self, name):
        assert name == "scip"
        return self

    def solver_is_supported(self):
        return self._supported

    def set_solver_specific_parameters(self, text):
        assert "limits/gap = 0.0" in text

    def set_time_limit_in_seconds(self, seconds):
        _FakeSolver.last_time_limit = seconds

    def enable_output(self, flag):
        pass

    def solve(self, model):
        self.n_vars = model.num_variables()

    def status(self):
        return self._status

    def status_string(self):
        return "forced"

    def has_solution(self):
        return self._values is not None

    def variable_values(self):
        return np.asarray(self._values, dtype=float)

    def best_objective_bound(self):
        return self._bound


@pytest.fixture
def forced(monkeypatch):
    from ortools.linear_solver.python import model_builder_helper as real

    from upliftopt import _scip

    def force(name, values=None, supported=True, bound=10.0):
        fake = _FakeSolver(getattr(real.SolveStatus, name), values, supported, bound)

        class Module:
            ModelBuilderHelper = real.ModelBuilderHelper
            ModelSolverHelper = fake

        monkeypatch.setattr(_scip, "_import_model_builder", lambda: Module)

    return force


VALUES = np.array([[3.0, 1.0], [2.0, 2.5]])


def test_forced_optimal(forced):
    forced("OPTIMAL", values=[1, 0, 0], bound=2.0)
    result = allocate(VALUES, 1.0, max_budget=1.0, method="scip", time_limit=7)
    assert result.status == Status.OPTIMAL and result.assignment.tolist() == [0, -1]
    assert _FakeSolver.last_time_limit == 7.0  # seconds reach model_builder as seconds


def test_forced_feasible_keeps_incumbent_with_gap(forced):
    # variables after pruning (net <= 0 dropped): (0, arm 0), (1, arm 0), (1, arm 1)
    forced("FEASIBLE", values=[0, 0, 1], bound=2.5)
    result = allocate(VALUES, 1.0, max_budget=1.0, method="scip", time_limit=1)
    assert result.status == Status.FEASIBLE
    assert result.objective == pytest.approx(1.5)
    assert result.gap == pytest.approx((2.5 - 1.5) / 2.5)


def test_forced_not_solved_raises(forced):
    forced("NOT_SOLVED")
    with pytest.raises(SolverError, match="without finding any feasible allocation"):
        allocate(VALUES, 1.0, max_budget=1.0, method="scip", time_limit=0.001)


def test_forced_infeasible_raises_budget_error(forced):
    forced("INFEASIBLE")
    with pytest.raises(InfeasibleBudgetError):
        allocate(VALUES, 1.0, max_budget=1.0, method="scip")


@pytest.mark.parametrize("status", ["ABNORMAL", "MODEL_INVALID", "UNBOUNDED", "UNKNOWN_STATUS"])
def test_forced_abnormal_raises(forced, status):
    forced(status)
    with pytest.raises(SolverError, match=status):
        allocate(VALUES, 1.0, max_budget=1.0, method="scip")


def test_forced_overspending_solution_is_refused(forced):
    forced("OPTIMAL", values=[1, 0, 1], bound=3.5)  # spends 2 > 1
    with pytest.raises(SolverError, match="max_budget"):
        allocate(VALUES, 1.0, max_budget=1.0, method="scip")


def test_forced_two_arms_for_one_customer_is_refused(forced):
    forced("OPTIMAL", values=[0, 1, 1], bound=3.0)
    with pytest.raises(SolverError, match="more than one arm"):
        allocate(VALUES, 1.0, max_budget=2.0, method="scip")


# ------------------------------------------------------------------ C09
def test_c09_pruning_without_min_budget():
    values = [[1, 5], [0, 0]]
    costs = [[2, 1], [1, 1]]
    result = allocate(values, costs, max_budget=10, method="scip")
    assert result.assignment.tolist() == [1, -1]
    assert result.objective == 4
    assert result.details["n_variables"] == 1


def test_c09_no_pruning_with_min_budget():
    values = [[1, 5], [0, 0]]
    costs = [[2, 1], [1, 1]]
    result = allocate(values, costs, min_budget=2, max_budget=10, method="scip")
    assert result.details["n_variables"] == 4
    assert result.objective == pytest.approx(brute_force(values, costs, 2, 10))


def test_c09_model_size_is_linear():
    rng = np.random.default_rng(1)
    sizes = []
    for n in (1000, 2000):
        values = rng.normal(0.2, 0.3, (n, 3))
        result = allocate(values, [0.1, 0.2, 0.3], max_budget=0.01 * n, method="scip")
        sizes.append(result.details["n_variables"])
        assert result.details["n_variables"] == int((values - [0.1, 0.2, 0.3] > 0).sum())
    assert sizes[1] <= 2.5 * sizes[0]


# ------------------------------------------------------------------ C10
@pytest.mark.parametrize("method", ["exact", "scip", "greedy"])
def test_c10_min_above_max(method):
    with pytest.raises(ValueError, match=r"min_budget \(2.0\) is greater than max_budget \(1.0\)"):
        allocate([[3, 1], [2, 2]], 1, min_budget=2, max_budget=1, method=method)


@pytest.mark.parametrize("method", ["exact", "scip", "greedy"])
def test_c10_unreachable_min_raises_before_solving(method, monkeypatch):
    from upliftopt import _scip

    monkeypatch.setattr(_scip, "_import_model_builder", lambda: pytest.fail("solver was built"))
    with pytest.raises(InfeasibleBudgetError, match=r"spends at most 2\.0"):
        allocate([[5], [5]], [[1], [1]], min_budget=3, max_budget=10, method=method)


@pytest.mark.parametrize("method", ["exact", "scip", "greedy"])
def test_c10_exact_spend_feasible(method):
    result = allocate([[5], [5]], [[1], [1]], min_budget=2, max_budget=2, method=method)
    assert result.assignment.tolist() == [0, 0]
    assert result.objective == 8


@pytest.mark.parametrize("field", ["min_budget", "max_budget"])
def test_c10_negative_budget(field):
    with pytest.raises(ValueError, match=f"{field} must be >= 0"):
        allocate([[1.0]], 1.0, **{field: -1.0})


@pytest.mark.parametrize("method", ["exact", "scip"])
def test_c10_window_between_reachable_spends_is_infeasible(method):
    with pytest.raises(InfeasibleBudgetError):
        allocate(np.ones((3, 1)), 1.0, min_budget=1.5, max_budget=1.5, method=method)


# ------------------------------------------------------------------ C11
@pytest.mark.parametrize("cap", [math.inf, sys.float_info.max, 1e300])
@pytest.mark.parametrize("method", ["exact", "scip", "greedy"])
def test_c11_unbounded_budget(cap, method):
    result = allocate([[3, 1], [2, 1]], 1, max_budget=cap, method=method)
    assert result.assignment.tolist() == [0, 0]
    assert result.objective == 3 and result.cost == 2
    if method != "greedy":
        assert result.status == Status.OPTIMAL


# ------------------------------------------------------------------ C12
@pytest.mark.parametrize("method", ["exact", "scip", "greedy"])
def test_c12_zero_costs(method):
    with np.errstate(all="raise"):  # no division by zero anywhere
        result = allocate([[3, 0], [1, 2], [0, 0]], 0, max_budget=0, method=method)
    assert result.objective == 5
    # documented rule: a customer whose best net is exactly 0 stays untreated
    assert result.assignment.tolist() == [0, 1, -1]


# ------------------------------------------------------------------ C13
def test_c13_scip_missing(forced):
    forced("OPTIMAL", supported=False)
    with pytest.raises(SolverUnavailableError, match="SCIP backend is not available"):
        allocate(VALUES, 1.0, max_budget=1.0, method="scip")


def test_c13_exact_does_not_need_scip_when_no_core(forced):
    forced("OPTIMAL", supported=False)
    result = allocate(VALUES, 1.0, max_budget=1.0, method="exact")
    assert result.objective == 2.0


# ------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("values", "costs", "message"),
    [
        ([[1, np.nan], [2, 3]], 0.0, r"values\[0, 1\] \(customer 0, arm 1\) is NaN"),
        ([[1, 2], [2, np.inf]], 0.0, r"values\[1, 1\] .* is inf"),
        ([[1, 2], [2, 3]], [[0, 0], [-np.inf, 0]], r"costs\[1, 0\] .* is -inf"),
        ([[1, 2], [2, 3]], [1.0, 2.0, 3.0], "costs has 3 entries but there are 2 arms"),
        ([[1, 2], [2, 3]], np.ones((3, 2)), r"costs has shape \(3, 2\)"),
        (np.zeros((0, 2)), 1.0, "values is empty"),
        (np.zeros((3, 0)), 1.0, "no arms"),
        ([["a", "b"]], 1.0, "values must be numeric"),
    ],
)
def test_bad_input_is_named(values, costs, message):
    with pytest.raises(ValueError, match=message):
        allocate(values, costs, max_budget=1.0)


def test_cost_mapping_by_arm_label_and_unknown_label():
    values = pd.DataFrame({"email": [1.0, 2.0], "sms": [0.5, 3.0]}, index=["ann", "bob"])
    result = allocate(values, {"sms": 1.0, "email": 0.5}, max_budget=1.5)
    frame = result.to_frame()
    assert list(frame.index) == ["ann", "bob"]
    assert frame["arm"].tolist() == ["email", "sms"]
    with pytest.raises(ValueError, match="unknown arm"):
        allocate(values, {"email": 1.0, "sms": 1.0, "push": 1.0})
    with pytest.raises(ValueError, match="no cost for arm"):
        allocate(values, {"email": 1.0})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "simplex"}, "method must be one of"),
        ({"time_limit": 0}, "time_limit must be > 0"),
        ({"time_limit": "soon"}, "time_limit must be a number"),
        ({"relative_gap": 1.5}, "relative_gap must be in"),
        ({"max_budget": float("nan")}, "max_budget is NaN"),
        ({"min_budget": math.inf}, "min_budget must be finite"),
    ],
)
def test_bad_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        allocate([[1.0]], 0.5, **kwargs)


def test_inputs_are_not_mutated_and_result_is_read_only():
    rng = np.random.default_rng(5)
    values = rng.normal(size=(50, 3))
    costs = rng.uniform(0, 1, (50, 3))
    before = values.copy(), costs.copy()
    for method in ("exact", "scip", "greedy"):
        result = allocate(values, costs, min_budget=1.0, max_budget=5.0, method=method)
        with pytest.raises(ValueError):
            result.assignment[0] = 2
    np.testing.assert_array_equal(values, before[0])
    np.testing.assert_array_equal(costs, before[1])


def test_same_input_same_allocation():
    rng = np.random.default_rng(9)
    values = rng.normal(0.3, 0.3, (5000, 3))
    first = allocate(values, [0.1, 0.2, 0.3], max_budget=300)
    second = allocate(values.copy(), [0.1, 0.2, 0.3], max_budget=300)
    np.testing.assert_array_equal(first.assignment, second.assignment)


def test_allocation_helpers():
    values = pd.DataFrame({"A": [3.0, 0.0, 1.0], "B": [1.0, 4.0, 0.0]})
    result = allocate(values, 1.0, max_budget=2.0)
    assert result.arm_counts().to_dict() == {"A": 1, "B": 1}
    assert result.labels().tolist() == ["A", "B", None]
    assert result.n_treated == 2 and result.n_customers == 3
    assert "exact: optimal" in repr(result)


# ----------------------------------------------------------------- frontier
def test_frontier_matches_allocate_at_each_budget():
    rng = np.random.default_rng(2)
    values = rng.normal(0.3, 0.4, (400, 3))
    costs = rng.uniform(0.05, 0.5, (400, 3))
    truth = values + rng.normal(0, 0.1, values.shape)
    table = frontier(values, costs, n_budgets=6, true_values=truth, random_state=0)
    assert set(table.columns) == {
        "budget", "lp_bound", "exact", "exact_spend", "greedy", "random",
        "exact_true", "greedy_true", "random_true",
    }  # fmt: skip
    for row in table.itertuples():
        best = allocate(values, costs, max_budget=row.budget).objective
        assert row.exact == pytest.approx(best, rel=1e-9, abs=1e-9)
        assert row.greedy <= row.exact + 1e-9
        assert row.exact <= row.lp_bound + 1e-9
        assert row.exact_spend <= row.budget + 1e-9 * max(1, row.budget)
    assert np.all(np.diff(table["exact"]) >= -1e-9)
    again = frontier(values, costs, n_budgets=6, true_values=truth, random_state=0)
    pd.testing.assert_frame_equal(table, again)


def test_frontier_validates_budgets():
    with pytest.raises(ValueError, match="budgets must be finite and >= 0"):
        frontier([[1.0]], 0.5, budgets=[-1.0])


# ------------------------------------------------------- exact solver internals
def test_core_scip_fallback_matches_brute_force(monkeypatch):
    from upliftopt import _mckp

    # weakest heuristics and no room for the programme: the core goes to SCIP
    monkeypatch.setattr(_mckp, "MAX_CORE_STATES", 0)
    monkeypatch.setattr(_mckp, "BEAM_WIDTH", 1)
    methods = []
    for seed in range(40):
        rng = np.random.default_rng(seed)
        values = rng.uniform(-0.5, 2.0, (7, 3))
        costs = rng.uniform(0.0, 1.0, (7, 3))
        low = float(rng.choice([0.0, 1.0]))
        high = low + float(rng.uniform(0.2, 2.0))
        best = brute_force(values, costs, low, high)
        try:
            result = allocate(values, costs, min_budget=low, max_budget=high)
        except InfeasibleBudgetError:
            assert best == -math.inf
            continue
        assert close(result.objective, best), seed
        methods.append(result.details["core_method"])
    assert methods.count("scip") >= 5  # the fallback really ran


def test_exact_time_limit_in_core_keeps_incumbent(monkeypatch):
    from upliftopt import _mckp, _scip

    monkeypatch.setattr(_mckp, "MAX_CORE_STATES", 0)
    monkeypatch.setattr(_mckp, "BEAM_WIDTH", 1)

    def out_of_time(*args, **kwargs):
        raise SolverError("time limit")

    monkeypatch.setattr(_scip, "solve_options", out_of_time)
    rng = np.random.default_rng(4)
    values = rng.uniform(0, 1, (400, 3))
    costs = rng.uniform(0.1, 0.5, (400, 3))
    result = allocate(values, costs, max_budget=20.0, time_limit=1.0)
    if result.details["core_method"] == "none":
        pytest.skip("the heuristics closed the gap; nothing left for the core")
    assert result.status == Status.FEASIBLE and result.termination == "time_limit"
    assert result.bound >= result.objective
    assert_feasible(result, values, costs)


# --------------------------------------------------------- side constraints
@SETTINGS
@given(instances(max_n=5), st.integers(0, 4), st.lists(st.integers(0, 3), min_size=3, max_size=3))
def test_side_constraints_equal_brute_force(case, total, per_arm):
    import itertools

    values, costs, lo, hi = case
    values = np.asarray(values, dtype=float)
    n, k = values.shape
    caps = per_arm[:k]
    cost = np.broadcast_to(np.asarray(costs, dtype=float), (n, k))
    best = -math.inf
    for choice in itertools.product(range(-1, k), repeat=n):
        choice = np.array(choice)
        rows = np.flatnonzero(choice >= 0)
        counts = np.bincount(choice[rows], minlength=k)
        spend = cost[rows, choice[rows]].sum()
        if rows.size > total or (counts > caps).any():
            continue
        if spend < lo - 1e-9 * max(1, lo) or spend > hi + 1e-9 * max(1, hi):
            continue
        best = max(best, float((values - cost)[rows, choice[rows]].sum()))
    try:
        result = allocate(
            values, costs, min_budget=lo, max_budget=hi, max_treated=total, max_per_arm=caps
        )
    except InfeasibleBudgetError:
        assert best == -math.inf
        return
    assert result.method == "scip"
    assert close(result.objective, best)
    assert result.n_treated <= total
    assert (result.arm_counts().to_numpy() <= caps).all()


def test_side_constraints_by_label_and_method_rules():
    values = pd.DataFrame({"mens": [3.0, 2.0, 1.0], "womens": [2.5, 2.4, 0.1]})
    result = allocate(values, 0.0, max_treated=2, max_per_arm={"mens": 1})
    assert result.n_treated == 2
    assert result.arm_counts().to_dict() == {"mens": 1, "womens": 1}
    assert result.objective == pytest.approx(3.0 + 2.4)
    with pytest.raises(ValueError, match="side constraints need the general integer model"):
        allocate(values, 0.0, max_treated=2, method="exact")
    with pytest.raises(ValueError, match="unknown arm"):
        allocate(values, 0.0, max_per_arm={"kids": 1})
    with pytest.raises(ValueError, match="max_treated must be a whole number"):
        allocate(values, 0.0, max_treated=1.5)


# ---------------------------------------------------- rows, signs, magnitudes
def test_cost_frame_rows_are_matched_by_index():
    values = pd.DataFrame({"a": [1.0, 2.0, 0.5], "b": [0.5, 3.5, 0.1]}, index=list("xyz"))
    costs = pd.DataFrame({"a": [1.0, 1.0, 1.0], "b": [2.0, 100.0, 2.0]}, index=list("xyz"))
    in_order = allocate(values, costs, max_budget=3)
    shuffled = allocate(values, costs.loc[["y", "x", "z"]], max_budget=3)
    np.testing.assert_array_equal(in_order.assignment, shuffled.assignment)
    assert shuffled.cost <= 3 + 1e-9
    with pytest.raises(ValueError, match="row index does not match"):
        allocate(values, costs.set_axis(list("xyw")), max_budget=3)


def test_frontier_true_values_matched_by_index():
    values = pd.DataFrame({"a": [1.0, 2.0], "b": [0.5, 3.5]}, index=["x", "y"])
    truth = values.loc[["y", "x"]]
    table = frontier(values, 0.5, budgets=[0.5], true_values=truth)
    assert table["exact_true"].iloc[0] == pytest.approx(table["exact"].iloc[0])


@pytest.mark.parametrize("method", ["exact", "scip", "greedy"])
def test_negative_cost_arm_without_minimum(method):
    # an arm that earns money by itself: spend goes negative, which no minimum forbids
    result = allocate(np.array([[1.0], [0.2]]), [[-0.5], [1.0]], method=method)
    assert result.assignment.tolist() == [0, -1]
    assert result.cost == -0.5 and result.objective == 1.5
    assert result.min_budget == -math.inf


def test_explicit_zero_minimum_still_binds_negative_spend():
    result = allocate(np.array([[1.0], [2.0]]), [[-0.5], [1.0]], min_budget=0.0)
    assert result.cost >= 0 and result.objective == pytest.approx(brute_force(
        [[1.0], [2.0]], [[-0.5], [1.0]], 0.0))  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"values": np.full((3, 1), 1e308), "costs": 1.0}, r"values\[0, 0\].*beyond"),
        ({"values": np.ones((3, 1)), "costs": 1e200}, r"costs\[0, 0\].*beyond"),
        ({"values": np.ones((3, 1)), "costs": 1.0, "min_budget": 1e308}, "min_budget must be"),
        ({"values": np.ones((3, 1)), "costs": None}, "costs is required"),
    ],
)
def test_overflow_and_missing_costs_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        allocate(**kwargs)
