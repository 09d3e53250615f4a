"""Progress lines for long steps: rows, bytes and rate, at most every ``every`` seconds."""

from __future__ import annotations

import logging
import time


def human_bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GiB"


class Progress:
    """Counts rows and bytes of one step and logs them with the rate every ``every`` seconds."""

    def __init__(self, log: logging.Logger, step: str, *, total_rows: int | None = None, every: float = 5.0):
        self.log = log
        self.step = step
        self.total_rows = total_rows
        self.every = every
        self.rows = 0
        self.bytes = 0
        self.started = time.monotonic()
        self._last = self.started

    def add(self, *, rows: int = 0, nbytes: int = 0) -> None:
        self.rows += rows
        self.bytes += nbytes
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            self.log.info("%s: %s", self.step, self.line(now))

    def line(self, now: float | None = None) -> str:
        elapsed = max((now or time.monotonic()) - self.started, 1e-9)
        done = f"{self.rows:,} rows"
        if self.total_rows:
            done += f" of {self.total_rows:,} ({100 * self.rows / self.total_rows:.0f}%)"
        return (
            f"{done}, {human_bytes(self.bytes)}, {self.rows / elapsed:,.0f} rows/s, "
            f"{human_bytes(self.bytes / elapsed)}/s, {elapsed:.1f} s"
        )

    def done(self) -> None:
        self.log.info("%s done: %s", self.step, self.line())
