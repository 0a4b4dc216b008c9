"""upliftopt: causal uplift optimisation.

Estimate what each treatment does for each customer, then decide who gets which
offer under a budget, with a proof of how good the decision is.

The public names below are imported on first use, so ``import upliftopt`` stays
fast and heavy dependencies (econml, OR-Tools, matplotlib) load only when needed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> submodule that defines it
_EXPORTS = {
    "Allocation": "allocation",
    "Status": "allocation",
    "allocate": "allocation",
    "frontier": "allocation",
    "UpliftData": "datasets",
    "HillstromData": "datasets",
    "make_uplift_data": "datasets",
    "load_hillstrom": "datasets",
    "PerTreatmentDML": "cate",
    "select_cate_model": "cate",
    "true_value": "evaluate",
    "oracle_allocation": "evaluate",
    "regret": "evaluate",
    "policy_value": "evaluate",
    "compare_policies": "evaluate",
    "qini_curve": "evaluate",
    "uplift_curve": "evaluate",
    "UpliftOptError": "exceptions",
    "InfeasibleBudgetError": "exceptions",
    "NotFittedError": "exceptions",
    "SolverError": "exceptions",
    "SolverUnavailableError": "exceptions",
}

__all__ = [
    "Allocation",
    "HillstromData",
    "InfeasibleBudgetError",
    "NotFittedError",
    "PerTreatmentDML",
    "SolverError",
    "SolverUnavailableError",
    "Status",
    "UpliftData",
    "UpliftOptError",
    "__version__",
    "allocate",
    "compare_policies",
    "frontier",
    "load_hillstrom",
    "make_uplift_data",
    "oracle_allocation",
    "plot",
    "policy_value",
    "qini_curve",
    "regret",
    "select_cate_model",
    "true_value",
    "uplift_curve",
]


def __getattr__(name: str) -> Any:
    if name == "plot":
        return importlib.import_module(".plot", __name__)
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'upliftopt' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from . import plot
    from .allocation import Allocation, Status, allocate, frontier
    from .cate import PerTreatmentDML, select_cate_model
    from .datasets import HillstromData, UpliftData, load_hillstrom, make_uplift_data
    from .evaluate import (
        compare_policies,
        oracle_allocation,
        policy_value,
        qini_curve,
        regret,
        true_value,
        uplift_curve,
    )
    from .exceptions import (
        InfeasibleBudgetError,
        NotFittedError,
        SolverError,
        SolverUnavailableError,
        UpliftOptError,
    )
