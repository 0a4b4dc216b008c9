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
