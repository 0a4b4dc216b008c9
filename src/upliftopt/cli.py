"""The ``upliftopt`` command line.

Sub-commands:

``upliftopt demo``
    The socks-discount demo on synthetic data (see ``upliftopt.demos.socks``).
``upliftopt hillstrom``
    Held-out evaluation on the real Hillstrom e-mail experiment
    (see ``upliftopt.demos.hillstrom``).
``upliftopt allocate VALUES.csv``
    Allocate from a CSV of estimated values (one column per arm), write the
    chosen arm per customer.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence


def _allocate_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("values", help="CSV: one row per customer, one column per arm")
    parser.add_argument(
        "--index-col", default=None, help="column of the CSV holding customer ids (optional)"
    )
    parser.add_argument(
        "--costs",
        required=True,
        help="one number for all arms, comma-separated numbers (one per arm, in column "
        "order), or a CSV of per-customer costs with the same columns",
    )
    parser.add_argument("--min-budget", type=float, default=None)
    parser.add_argument("--max-budget", type=float, default=math.inf)
    parser.add_argument("--method", default="auto", choices=["auto", "exact", "scip", "greedy"])
    parser.add_argument("--time-limit", type=float, default=None, help="seconds")
    parser.add_argument("--out", default="-", help="output CSV (default: standard output)")
    return parser


class _UsageError(Exception):
    """A bad argument of ``upliftopt allocate``: reported in one line, exit 2."""


def _read_csv(path: str, index_col: str | None, what: str):
    import pandas as pd

    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise _UsageError(f"{what}: no such file: {path}") from None
    except (OSError, ValueError) as exc:
        raise _UsageError(f"{what}: cannot read {path}: {exc}") from None
    if index_col is not None:
        if index_col not in frame.columns:
            raise _UsageError(
                f"{what}: --index-col {index_col!r} is not a column of {path} "
                f"(columns: {', '.join(map(str, frame.columns))})"
            )
        frame = frame.set_index(index_col)
    text = [c for c in frame.columns if not _is_numeric(frame[c])]
    if text:
        hint = "" if index_col else "; if it holds customer ids, pass --index-col"
        raise _UsageError(f"{what}: column {text[0]!r} of {path} is not numeric{hint}")
    return frame


def _is_numeric(column) -> bool:
    import pandas as pd

    return pd.api.types.is_numeric_dtype(column)


def _read_costs(spec: str, values, index_col: str | None):
    if spec.lower().endswith(".csv"):
        costs = _read_csv(spec, index_col, "--costs")
        missing = [c for c in values.columns if c not in costs.columns]
        if missing:
            raise _UsageError(f"--costs: {spec} has no column for arm(s) {missing}")
        return costs[list(values.columns)]
    try:
        numbers = [float(p) for p in spec.split(",") if p.strip()]
    except ValueError:
        raise _UsageError(
            f"--costs: expected a number, comma-separated numbers or a .csv file; got {spec!r}"
        ) from None
    if not numbers:
        raise _UsageError("--costs is empty")
    return numbers[0] if len(numbers) == 1 else numbers


def _run_allocate(args: argparse.Namespace) -> int:
    from .allocation import allocate
    from .exceptions import UpliftOptError

    try:
        values = _read_csv(args.values, args.index_col, "values")
        costs = _read_costs(args.costs, values, args.index_col)
        result = allocate(
            values,
            costs,
            min_budget=args.min_budget,
            max_budget=args.max_budget,
            method=args.method,
            time_limit=args.time_limit,
        )
        frame = result.to_frame()[["arm"]]
        frame.index.name = frame.index.name or "customer"
        if args.out == "-":
            frame.to_csv(sys.stdout)
            sys.stdout.flush()
        else:
            frame.to_csv(args.out)
    except BrokenPipeError:  # e.g. piped into `head`
        sys.stderr.close()
        return 0
    except (_UsageError, ValueError, UpliftOptError) as exc:
        print(f"upliftopt allocate: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"upliftopt allocate: error: cannot write {args.out}: {exc}", file=sys.stderr)
        return 2
    print(result.summary(), file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``upliftopt`` command line; returns the exit status."""
    from . import __version__

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="upliftopt",
        description="Causal uplift optimisation: who gets which offer under a budget.",
    )
    parser.add_argument("--version", action="version", version=f"upliftopt {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("demo", help="socks-discount demo on synthetic data", add_help=False)
    commands.add_parser(
        "hillstrom", help="real data: the Hillstrom e-mail experiment", add_help=False
    )
    _allocate_parser(commands.add_parser("allocate", help="allocate from a CSV of values"))

    if argv and argv[0] == "demo":
        from .demos.socks import main as demo_main

        return demo_main(argv[1:])
    if argv and argv[0] == "hillstrom":
        from .demos.hillstrom import main as hillstrom_main

        return hillstrom_main(argv[1:])
    args = parser.parse_args(argv)
    if args.command == "allocate":
        return _run_allocate(args)
    parser.print_help()
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
