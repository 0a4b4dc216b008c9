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
    parser.add_argument("--min-budget", type=float, default=0.0)
    parser.add_argument("--max-budget", type=float, default=math.inf)
    parser.add_argument("--method", default="auto", choices=["auto", "exact", "scip", "greedy"])
    parser.add_argument("--time-limit", type=float, default=None, help="seconds")
    parser.add_argument("--out", default="-", help="output CSV (default: standard output)")
    return parser


def _read_costs(spec: str, columns):
    import pandas as pd

    if spec.lower().endswith(".csv"):
        return pd.read_csv(spec)[list(columns)].to_numpy()
    parts = [p for p in spec.split(",") if p.strip()]
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        raise SystemExit(f"--costs: not a number list or a .csv file: {spec!r}") from None
    return numbers[0] if len(numbers) == 1 else numbers


def _run_allocate(args: argparse.Namespace) -> int:
    import pandas as pd

    from .allocation import allocate
    from .exceptions import UpliftOptError

    values = pd.read_csv(args.values, index_col=args.index_col)
    try:
        result = allocate(
            values,
            _read_costs(args.costs, values.columns),
            min_budget=args.min_budget,
            max_budget=args.max_budget,
            method=args.method,
            time_limit=args.time_limit,
        )
    except (ValueError, UpliftOptError) as exc:
        print(f"upliftopt allocate: error: {exc}", file=sys.stderr)
        return 2
    frame = result.to_frame()[["arm"]]
    frame.to_csv(sys.stdout if args.out == "-" else args.out)
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
