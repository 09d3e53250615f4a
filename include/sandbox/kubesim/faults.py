"""Faults on demand: errors (500, or 429 with Retry-After), dropped connections, latency, short watches."""

from __future__ import annotations

import random
import re
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Faults:
    error_rate: float = 0.0  # share of API requests answered with error_status
    error_status: int = 500  # 500 or 429 (429 carries Retry-After)
    retry_after: int = 1
    drop_rate: float = 0.0  # share of API requests whose connection is closed without an answer
    latency_ms: float = 0.0  # added to every API request
    watch_close_after: float | None = None  # seconds after which watch streams are closed early
    path: str | None = None  # regex: only requests whose path matches are affected (None: all)
    seed: int | None = None
    _random: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        if self.seed is not None:
            self._random.seed(self.seed)

    def applies(self, path: str) -> bool:
        return self.path is None or re.search(self.path, path) is not None

    def roll(self, rate: float) -> bool:
        return rate > 0 and self._random.random() < rate

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Faults:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and not k.startswith("_")}
        unknown = set(data) - set(known)
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        return cls(**known)
