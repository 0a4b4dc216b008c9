"""The ``upliftopt`` command line."""

from __future__ import annotations

import re
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


def test_bad_costs_option(tmp_path, capsys):
    path = tmp_path / "values.csv"
    pd.DataFrame({"email": [1.0]}).to_csv(path, index=False)
    assert main(["allocate", str(path), "--costs", "cheap"]) == 2
    assert "upliftopt allocate: error: --costs: expected a number" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--index-col", "nope"], "--index-col 'nope' is not a column"),
        ([], "column 'id' of .* is not numeric; if it holds customer ids, pass --index-col"),
        (["--index-col", "id", "--out", "/nonexistent/dir/x.csv"], "cannot write"),
    ],
)
def test_allocate_usage_errors_are_one_line(tmp_path, capsys, extra, message):
    path = tmp_path / "values.csv"
    pd.DataFrame({"id": ["a", "b"], "email": [1.0, 2.0]}).to_csv(path, index=False)
    assert main(["allocate", str(path), "--costs", "1", *extra]) == 2
    err = capsys.readouterr().err
    assert re.search(message, err) and "Traceback" not in err


def test_allocate_missing_file(tmp_path, capsys):
    assert main(["allocate", str(tmp_path / "none.csv"), "--costs", "1"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_allocate_per_customer_costs_csv_is_matched_by_id(tmp_path):
    values = pd.DataFrame({"id": ["x", "y", "z"], "a": [1.0, 2.0, 0.5], "b": [0.5, 3.5, 0.1]})
    costs = pd.DataFrame({"id": ["y", "x", "z"], "a": [1.0, 1.0, 1.0], "b": [100.0, 2.0, 2.0]})
    values.to_csv(tmp_path / "v.csv", index=False)
    costs.to_csv(tmp_path / "c.csv", index=False)
    out = tmp_path / "o.csv"
    assert main(["allocate", str(tmp_path / "v.csv"), "--index-col", "id", "--costs",
                 str(tmp_path / "c.csv"), "--max-budget", "3", "--out", str(out)]) == 0  # fmt: skip
    chosen = pd.read_csv(out, index_col="id")["arm"]
    assert chosen["y"] == "a"  # arm b costs 100 for y: never chosen under a budget of 3
