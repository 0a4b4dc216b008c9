"""Stage timing and progress lines for the command-line jobs.

A stage announces itself on stderr only once it has run for more than
``delay`` seconds (a background timer), then reports its duration, so quick
stages stay silent and slow ones show that something is happening.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO


class StageTimer:
    """Times named stages; ``timings`` keeps (name, seconds) in order.

    Parameters
    ----------
    stream : file-like or None
        Where progress lines go (stderr by default); ``None`` silences them.
    delay : float
        Seconds a stage must run before it is announced.
    """

    def __init__(self, stream: TextIO | None = sys.stderr, delay: float = 1.0) -> None:
        self.stream = stream
        self.delay = delay
        self.timings: list[tuple[str, float]] = []

    def _write(self, text: str) -> None:
        if self.stream is not None:
            self.stream.write(text)
            self.stream.flush()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the enclosed block as stage ``name``."""
        announced = threading.Event()

        def announce() -> None:
            announced.set()
            self._write(f"  {name} ...\n")

        timer = threading.Timer(self.delay, announce)
        timer.daemon = True
        started = time.perf_counter()
        timer.start()
        try:
            yield
        finally:
            timer.cancel()
            elapsed = time.perf_counter() - started
            self.timings.append((name, elapsed))
            if announced.is_set():
                self._write(f"  {name} done in {elapsed:.1f} s\n")

    def total(self) -> float:
        """Sum of all stage durations."""
        return sum(seconds for _, seconds in self.timings)


def format_table(rows: list[dict], columns: list[tuple[str, str, str]]) -> str:
    """Plain-text table. ``columns`` holds (key, header, format spec) triples."""
    cells = [[header for _, header, _ in columns]]
    for row in rows:
        line = []
        for key, _, spec in columns:
            value = row.get(key)
            if value is None or (isinstance(value, float) and value != value):
                line.append("-")
            elif spec:
                line.append(format(value, spec))
            else:
                line.append(str(value))
        cells.append(line)
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    out = []
    for n, r in enumerate(cells):
        padded = [
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(r, widths, strict=True))
        ]
        out.append("  ".join(padded))
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)
