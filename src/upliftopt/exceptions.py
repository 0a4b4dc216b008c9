"""Exceptions raised by upliftopt.

Every error the library raises on purpose derives from :class:`UpliftOptError`,
so ``except upliftopt.UpliftOptError`` catches all of them. Bad arguments raise
a plain :class:`ValueError` (or :class:`TypeError`), as in scikit-learn.
"""

from __future__ import annotations

__all__ = [
    "InfeasibleBudgetError",
    "NotFittedError",  # noqa: F822 - provided lazily by __getattr__
    "SolverError",
    "SolverUnavailableError",
    "UpliftOptError",
]


def __getattr__(name: str):
    # scikit-learn's NotFittedError (what check_is_fitted raises), re-exported
    # lazily so that importing the allocation code does not import scikit-learn.
    if name == "NotFittedError":
        from sklearn.exceptions import NotFittedError

        return NotFittedError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class UpliftOptError(Exception):
    """Root of the errors raised by upliftopt itself."""


class InfeasibleBudgetError(UpliftOptError):
    """No allocation spends between ``min_budget`` and ``max_budget``.

    Raised before any solver runs when the window lies outside the range of
    spend that any allocation can reach, and after a solve when the solver
    proves that no combination of offers lands inside a narrow window.
    """


class SolverUnavailableError(UpliftOptError):
    """The requested solver backend is not available in this installation."""


class SolverError(UpliftOptError):
    """A solver stopped without a usable solution.

    Raised, for example, when the time limit is reached before any feasible
    allocation was found, or when the backend reports an abnormal status.
    Nothing is read from an unsolved model.
    """
