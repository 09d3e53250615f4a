"""Controller time: real time times a speed factor, plus whatever a test advances it by."""

from __future__ import annotations

import datetime as dt
import time


class Clock:
    def __init__(self, speed: float = 1.0) -> None:
        self.speed = speed
        self._wall = dt.datetime.now(dt.UTC).replace(microsecond=0)
        self._start = time.monotonic()
        self._offset = 0.0

    def seconds(self) -> float:
        """Simulated seconds since the server started."""
        return (time.monotonic() - self._start) * self.speed + self._offset

    def advance(self, seconds: float) -> None:
        self._offset += seconds

    def now(self) -> dt.datetime:
        return self._wall + dt.timedelta(seconds=self.seconds())

    def iso(self) -> str:
        return self.now().replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
