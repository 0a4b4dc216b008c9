"""Shared test fixtures."""

from __future__ import annotations

import pytest


@pytest.fixture
def forbid_econml(monkeypatch):
    """Make any econml model construction fail loudly: checks run before it."""
    import econml.dml

    def boom(*args, **kwargs):
        raise AssertionError("an econml model was built before validation finished")

    for name in ("LinearDML", "SparseLinearDML", "CausalForestDML"):
        monkeypatch.setattr(econml.dml, name, boom)


@pytest.fixture
def arm_fit_rows(monkeypatch):
    """Record (rows, treated rows) of every per-arm fit, in fit order."""
    from upliftopt import cate as cate_module

    seen = {}
    real = cate_module._fit_one

    def spy(X, t, y, estimator, basis):
        seen[len(seen)] = (X.shape[0], int(t.sum()))
        return real(X, t, y, estimator, basis)

    monkeypatch.setattr(cate_module, "_fit_one", spy)
    return seen
