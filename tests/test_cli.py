"""The ``upliftopt`` command line."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from upliftopt import __version__
from upliftopt.cli import main


def test_version():
    done = subprocess.run(
        [sys.executable, "-m", "upliftopt.cli", "--version"], capture_output=True, text=True
    )
    assert done.returncode == 0
    assert done.stdout.strip() == f"upliftopt {__version__}"


def test_help_lists_the_commands(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    for command in ("demo", "hillstrom", "allocate"):
        assert command in out


def test_allocate_from_csv(tmp_path, capsys):
    values = pd.DataFrame({"id": ["a", "b", "c"], "email": [3.0, 2.0, 0.5], "sms": [1.0, 2.5, 0.2]})
    path = tmp_path / "values.csv"
    values.to_csv(path, index=False)
    out = tmp_path / "chosen.csv"
    code = main(
        ["allocate", str(path), "--index-col", "id", "--costs", "1,1.5", "--max-budget", "2",
         "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    chosen = pd.read_csv(out, index_col=0)
    assert chosen.loc["a", "arm"] == "email" and chosen.loc["b", "arm"] == "email"
    assert pd.isna(chosen.loc["c", "arm"])  # budget spent: c stays untreated
    assert "exact: optimal" in capsys.readouterr().err


def test_allocate_reports_bad_input(tmp_path, capsys):
    path = tmp_path / "values.csv"
    pd.DataFrame({"email": [1.0, float("nan")]}).to_csv(path, index=False)
    assert main(["allocate", str(path), "--costs", "1"]) == 2
    assert "values[1, 0]" in capsys.readouterr().err


def test_allocate_reports_infeasible_budget(tmp_path, capsys):
    path = tmp_path / "values.csv"
    pd.DataFrame({"email": [1.0, 2.0]}).to_csv(path, index=False)
    assert main(["allocate", str(path), "--costs", "1", "--min-budget", "5"]) == 2
    assert "cannot be reached" in capsys.readouterr().err


def test_bad_costs_option(tmp_path):
    path = tmp_path / "values.csv"
    pd.DataFrame({"email": [1.0]}).to_csv(path, index=False)
    with pytest.raises(SystemExit, match="--costs"):
        main(["allocate", str(path), "--costs", "cheap"])
