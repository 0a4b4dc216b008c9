"""The allocation as one integer program, solved by SCIP through OR-Tools.

The model is built from sparse arrays in one call (OR-Tools model_builder's
``fill_model_from_sparse_data``): no Python expression is ever summed, so build
time is linear in the number of options. The same routine solves the small
core left by the exact solver (``upliftopt._mckp``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from ._problem import AllocationProblem, SolveOutcome
from .exceptions import InfeasibleBudgetError, SolverError, SolverUnavailableError

#: SCIP's feasibility tolerance. SCIP checks rows relatively
#: (|activity - rhs| <= feastol * max(1, |rhs|)), which is the budget tolerance of
#: upliftopt (1e-9 relative), so the budget row is given to SCIP without slack.
#: Tighter values made SCIP's presolve misjudge equality-like windows in tests.
SCIP_FEASTOL = 1e-9

# One status table: backend status name -> (our status, what to do).
#   "optimal"    proven optimum
#   "incumbent"  stopped early (time or gap limit) with a feasible solution
#   "infeasible" the budget window cannot be met
#   "no_solution" stopped without any feasible solution
#   "unavailable" the backend is missing
#   "error"      anything else: abnormal, invalid model, unbounded, ...
STATUS_TABLE = {
    "OPTIMAL": "optimal",
    "FEASIBLE": "incumbent",
    "INFEASIBLE": "infeasible",
    "NOT_SOLVED": "no_solution",
    "SOLVER_TYPE_UNAVAILABLE": "unavailable",
    "ABNORMAL": "error",
    "UNBOUNDED": "error",
    "MODEL_INVALID": "error",
    "INVALID_SOLVER_PARAMETERS": "error",
    "INCOMPATIBLE_OPTIONS": "error",
    "CANCELLED_BY_USER": "error",
    "MODEL_IS_VALID": "error",
    "UNKNOWN_STATUS": "error",
}


@dataclass(frozen=True)
class MipSolution:
    """Decoded outcome of one SCIP run (objective and bound include ``offset``)."""

    chosen: np.ndarray  # option index chosen per customer, -1 for none
    status: str  # "optimal" or "feasible"
    termination: str
    objective: float
    bound: float
    n_variables: int
    build_time: float
    solve_time: float
    backend_status: str


def _import_model_builder():
    try:
        from ortools.linear_solver.python import model_builder_helper as mbh
    except ImportError as exc:  # pragma: no cover - ortools is a core dependency
        raise SolverUnavailableError(
            "OR-Tools is not importable; install it with `pip install ortools`"
        ) from exc
    return mbh


def _new_scip(mbh):
    """A SCIP solver handle, or a clear error if this OR-Tools has no SCIP."""
    solver = mbh.ModelSolverHelper("scip")
    if solver is None or not solver.solver_is_supported():
        raise SolverUnavailableError(
            "the SCIP backend is not available in the installed OR-Tools; reinstall the "
            "official wheel (`pip install --force-reinstall ortools`), or use "
            "method='exact' (SCIP only runs for its core) or method='greedy'"
        )
    return solver


def classify(backend_status: str) -> str:
    """Map an OR-Tools status name onto the table above (unknown names -> 'error')."""
    return STATUS_TABLE.get(backend_status, "error")


def solve_options(
    profit: np.ndarray,
    cost: np.ndarray,
    owner: np.ndarray,
    n_owners: int,
    low: float,
    high: float,
    *,
    time_limit: float | None,
    relative_gap: float,
    offset: float = 0.0,
    must_choose: np.ndarray | None = None,
    hint: np.ndarray | None = None,
    absolute_gap: float = 0.0,
    extra_rows: list[tuple[np.ndarray, float, float]] = (),
) -> MipSolution:
    """Maximise the profit of chosen options, at most one per owner, spend in [low, high].

    ``profit``, ``cost`` and ``owner`` describe one binary option each (owner =
    customer position in ``range(n_owners)``). ``low``/``high`` may be
    ``-inf``/``inf``. ``offset`` is added to objective and bound (fixed part).
    ``must_choose`` (bool per owner) turns "at most one" into "exactly one";
    ``hint`` (0/1 per option) is a feasible start handed to SCIP.
    ``extra_rows`` are side constraints ``low <= coefficients @ x <= high``.
    """
    import scipy.sparse as sp

    mbh = _import_model_builder()
    started = time.perf_counter()
    n_vars = profit.shape[0]
    counts = np.bincount(owner, minlength=n_owners)
    shared = np.flatnonzero(counts > 1)  # a row "at most one" only where it can bind
    row_of_owner = np.full(n_owners, -1, dtype=np.int64)
    row_of_owner[shared] = np.arange(shared.shape[0])
    in_row = row_of_owner[owner] >= 0
    n_rows = shared.shape[0]
    budget_rows = 0 if (math.isinf(low) and math.isinf(high)) else 1

    rows = [row_of_owner[owner][in_row]]
    cols = [np.flatnonzero(in_row)]
    data = [np.ones(int(in_row.sum()))]
    if budget_rows:
        # Costs on a decimal grid become exact integers in the budget row (SCIP's
        # presolve then reasons about it exactly); other costs are normalised.
        from ._mckp import cost_grid

        cost = np.asarray(cost, dtype=np.float64)
        scale = cost_grid(cost) or max(float(np.abs(cost).max(initial=0.0)), 1e-300)
        row_cost = np.round(cost / scale) if cost_grid(cost) else cost / scale
        low, high = low / scale, high / scale
        rows.append(np.full(n_vars, n_rows))
        cols.append(np.arange(n_vars))
        data.append(row_cost)
    for extra, (coefficients, _, _) in enumerate(extra_rows):
        used = np.flatnonzero(coefficients)
        rows.append(np.full(used.shape[0], n_rows + budget_rows + extra))
        cols.append(used)
        data.append(np.asarray(coefficients, dtype=np.float64)[used])
    n_extra = len(extra_rows)
    matrix = sp.csr_matrix(
        (np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_rows + budget_rows + n_extra, n_vars),
    )
    row_low = np.concatenate(
        [np.full(n_rows, -np.inf), [low] * budget_rows, [r[1] for r in extra_rows]]
    )
    row_high = np.concatenate([np.ones(n_rows), [high] * budget_rows, [r[2] for r in extra_rows]])
    var_low = np.zeros(n_vars)
    if must_choose is not None:
        row_low[:n_rows][must_choose[shared]] = 1.0
        var_low[must_choose[owner] & ~in_row] = 1.0  # a lone option that must be taken

    model = mbh.ModelBuilderHelper()
    model.fill_model_from_sparse_data(
        var_low, np.ones(n_vars), np.asarray(profit, dtype=np.float64),
        row_low, row_high, matrix,
    )  # fmt: skip
    for var in range(n_vars):
        model.set_var_integrality(var, True)
    model.set_maximize(True)
    if hint is not None:
        for var in range(n_vars):
            model.add_hint(var, float(hint[var]))
    build_time = time.perf_counter() - started

    solver = _new_scip(mbh)
    solver.set_solver_specific_parameters(
        f"limits/gap = {float(relative_gap)!r}\nlimits/absgap = {float(absolute_gap)!r}\n"
        f"numerics/feastol = {SCIP_FEASTOL!r}\n"
    )
    if time_limit is not None:
        solver.set_time_limit_in_seconds(float(time_limit))  # model_builder takes seconds
    solver.enable_output(False)
    solved_at = time.perf_counter()
    solver.solve(model)
    solve_time = time.perf_counter() - solved_at
    backend_status = solver.status().name
    outcome = classify(backend_status)

    if outcome == "infeasible":
        raise InfeasibleBudgetError(
            f"SCIP proved that no allocation spends between {low + 0:.10g} and {high:.10g} "
            "(the options' costs cannot add up to a spend inside that window)"
        )
    if outcome == "unavailable":
        _new_scip(mbh)  # raises the explanatory error
    if outcome == "no_solution" or (outcome == "incumbent" and not solver.has_solution()):
        hint = f" within the time limit of {time_limit} s" if time_limit is not None else ""
        raise SolverError(
            f"SCIP stopped ({backend_status}) without finding any feasible allocation{hint}; "
            "raise time_limit, or use method='exact'"
        )
    if outcome == "error":
        raise SolverError(f"SCIP failed with status {backend_status}: {solver.status_string()}")

    x = np.asarray(solver.variable_values()) > 0.5
    chosen = np.full(n_owners, -1, dtype=np.int64)
    picked = np.flatnonzero(x)
    if np.bincount(owner[picked], minlength=n_owners).max(initial=0) > 1:
        raise SolverError("SCIP returned more than one arm for a customer")
    chosen[owner[picked]] = picked
    objective = float(np.asarray(profit, dtype=np.float64)[picked].sum()) + offset
    if outcome == "optimal":
        status, termination = "optimal", "optimal"
        bound = max(objective, float(solver.best_objective_bound()) + offset)
    else:
        status = "feasible"
        hit_limit = time_limit is not None and solve_time >= 0.97 * time_limit
        termination = "time_limit" if hit_limit else "gap_limit"
        bound = float(solver.best_objective_bound()) + offset
    return MipSolution(
        chosen=chosen,
        status=status,
        termination=termination,
        objective=objective,
        bound=bound,
        n_variables=n_vars,
        build_time=build_time,
        solve_time=solve_time,
        backend_status=backend_status,
    )


def solve_scip(
    problem: AllocationProblem, *, time_limit: float | None, relative_gap: float
) -> SolveOutcome:
    """The full model: one binary per (customer, arm) option that can matter."""
    net = problem.net()
    keep = np.ones(net.shape, dtype=bool)
    if not problem.min_binding():
        # Without a binding minimum, an option with net <= 0 and cost >= 0 never
        # helps: giving that customer nothing instead keeps value and frees budget.
        keep &= ~((net <= 0) & (problem.costs >= 0))
    owner, arm = np.nonzero(keep)
    low = problem.min_budget if problem.min_binding() else -math.inf
    high = problem.max_budget if problem.max_binding() else math.inf
    if owner.shape[0] == 0:
        assignment = np.full(problem.n, -1, dtype=np.int64)
        return SolveOutcome(
            assignment, "optimal", "optimal", 0.0, {"n_variables": 0, "backend_status": "EMPTY"}
        )
    extra_rows = []
    if math.isfinite(problem.max_treated):
        extra_rows.append((np.ones(owner.shape[0]), -math.inf, problem.max_treated))
    if problem.max_per_arm is not None:
        for j, cap in enumerate(problem.max_per_arm):
            if math.isfinite(cap):
                extra_rows.append(((arm == j).astype(np.float64), -math.inf, float(cap)))
    solution = solve_options(
        net[owner, arm], problem.costs[owner, arm], owner, problem.n, low, high,
        time_limit=time_limit, relative_gap=relative_gap, extra_rows=extra_rows,
    )  # fmt: skip
    assignment = np.where(solution.chosen >= 0, arm[np.maximum(solution.chosen, 0)], -1)
    return SolveOutcome(
        assignment=assignment,
        status=solution.status,
        termination=solution.termination,
        bound=solution.bound,
        details={
            "n_variables": solution.n_variables,
            "build_time": solution.build_time,
            "solve_time": solution.solve_time,
            "backend_status": solution.backend_status,
            "feastol": SCIP_FEASTOL,
        },
    )
